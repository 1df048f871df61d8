"""The rejection report's measurements: operating points, curves and the windows of each condition."""

from __future__ import annotations

import numpy as np
import pytest

from myostream.data.windows import extract_windows
from myostream.records import Recording
from myostream.rejection import Rejection
from myostream_reports.rejection import Condition, curve, operating_point, pure, spliced_transitions


def test_operating_point_and_curve_count_what_the_rule_accepts():
    scores = np.array([[0.9, 0.1], [0.6, 0.5], [0.2, 0.8], [0.45, 0.55]])
    cond = Condition("four hops", scores, truth=np.array([0, 1, 1, -1]))  # right, wrong, right, none right
    rule = Rejection("margin", threshold=0.3)  # accepts the first and the third
    point = operating_point(rule, cond)
    assert point == {
        "windows": 4,
        "top1": 0.5,
        "accepted": 0.5,
        "accuracy_accepted": 1.0,
        "false_accept_rate": 0.0,
        "correct_kept": 1.0,
    }
    c = curve(rule, cond)
    assert c["accepted"] == [0.25, 0.5, 0.75, 1.0]  # most confident first: 0.8, 0.6, 0.1, 0.1
    assert c["accuracy"] == pytest.approx([1.0, 1.0, 2 / 3, 0.5], abs=1e-4)
    assert np.isnan(operating_point(Rejection("margin", 5.0), cond)["accuracy_accepted"])  # nothing accepted


def _recording(labels: list[int], subject: str = "S1", session: str = "0") -> Recording:
    n = len(labels)
    return Recording(
        emg=np.arange(2 * n, dtype=np.float32).reshape(n, 2),
        rate=100.0,
        labels=np.array(labels, np.int16),
        label_names=("rest", "fist", "open_hand"),
        channel_names=("a", "b"),
        subject=subject,
        session=session,
    )


def test_pure_windows_hold_one_label_and_transitions_straddle_two():
    ws = extract_windows([_recording([0] * 6 + [1] * 6 + [2] * 6)], 40.0, 20.0)  # 4 samples every 2
    flags = pure(ws, np.arange(len(ws)))
    starts = ws.start.tolist()
    assert [s for s, f in zip(starts, flags) if not f] == [4, 10]  # over 0|1 at sample 6 and 1|2 at 12
    assert all(f for s, f in zip(starts, flags) if s not in (4, 10))


def test_spliced_transitions_are_the_windows_over_file_boundaries():
    files = [_recording([1] * 10), _recording([2] * 10), _recording([1] * 10, subject="S2")]
    ws = extract_windows(files, 40.0, 20.0)
    x, y = spliced_transitions(ws, np.arange(len(ws)))
    # S1's two files meet at sample 10: windows starting at 8 straddle it (S2 has one file, no boundary)
    assert len(x) == 1 and ws.class_ids[y[0]] in ("fist", "open_hand")
    np.testing.assert_array_equal(x[0][:, 0], [16, 18, 0, 2])  # the last 2 samples of one file, first 2 of the next
