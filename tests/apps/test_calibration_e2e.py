"""End to end (issue 16): calibrate inside the offscreen live window, then measure live top-1 before and after.

The scenarios are the committed report's own (``myostream report calibration``,
``myostream_reports/calibration.py``), driven here by qtbot: a simulated person the bundled model
never saw, and a real Myo armband person whose training session is replayed as the device and
whose test session (another day) is scored. Both are slow (minutes):
``pytest -m slow tests/apps/test_calibration_e2e.py -s`` prints the numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from myostream_reports.calibration import myo_person, simulated_person

pytestmark = pytest.mark.slow


class QtbotWaiter:
    """The reports' waiter on qtbot: the event loop runs while the window gets somewhere."""

    def __init__(self, qtbot) -> None:
        self.qtbot = qtbot

    def until(self, condition: Callable[[], bool], seconds: float) -> None:
        self.qtbot.waitUntil(condition, timeout=int(seconds * 1000))

    def settle(self, seconds: float) -> None:
        self.qtbot.wait(int(seconds * 1000))


def test_a_simulated_person_calibrated_in_the_window(qtbot, record_property):
    numbers = simulated_person(QtbotWaiter(qtbot))
    print(f"\n[calibration e2e] simulated: {json.dumps(numbers)}")
    record_property("numbers", numbers)
    assert numbers["how"] == "adapted" and min(numbers["rankings"]) > 50
    assert numbers["live_top1_after"] > numbers["live_top1_before"]


def test_a_real_myo_session_replayed_as_the_device_calibrated_in_the_window(qtbot, myo_dir, record_property):
    numbers = myo_person(QtbotWaiter(qtbot), myo_dir)
    print(f"\n[calibration e2e] Myo: {json.dumps(numbers)}")
    record_property("numbers", numbers)
    assert numbers["how"] == "adapted" and numbers["held_out_repetition"] == 4 and min(numbers["rankings"]) > 50
    assert numbers["live_top1_after"] > numbers["live_top1_before"]
