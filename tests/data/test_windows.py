"""Labelled windows (majority / onset), rest handling, channel reconciliation and train-only normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from myostream.data.emg2pose import read_emg2pose
from myostream.data.ninapro import read_ninapro
from myostream.data.windows import extract_windows
from myostream.errors import MyostreamError
from myostream.records import Recording
from tests.data.layouts import write_emg2pose


def make_recording(
    labels: list[int], n_channels: int = 2, rate: float = 1000.0, subject: str = "S1", repetition=None
) -> Recording:
    n = len(labels)
    emg = np.arange(n * n_channels, dtype=np.float32).reshape(n, n_channels)
    return Recording(
        emg=emg,
        rate=rate,
        labels=np.array(labels, np.int16),
        label_names=("rest", "fist", "open_hand"),
        channel_names=tuple(f"EMG{i + 1}" for i in range(n_channels)),
        subject=subject,
        dataset="toy",
        repetition=None if repetition is None else np.array(repetition, np.int16),
    )


def test_majority_label_and_ties_go_later() -> None:
    # samples: 0-5 rest, 6-9 fist, 10-19 open_hand
    rec = make_recording([0] * 6 + [1] * 4 + [2] * 10)
    ws = extract_windows([rec], window_ms=4, hop_ms=2)  # 4 samples every 2 at 1 kHz
    assert ws.length == 4 and list(ws.start) == list(range(0, 17, 2))
    names = [ws.class_ids[y] for y in ws.y]
    # window [4, 8): rest 4-5, fist 6-7 -> tie, goes to fist (later); [8, 12): fist 8-9, open 10-11 -> open_hand
    assert names[2] == "fist" and names[4] == "open_hand"
    assert names[0] == names[1] == "rest" and names[3] == "fist"
    # three runs in one window: [0, 10) has rest 6, fist 4 -> rest
    wide = extract_windows([rec], window_ms=10, hop_ms=10)
    assert [wide.class_ids[y] for y in wide.y] == ["rest", "open_hand"]
    np.testing.assert_array_equal(ws[3], rec.emg[6:10])
    assert ws[3].base is not None  # a view of the recording, not a copy


def test_onset_windows_are_pure_and_start_at_onsets() -> None:
    rec = make_recording([0] * 7 + [1] * 9 + [-1] * 5 + [2] * 3)
    ws = extract_windows([rec], window_ms=4, hop_ms=3, label="onset")
    assert list(ws.start) == [0, 3, 7, 10]  # rest at 0 and 3; fist from its onset at 7; open_hand run too short
    for s, y in zip(ws.start, ws.y):
        assert set(rec.labels[s : s + 4].tolist()) == {rec.label_names.index(ws.class_ids[y])}


def test_rest_dropped_classes_and_unlabelled() -> None:
    rec = make_recording([0] * 8 + [1] * 8 + [-1] * 8 + [2] * 8)
    kept = extract_windows([rec], 4, 4)
    assert kept.class_ids == ("rest", "fist", "open_hand") and len(kept) == 6  # the unlabelled run gives none
    no_rest = extract_windows([rec], 4, 4, rest=False)
    assert (
        no_rest.class_ids == ("fist", "open_hand")
        and [no_rest.class_ids[y] for y in no_rest.y] == ["fist"] * 2 + ["open_hand"] * 2
    )
    only = extract_windows([rec], 4, 4, classes=["open_hand", "rest"])
    assert only.class_ids == ("open_hand", "rest") and sorted(only.y.tolist()) == [0, 0, 1, 1]


def test_repetition_of_rest_follows_the_movement() -> None:
    labels = [0] * 4 + [1] * 4 + [0] * 4 + [1] * 4 + [0] * 4
    reps = [0] * 4 + [1] * 4 + [0] * 4 + [2] * 4 + [0] * 4
    ws = extract_windows([make_recording(labels, repetition=reps)], 4, 4)
    assert ws.repetition.tolist() == [1, 1, 1, 2, 2]
    assert len(set(ws.segment.tolist())) == 5


def test_channels_reconciled_explicitly() -> None:
    a, b = make_recording([0] * 8, n_channels=3), make_recording([1] * 8, n_channels=2, subject="S2")
    with pytest.raises(MyostreamError, match="different channel counts.*channels='select'"):
        extract_windows([a, b], 4, 4)
    sel = extract_windows([a, b], 4, 4, channels="select")
    assert sel.data().shape == (4, 4, 2)
    np.testing.assert_array_equal(sel.data([0])[0], a.emg[0:4, :2])
    pad = extract_windows([a, b], 4, 4, channels="pad")
    x = pad.data()
    assert x.shape == (4, 4, 3) and not x[2:, :, 2].any()
    np.testing.assert_array_equal(x[2, :, :2], b.emg[0:4])
    with pytest.raises(MyostreamError, match="shorter than one sample"):
        extract_windows([a], 0.1, 4)


def test_lazy_and_in_memory_windows_agree(tmp_path: Path) -> None:
    ts = write_emg2pose(tmp_path, "s", "Counting1", "u1", n=1000)
    lazy = read_emg2pose(tmp_path / "s.hdf5")
    mem = Recording(**{**lazy.__dict__, "emg": np.asarray(lazy.emg), "pose": None})
    a, b = extract_windows([lazy], 10, 5), extract_windows([mem], 10, 5)
    np.testing.assert_array_equal(a.data([0, 7, 50]), b.data([0, 7, 50]))
    np.testing.assert_array_equal(a[7], ts["emg"][70:90])


def test_real_db1_windows(db1_dir: Path) -> None:
    rec = read_ninapro(db1_dir / "S1_A1_E1.mat")
    ws = extract_windows([rec], window_ms=200, hop_ms=100)
    assert ws.length == 20 and len(ws) == (rec.n_samples - 20) // 10 + 1
    assert set(ws.repetition.tolist()) == set(range(1, 11))
    x = ws.data(np.arange(500))
    assert x.dtype == np.float32 and x.shape == (500, 20, 10)
