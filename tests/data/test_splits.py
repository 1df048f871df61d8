"""Evaluation protocols on real DB1 windows: deterministic, disjoint, and no window straddling train and test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from myostream.data.ninapro import read_ninapro_folder
from myostream.data.splits import (
    cross_class_split,
    cross_dataset,
    cross_user_split,
    fold_subjects,
    random_split,
    repetition_split,
)
from myostream.data.windows import WindowSet, extract_windows
from myostream.errors import MyostreamError


@pytest.fixture(scope="module")
def db1_windows(db1_dir: Path) -> WindowSet:
    # 200 ms windows every 50 ms: neighbours overlap, so straddling is a real risk
    return extract_windows(read_ninapro_folder(db1_dir, subjects=[1, 2]), window_ms=200, hop_ms=50)


def assert_no_shared_samples(ws: WindowSet, train: np.ndarray, test: np.ndarray) -> None:
    """Brute force: mark every sample each side covers, per recording, and intersect."""
    assert not set(train.tolist()) & set(test.tolist())
    for r, rec in enumerate(ws.recordings):
        covered = []
        for side in (train, test):
            mask = np.zeros(rec.n_samples, bool)
            for s in ws.start[side[ws.recording[side] == r]]:
                mask[s : s + ws.length] = True
            covered.append(mask)
        assert not (covered[0] & covered[1]).any(), f"train and test share samples of {rec.name}"


def test_random_split_stratified_deterministic_no_straddling(db1_windows: WindowSet) -> None:
    ws = db1_windows
    a, b, c = random_split(ws, seed=3), random_split(ws, seed=3), random_split(ws, seed=4)
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)
    assert_no_shared_samples(ws, a.train, a.test)
    assert a.dropped > 0  # overlapping windows at run boundaries were really removed
    # every class is in both sides, in roughly the asked proportion of runs
    assert set(ws.y[a.test].tolist()) == set(ws.y[a.train].tolist()) == set(range(13))
    assert 0.1 < len(a.test) / len(ws) < 0.3


def test_cross_user_split(db1_windows: WindowSet) -> None:
    ws = db1_windows
    split = cross_user_split(ws, test_subjects=["S2"])
    assert split.held_out_subjects == ("ninapro-db1/S2",)
    assert set(ws.subject[split.test]) == {"ninapro-db1/S2"} and set(ws.subject[split.train]) == {"ninapro-db1/S1"}
    assert len(split.train) + len(split.test) == len(ws) and split.dropped == 0
    seeded = cross_user_split(ws, seed=7)
    assert seeded.held_out_subjects == cross_user_split(ws, seed=7).held_out_subjects
    with pytest.raises(MyostreamError, match="Subject 'S9' is not in the windows"):
        cross_user_split(ws, test_subjects=["S9"])


def test_cross_user_folds_are_what_fold_subjects_says(db1_windows: WindowSet) -> None:
    """The folds a report plans without windows are the ones training cuts."""
    subjects = sorted(set(db1_windows.subject))
    folds = [fold_subjects(subjects, 2, k, seed=3) for k in range(2)]
    assert sorted(folds[0] + folds[1]) == subjects and not set(folds[0]) & set(folds[1])
    for k in range(2):
        assert cross_user_split(db1_windows, seed=3, folds=2, fold=k).held_out_subjects == tuple(folds[k])


def test_cross_class_split(db1_windows: WindowSet) -> None:
    ws = db1_windows
    split = cross_class_split(ws, seed=1)
    held = split.held_out_classes
    assert held and "rest" not in held and held == cross_class_split(ws, seed=1).held_out_classes
    test_classes = {ws.class_ids[y] for y in ws.y[split.test]}
    train_classes = {ws.class_ids[y] for y in ws.y[split.train]}
    assert test_classes == set(held) and not train_classes & set(held) and "rest" in train_classes
    assert_no_shared_samples(ws, split.train, split.test)
    explicit = cross_class_split(ws, held_out_classes=["ninapro.A05"])
    assert {ws.class_ids[y] for y in ws.y[explicit.test]} == {"ninapro.A05"}
    with pytest.raises(MyostreamError, match="Rest cannot be held out"):
        cross_class_split(ws, held_out_classes=["rest"])


def test_repetition_split(db1_windows: WindowSet) -> None:
    ws = db1_windows
    split = repetition_split(ws)
    assert split.test_repetitions == (2, 5, 7)
    assert set(ws.repetition[split.test].tolist()) == {2, 5, 7}
    assert set(ws.repetition[split.train].tolist()) == {1, 3, 4, 6, 8, 9, 10}
    assert_no_shared_samples(ws, split.train, split.test)
    assert split.describe()["n_test"] == len(split.test)
    np.testing.assert_array_equal(split.test, repetition_split(ws).test)


def test_cross_dataset_reconciles_channels(db1_windows: WindowSet) -> None:
    from myostream.records import Recording

    rng = np.random.default_rng(0)
    n = 3000
    other = Recording(
        emg=rng.normal(size=(n, 8)).astype(np.float32),
        rate=100.0,
        labels=np.repeat(np.arange(3, dtype=np.int16), n // 3),
        label_names=("rest", "ninapro.A01", "fist"),
        channel_names=tuple(f"EMG{i}" for i in range(8)),
        subject="X",
        dataset="other",
    )
    test_set = extract_windows([other], 200, 50)
    with pytest.raises(MyostreamError, match="different channel counts"):
        cross_dataset(db1_windows, test_set)
    both, split = cross_dataset(db1_windows, test_set, channels="select")
    assert both.n_channels == 8 and both.data(split.test[:3]).shape == (3, 20, 8)
    assert set(both.recording[split.train]) <= set(range(len(db1_windows.recordings)))
    assert both.class_ids[: len(db1_windows.class_ids)] == db1_windows.class_ids and both.class_ids[-1] == "fist"
    # labels survive the union of class ids
    assert [both.class_ids[y] for y in both.y[split.test][[0, -1]]] == ["rest", "fist"]
    # a test class no training window shows is unseen, like a cross-class held-out class
    assert split.held_out_classes == ("fist",)
    padded, _ = cross_dataset(db1_windows, test_set, channels="pad")
    assert padded.n_channels == 10 and not padded.data(np.flatnonzero(padded.recording == 2)[:2])[..., 8:].any()
