"""LSL loopback latency: push in one thread, pull in another, same process, same clock.

Workload: an :class:`~myostream.stream.lsl.LSLOutlet` pushes 16 channels in 10-sample
chunks every 5 ms (2 kHz), each stamped with ``local_clock()`` at the push; a reader
thread pulls with :class:`~myostream.stream.lsl.LSLSource` (clock sync, NaN check, gap
count, one Chunk per read) and notes ``local_clock()`` when each chunk arrives. Latency
= arrival time - stamp of the chunk's newest sample. The baseline runs the same workload
right after with a bare pylsl inlet doing the same wait-then-drain pulls, so the
difference is what myostream's layer costs.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import numpy as np

from myostream.records import Chunk, StreamInfo
from myostream.stream.lsl import LSLOutlet, LSLSource
from myostream.stream.lslconfig import pylsl_module
from myostream_reports.bench import Measurement

RATE, CHANNELS, CHUNK = 2000.0, 16, 10


def _bare_reader(name: str):
    """A pylsl inlet pulled like LSLSource pulls, minus everything LSLSource adds."""
    pylsl = pylsl_module()
    inlet = pylsl.StreamInlet(pylsl.resolve_bypred(f"name='{name}'", 1, 5.0)[0])
    inlet.info(5.0)
    inlet.open_stream(5.0)

    def read() -> np.ndarray:
        _, ts = inlet.pull_chunk(timeout=0.05, max_samples=1)
        if ts:
            _, more = inlet.pull_chunk(timeout=0.0, max_samples=1023)
            ts = [*ts, *more]
        return np.asarray(ts)

    return read, inlet.close_stream


def _lsl_source_reader(name: str):
    src = LSLSource(name=name, timeout=5.0)
    src.open()
    return (lambda: src.read(timeout=0.05).timestamps), src.close


def _run(make_reader, seconds: float) -> tuple[np.ndarray, int, int]:
    """Latencies (s) of every chunk's newest sample, samples pushed, samples received."""
    pylsl = pylsl_module()
    name = f"myostream-bench-{uuid.uuid4().hex[:8]}"
    info = StreamInfo(name, RATE, tuple(f"EMG{i + 1}" for i in range(CHANNELS)), "uV", source_id=name)
    outlet = LSLOutlet(info)
    read, close = make_reader(name)
    outlet.wait_for_consumers(5.0)
    latencies: list[float] = []
    received = 0
    done = threading.Event()

    def reader() -> None:
        nonlocal received
        while not done.is_set():
            ts = read()
            if len(ts):
                latencies.append(pylsl.local_clock() - ts[-1])
                received += len(ts)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    data = np.random.default_rng(0).standard_normal((CHUNK, CHANNELS)).astype(np.float32)
    offsets = (np.arange(CHUNK) - (CHUNK - 1)) / RATE
    period = CHUNK / RATE
    n_chunks = int(seconds / period)
    start = time.perf_counter()
    for k in range(n_chunks):
        delay = start + k * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        outlet.push(Chunk(data, pylsl.local_clock() + offsets))
    time.sleep(0.2)  # let the last chunks arrive
    done.set()
    thread.join(2.0)
    close()
    outlet.close()
    return np.asarray(latencies), n_chunks * CHUNK, received


def run(quick: bool = False) -> list[Measurement]:
    seconds = 3.0 if quick else 20.0
    ours, pushed, got = _run(_lsl_source_reader, seconds)
    bare, _, bare_got = _run(_bare_reader, seconds)
    p50, p99 = (float(np.percentile(ours, q) * 1e3) for q in (50, 99))
    b50, b99 = (float(np.percentile(bare, q) * 1e3) for q in (50, 99))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    workload = (
        f"{seconds:g} s of 16 ch at 2 kHz pushed as 10-sample chunks every 5 ms, one process, reader thread; "
        f"load average {load:.1f} on {os.cpu_count()} cores at the end"
    )
    return [
        Measurement(
            name="LSL loopback latency p99, push -> LSLSource.read",
            value=p99,
            unit="ms",
            baseline="bare pylsl inlet p99",
            baseline_value=b99,
            target="< 5 ms",
            met=p99 < 5.0,
            details=f"{workload}; {len(ours)} chunks read, max {ours.max() * 1e3:.2f} ms (bare pylsl max {bare.max() * 1e3:.2f} ms).",
        ),
        Measurement(
            name="LSL loopback latency p50, push -> LSLSource.read",
            value=p50,
            unit="ms",
            baseline="bare pylsl inlet p50",
            baseline_value=b50,
            target="(context for p99)",
        ),
        Measurement(
            name="LSL loopback samples delivered",
            value=100.0 * got / pushed,
            unit="%",
            baseline="bare pylsl inlet",
            baseline_value=100.0 * bare_got / pushed,
            target="100 %",
            met=got == pushed,
            details=f"{got} of {pushed} samples pushed reached LSLSource.",
        ),
    ]
