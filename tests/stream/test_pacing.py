"""sleep_until: never returns before the deadline, on any spin margin."""

from __future__ import annotations

import pytest

from myostream.stream.lslconfig import pylsl_module
from myostream.stream.pacing import sleep_until


@pytest.mark.parametrize("spin", [0.0, 0.002, 0.05])
def test_returns_at_or_after_the_deadline(spin: float) -> None:
    clock = pylsl_module().local_clock
    for delay in (0.0, 0.001, 0.01, 0.03):
        deadline = clock() + delay
        returned = sleep_until(deadline, clock, spin)
        assert deadline <= returned <= clock()


def test_past_deadline_neither_sleeps_nor_spins() -> None:
    calls = []

    def clock() -> float:
        calls.append(1)
        return 100.0

    assert sleep_until(99.0, clock) == 100.0
    assert len(calls) == 1  # one look at the clock, no waiting loop
