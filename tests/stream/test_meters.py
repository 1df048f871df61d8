"""Status-line meters: the rate over the last seconds, silence as it happens, recent latency percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from myostream.stream.commands import status_line
from myostream.stream.meters import RateMeter, RecentValues


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def feed(meter: RateMeter, clock: Clock, rate: float, seconds: float, chunk_s: float = 0.02) -> None:
    for _ in range(int(round(seconds / chunk_s))):
        clock.t += chunk_s
        meter.add(int(round(rate * chunk_s)))


def test_rate_is_the_recent_rate_not_an_average_since_opening():
    clock = Clock()
    meter = RateMeter(window_s=3.0, clock=clock)
    clock.t += 0.5
    meter.add(600)  # a backlog that built up before the first read: it only starts the clock
    feed(meter, clock, 1000.0, 2.0)
    assert meter.rate() == pytest.approx(1000.0, rel=0.02)  # not 1300 Hz
    feed(meter, clock, 1000.0, 10.0)
    clock.t += 4.0  # an outage: no samples for 4 s
    assert meter.rate() == 0.0 and meter.silent_s() == pytest.approx(4.0)
    feed(meter, clock, 1000.0, 4.0)  # back: the rate is the stream's again, not the 650-780 Hz of an average
    assert meter.rate() == pytest.approx(1000.0, rel=0.02) and meter.silent_s() < 0.05
    assert meter.total == 600 + 16 * 1000


def test_silence_counts_from_opening_until_the_first_sample():
    clock = Clock()
    meter = RateMeter(clock=clock)
    clock.t += 2.5
    assert meter.silent_s() == pytest.approx(2.5) and meter.rate() == 0.0


def test_status_line_says_no_samples_during_an_outage():
    clock = Clock()
    meter = RateMeter(clock=clock)
    feed(meter, clock, 500.0, 2.0)
    line = status_line(meter, 500.0, 4, 0, np.zeros(4), "mV")
    assert "rate   500.0/500 Hz" in line and "no samples" not in line
    clock.t += 3.2
    assert "rate     0.0/500 Hz | no samples for 3.2 s" in status_line(meter, 500.0, 4, 0, np.zeros(4), "mV")


def test_recent_values_forget_the_slow_start():
    clock = Clock()
    recent = RecentValues(window_s=10.0, clock=clock)
    assert math.isnan(recent.percentile(99))
    for _ in range(20):
        recent.add(240.0)  # a cold model's first hops
    for _ in range(150):
        clock.t += 0.05
        recent.add(5.0)
    assert recent.percentile(99) == pytest.approx(240.0)  # 7.5 s later: still within the window
    clock.t += 3.0
    for _ in range(10):
        recent.add(5.0)
    assert recent.percentile(99) == pytest.approx(5.0)
