"""Ring buffer throughput vs a buffer that ``np.roll``s on every write (mne-lsl's approach).

Workload (both buffers, same capacity, same process, one after the other): write
16 channels x 2 kHz in 10-sample chunks while a reader polls the newest 200 ms every
5 ms of data. Reported: how many times faster ours runs the same workload, and each
as a multiple of real time.
"""

from __future__ import annotations

import time

import numpy as np

from myostream.stream.ring import RingBuffer
from myostream_reports.bench import Measurement

RATE, CHANNELS, CHUNK = 2000, 16, 10
CAPACITY = 10 * RATE  # 10 s, a typical display/processing buffer


class RollBuffer:
    """The baseline: shift the whole buffer left with np.roll, then write at the end."""

    def __init__(self, capacity: int, n_channels: int) -> None:
        self.data = np.zeros((capacity, n_channels), np.float32)
        self.ts = np.zeros(capacity, np.float64)

    def write(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        n = len(data)
        self.data = np.roll(self.data, -n, axis=0)
        self.ts = np.roll(self.ts, -n)
        self.data[-n:] = data
        self.ts[-n:] = timestamps

    def latest(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        # like mne-lsl's get_data: the newest samples and their timestamps
        return self.data[-n:].copy(), self.ts[-n:].copy()


def _workload(buf, seconds: float) -> float:
    rng = np.random.default_rng(0)
    chunk = rng.standard_normal((CHUNK, CHANNELS)).astype(np.float32)
    ts = np.arange(CHUNK, dtype=np.float64)
    n_writes = int(seconds * RATE / CHUNK)
    poll_every = int(0.005 * RATE / CHUNK)
    t0 = time.perf_counter()
    for i in range(n_writes):
        buf.write(chunk, ts)
        if i % poll_every == 0:
            buf.latest(int(0.2 * RATE))
    return time.perf_counter() - t0


def run(quick: bool = False) -> list[Measurement]:
    seconds = 20.0 if quick else 120.0
    ours = _workload(RingBuffer(CAPACITY, CHANNELS), seconds)
    base = _workload(RollBuffer(CAPACITY, CHANNELS), seconds)
    speedup = base / ours
    return [
        Measurement(
            name="ring buffer throughput vs np.roll buffer (16 ch, 2 kHz, 10-sample writes, 200 ms polls)",
            value=speedup,
            unit="x faster",
            baseline="np.roll buffer, x real time",
            baseline_value=seconds / base,
            target=">= 10x",
            met=speedup >= 10,
            details=f"{seconds:g} s of data, capacity {CAPACITY} samples; ours {seconds / ours:,.0f}x real time, "
            f"np.roll {seconds / base:,.0f}x real time.",
        )
    ]
