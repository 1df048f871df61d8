"""Dataset loading and windowing, and replay pacing.

- Loading + windowing all 14 DB1 subjects of ``../shared/data/ninapro-db1`` (200 ms
  windows every 10 ms), against plain ``scipy.io.loadmat`` of the same files (the floor
  any reader pays); gathering window samples against a per-window Python loop.
- Unthrottled replay of a 16-channel 2 kHz recording as a multiple of real time, bare
  and pushed into a real LSL outlet.
- Paced replay (real time, 20 ms blocks): how late each block reaches the reader after
  its last sample is due (p99), interleaved with a bare sleep-until-deadline loop (the
  baseline) and a busy-wait loop (the floor of this machine) on the same schedule; and the
  end-of-replay error of a long replay at 10x (drift).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io

from myostream.data.ninapro import read_ninapro_folder
from myostream.data.windows import extract_windows
from myostream.records import Recording, opened
from myostream.stream.lslconfig import pylsl_module
from myostream.stream.pacing import DEFAULT_SPIN_S
from myostream.stream.replay import ReplaySource
from myostream_reports.bench import Measurement

DB1 = (
    Path(os.environ.get("MYOSTREAM_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    / "ninapro-db1"
)
RATE, CHANNELS = 2000.0, 16


def _synthetic(seconds: float) -> Recording:
    n = int(seconds * RATE)
    rng = np.random.default_rng(0)
    return Recording(
        emg=rng.standard_normal((n, CHANNELS), dtype=np.float32),
        rate=RATE,
        labels=(np.arange(n) // int(3 * RATE) % 5).astype(np.int16),
        label_names=("rest", "fist", "open_hand", "wrist_flexion", "wrist_extension"),
        channel_names=tuple(f"EMG{i + 1}" for i in range(CHANNELS)),
        subject="bench",
        source="bench.hdf5",
    )


def _best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _db1() -> list[Measurement]:
    if not (DB1 / "S1_A1_E1.mat").is_file():
        return [Measurement("load + window 14 DB1 subjects", float("nan"), "s", details=f"skipped: {DB1} absent")]
    files = sorted(DB1.glob("S*_A1_E1.mat"))
    for f in files:
        f.read_bytes()  # both contenders read from the page cache
    t0 = time.perf_counter()
    for f in files:
        scipy.io.loadmat(f)
    t_scipy = time.perf_counter() - t0
    t0 = time.perf_counter()
    recs = read_ninapro_folder(DB1)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    ws = extract_windows(recs, window_ms=200, hop_ms=10)
    t_window = time.perf_counter() - t0
    total = t_load + t_window
    hours = sum(r.duration for r in recs) / 3600

    rng = np.random.default_rng(0)
    batch = np.sort(rng.choice(len(ws), 100_000, replace=False))

    def naive_gather() -> np.ndarray:
        return np.stack([recs[ws.recording[i]].emg[ws.start[i] : ws.start[i] + ws.length] for i in batch])

    x, naive = ws.data(batch), naive_gather()  # warm-up: first touches of fresh memory are slow in a VM
    t_gather = _best_of(3, lambda: ws.data(batch))
    t_naive = _best_of(3, naive_gather)
    assert np.array_equal(x, naive)
    return [
        Measurement(
            name=f"load + window all {len(recs)} DB1 subjects (200 ms / 10 ms)",
            value=total,
            unit="s",
            baseline="scipy.io.loadmat of the same files, s",
            baseline_value=t_scipy,
            target="< 30 s",
            met=bool(total < 30),
            details=(
                f"{len(ws):,} windows from {hours:.2f} h of EMG: reading {t_load:.2f} s, windowing {t_window:.3f} s "
                f"({len(ws) / t_window:,.0f} windows/s; {len(ws) / total:,.0f} windows/s including reading)."
            ),
        ),
        Measurement(
            name="gather 100k DB1 windows into float32 [N, 20, 10]",
            value=len(batch) / t_gather,
            unit="windows/s",
            baseline="Python loop over windows + np.stack, windows/s",
            baseline_value=len(batch) / t_naive,
            target="faster than the loop",
            met=bool(t_gather < t_naive),
            details="best of 3 after a warm-up, for both.",
        ),
    ]


def _unthrottled(seconds: float) -> list[Measurement]:
    rec = _synthetic(seconds)
    t0 = time.perf_counter()
    for a in range(0, rec.n_samples, int(RATE)):  # the floor: copying the same 1 s blocks
        np.array(rec.emg[a : a + int(RATE)])
        rec.labels[a : a + int(RATE)].copy()
    t_copy = time.perf_counter() - t0

    src = ReplaySource(rec, speed=0)
    with opened(src):
        t0 = time.perf_counter()
        while not src.exhausted:
            src.read()
        t_bare = time.perf_counter() - t0

    from myostream.stream.lsl import LSLOutlet

    src = ReplaySource(rec, speed=0)
    with opened(src):
        outlet = LSLOutlet(src.info, name=f"myostream-bench-replay-{os.getpid()}")
        t0 = time.perf_counter()
        while not src.exhausted:
            outlet.push(src.read())
        t_lsl = time.perf_counter() - t0
        outlet.close()
    return [
        Measurement(
            name=f"unthrottled replay ({CHANNELS} ch, {RATE:g} Hz)",
            value=seconds / t_bare,
            unit="x real time",
            baseline="copying the same 1 s blocks, x real time",
            baseline_value=seconds / t_copy,
            target=">= 1000x real time",
            met=bool(seconds / t_bare >= 1000),
            details=f"{seconds:g} s recording; pushed into a real LSL outlet as well: {seconds / t_lsl:,.0f}x real time.",
        )
    ]


def _loop_lateness(n: int, period: float, spin: bool) -> list[float]:
    """How late a bare loop reaches its deadlines on the replay's schedule: sleeping
    (``time.sleep`` to the deadline) or busy-waiting (never leaves the CPU: the floor any
    pacing can reach on this machine)."""
    clock = pylsl_module().local_clock
    t0, late = clock(), []
    for k in range(1, n + 1):
        due = t0 + k * period
        if spin:
            while clock() < due:
                pass
        else:
            time.sleep(max(due - clock(), 0.0))
        late.append(clock() - due)
    return late


def _steal() -> tuple[int, int]:
    """(steal, total) CPU ticks so far from /proc/stat: time the hypervisor ran something else."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def _replay_lateness(seconds: float, spin_ms: float) -> tuple[list[float], float, float]:
    """Lateness of each block of a 1x replay in 20 ms blocks, its CPU time and wall time."""
    clock = pylsl_module().local_clock
    late = []
    src = ReplaySource(_synthetic(seconds), speed=1.0, chunk_ms=20, spin_ms=spin_ms)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with opened(src):
        while not src.exhausted:
            c = src.read(timeout=0.1)
            if len(c):
                late.append(clock() - c.timestamps[-1])  # due time of the block's last sample
    return late, time.process_time() - cpu0, time.perf_counter() - wall0


def _paced(seconds: float, long_seconds: float, rounds: int = 5) -> list[Measurement]:
    clock = pylsl_module().local_clock
    late: list[float] = []
    hog_late: list[float] = []
    sleep_late: list[float] = []
    spin_late: list[float] = []
    cpu = wall = hog_cpu = hog_wall = 0.0
    steal0 = _steal()
    blocks = int(seconds / rounds / 0.02)
    for _ in range(rounds):  # interleaved with the baselines, so all see the same machine
        more, c, w = _replay_lateness(seconds / rounds, DEFAULT_SPIN_S * 1000)
        late, cpu, wall = late + more, cpu + c, wall + w
        more, c, w = _replay_lateness(seconds / rounds, 20.0)  # spin margin = block period: never sleeps
        hog_late, hog_cpu, hog_wall = hog_late + more, hog_cpu + c, hog_wall + w
        sleep_late += _loop_lateness(blocks, 0.02, spin=False)
        spin_late += _loop_lateness(blocks, 0.02, spin=True)
    steal1 = _steal()
    steal = (steal1[0] - steal0[0]) / max(steal1[1] - steal0[1], 1)
    late_ms, hog_ms, sleep_ms, spin_ms = (np.array(v) * 1000 for v in (late, hog_late, sleep_late, spin_late))

    src = ReplaySource(_synthetic(long_seconds), speed=10.0, chunk_ms=20)
    with opened(src):
        while not src.exhausted:
            src.read(timeout=0.1)
        ended = clock()
        end_error = ended - src.due_time(src.span - 1)
    p = np.percentile(late_ms, [50, 99])
    return [
        Measurement(
            name="paced replay: block delivery lateness p99 (1x, 20 ms blocks)",
            value=float(p[1]),
            unit="ms",
            baseline="sleep-until-deadline loop, lateness p99, ms",
            baseline_value=float(np.percentile(sleep_ms, 99)),
            target="< 2 ms",
            met=bool(p[1] < 2.0),
            details=(
                f"{len(late_ms)} blocks over {seconds:g} s in {rounds} rounds, interleaved with two bare loops on the same "
                f"schedule: p50 {p[0]:.3f} ms, max {late_ms.max():.2f} ms, CPU {100 * cpu / wall:.0f} % of one core "
                f"(it sleeps to {DEFAULT_SPIN_S * 1000:g} ms before each due time, then yield-spins). "
                f"Sleep-until-deadline loop: p50 {np.percentile(sleep_ms, 50):.3f} ms, max {sleep_ms.max():.2f} ms. "
                f"Busy-wait loop (never sleeps, 100 % of a core): p50 {np.percentile(spin_ms, 50):.3f} ms, "
                f"p99 {np.percentile(spin_ms, 99):.3f} ms. Hypervisor steal during the run: {100 * steal:.2f} % of CPU "
                "time; a virtual CPU that sleeps is sometimes woken milliseconds late, which sets the tail."
            ),
        ),
        Measurement(
            name="paced replay, spin_ms=20 (never sleeps): block delivery lateness p99 (1x, 20 ms blocks)",
            value=float(np.percentile(hog_ms, 99)),
            unit="ms",
            baseline="sleep-until-deadline loop, lateness p99, ms",
            baseline_value=float(np.percentile(sleep_ms, 99)),
            target="< 2 ms",
            met=bool(np.percentile(hog_ms, 99) < 2.0),
            details=(
                f"the same replay with a spin margin of one block period (`ReplaySource(spin_ms=20)`, "
                f"`myostream replay --spin-ms 20`), in the same rounds: p50 {np.percentile(hog_ms, 50):.3f} ms, "
                f"max {hog_ms.max():.2f} ms, CPU {100 * hog_cpu / hog_wall:.0f} % of one core. For replays whose "
                "timing matters more than a core (PsychoPy's hogCPUperiod makes the same trade)."
            ),
        ),
        Measurement(
            name=f"paced replay: end error after {long_seconds:g} s of recording at 10x",
            value=float(end_error * 1000),
            unit="ms",
            target="< 2 ms (no drift)",
            met=bool(abs(end_error) < 0.002),
            details="time the last block was delivered minus its scheduled due time.",
        ),
    ]


def run(quick: bool = False) -> list[Measurement]:
    return [
        *_db1(),
        *_unthrottled(60.0 if quick else 300.0),
        *_paced(4.0 if quick else 40.0, 30.0 if quick else 120.0),
    ]
