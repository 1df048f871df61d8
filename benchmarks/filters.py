"""Filter stage speed: 16 ch x 2 kHz band-pass 20-450 Hz + 50 Hz notch with 2 harmonics.

Measured as a multiple of real time on one core (the process is pinned to one CPU
where the OS allows it), in 10-sample chunks as a device delivers them and in 200-sample
chunks. The baseline is the same chain run once over the whole signal (scipy
``sosfilt`` at once, no chunking overhead): the ratio says what chunked, stateful
operation costs.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import signal

from myostream.preprocess import FilterSpec
from myostream.stream.filters import FilterStage, design_sos
from myostream_reports.bench import Measurement, one_core

RATE, CHANNELS = 2000.0, 16
SPEC = FilterSpec(highpass=20.0, lowpass=450.0, notch=50.0, harmonics=3)


def _chunked(x: np.ndarray, chunk: int) -> float:
    stage = FilterStage(RATE, CHANNELS, SPEC)
    t0 = time.perf_counter()
    for i in range(0, len(x), chunk):
        stage.process(x[i : i + chunk])
    return time.perf_counter() - t0


def run(quick: bool = False) -> list[Measurement]:
    seconds = 30.0 if quick else 120.0
    x = np.random.default_rng(0).standard_normal((int(seconds * RATE), CHANNELS)).astype(np.float32)
    with one_core() as pinned:
        t10 = _chunked(x, 10)
        t200 = _chunked(x, 200)
        sos = design_sos(RATE, SPEC)
        t0 = time.perf_counter()
        signal.sosfilt(sos, x.astype(np.float64), axis=0)
        t_whole = time.perf_counter() - t0
    return [
        Measurement(
            name="filter stage, 10-sample chunks (16 ch, 2 kHz, band-pass + notch x3)",
            value=seconds / t10,
            unit="x real time",
            baseline="whole-signal sosfilt, x real time",
            baseline_value=seconds / t_whole,
            target=">= 200x real time",
            met=seconds / t10 >= 200,
            details=f"{seconds:g} s of signal, {pinned}; {len(design_sos(RATE, SPEC))} second-order sections.",
        ),
        Measurement(
            name="filter stage, 200-sample chunks",
            value=seconds / t200,
            unit="x real time",
            baseline="whole-signal sosfilt, x real time",
            baseline_value=seconds / t_whole,
            target=">= 200x real time",
            met=seconds / t200 >= 200,
        ),
    ]
