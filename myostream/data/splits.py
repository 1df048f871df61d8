"""Evaluation protocols: which windows train and which test, deterministic from a seed.

Every split returns a :class:`Split` of index arrays into one :class:`WindowSet`, and
guarantees that no test window shares a sample with a training window: windows are
assigned by whole groups (runs, repetitions, subjects, classes, datasets), and training
windows that still overlap a test window of the same recording (windows straddling a
group boundary) are dropped from training and counted in ``Split.dropped``.

Protocols (names as the CLI's ``--protocol``):

- ``random``: labelled runs (one movement repetition, one rest period, one Myo file)
  are shuffled per class and a ``test_fraction`` of each class's runs goes to test.
- ``cross-user``: disjoint subjects (subjects are keyed by dataset, see
  :attr:`WindowSet.subject`).
- ``cross-class``: disjoint classes; ``Split.held_out_classes`` lists the test classes
  so the text stage can leave their descriptions out. Rest is never held out.
- ``repetition``: NinaPro's standard split, test repetitions 2, 5 and 7 and the others
  for training (Atzori et al. 2014 / Gijsberts et al. 2014 for DB1's ten repetitions;
  on the six-repetition databases this tests on 2 and 5).
- ``cross-dataset``: :func:`cross_dataset` joins a training and a test set, reconciling
  channel counts explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from myostream.data.windows import ChannelMode, WindowSet, _reconcile
from myostream.errors import MyostreamError

PROTOCOLS = ("random", "cross-user", "cross-class", "repetition", "cross-dataset")
#: NinaPro's standard test repetitions (the rest train).
NINAPRO_TEST_REPETITIONS: tuple[int, ...] = (2, 5, 7)


@dataclass(frozen=True)
class Split:
    """Training and test window indices of one protocol, with what was held out."""

    protocol: str
    train: np.ndarray
    test: np.ndarray
    seed: int | None = None
    held_out_classes: tuple[str, ...] = ()
    held_out_subjects: tuple[str, ...] = ()
    test_repetitions: tuple[int, ...] = ()
    dropped: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What a results file should record about the split (JSON-ready)."""
        return {
            "protocol": self.protocol,
            "seed": self.seed,
            "n_train": int(len(self.train)),
            "n_test": int(len(self.test)),
            "dropped_straddling": int(self.dropped),
            "held_out_classes": list(self.held_out_classes),
            "held_out_subjects": list(self.held_out_subjects),
            "test_repetitions": list(self.test_repetitions),
            **self.meta,
        }


def overlapping(windows: WindowSet, candidates: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Mask over ``candidates``: True where the window shares a sample with any of ``others``."""
    hit = np.zeros(len(candidates), bool)
    for r in np.unique(windows.recording[candidates]):
        mine = np.flatnonzero(windows.recording[candidates] == r)
        theirs = others[windows.recording[others] == r]
        if len(theirs) == 0:
            continue
        lo = np.sort(windows.start[theirs])
        hi = np.maximum.accumulate(lo + windows.length)  # furthest sample any of them reaches so far
        s = windows.start[candidates[mine]]
        # the last other window starting before this one ends; it (or an earlier one) reaches s?
        j = np.searchsorted(lo, s + windows.length, side="left") - 1
        hit[mine] = (j >= 0) & (hi[np.maximum(j, 0)] > s)
    return hit


def _finish(windows: WindowSet, protocol: str, train_mask: np.ndarray, test_mask: np.ndarray, **kw: Any) -> Split:
    train = np.flatnonzero(train_mask & ~test_mask)
    test = np.flatnonzero(test_mask)
    if len(train) == 0 or len(test) == 0:
        raise MyostreamError(
            f"The {protocol} split left {len(train)} training and {len(test)} test windows; "
            "use more recordings or change the held-out set."
        )
    straddling = overlapping(windows, train, test)
    return Split(protocol, train[~straddling], test, dropped=int(straddling.sum()), **kw)


def random_split(windows: WindowSet, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Stratified by class over whole labelled runs (see the module docstring)."""
    if not 0 < test_fraction < 1:
        raise MyostreamError(f"test_fraction must be between 0 and 1, not {test_fraction!r}.")
    rng = np.random.default_rng(seed)
    segments, first = np.unique(windows.segment, return_index=True)
    # a run's class: that of its first window (a run's windows almost always share it)
    seg_class = windows.y[first]
    test_segments = []
    for c in np.unique(seg_class):
        mine = segments[seg_class == c]
        if len(mine) < 2:
            continue  # a class seen once stays in training
        k = max(1, int(round(test_fraction * len(mine))))
        test_segments.append(rng.permutation(mine)[:k])
    test_mask = np.isin(windows.segment, np.concatenate(test_segments) if test_segments else [])
    return _finish(windows, "random", ~test_mask, test_mask, seed=seed, meta={"test_fraction": test_fraction})


def fold_subjects(subjects: Sequence[str], folds: int, fold: int, seed: int = 0) -> list[str]:
    """The subjects that test in fold ``fold`` of ``folds``: all of them in a seeded order, cut into ``folds``."""
    order = np.random.default_rng(seed).permutation(sorted(subjects)).tolist()
    return sorted(np.array_split(np.array(order, dtype=object), folds)[fold].tolist())


def cross_user_split(
    windows: WindowSet,
    test_subjects: Sequence[str] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
    folds: int = 1,
    fold: int = 0,
) -> Split:
    """Disjoint subjects: ``test_subjects`` (``"S3"`` or ``"ninapro-db1/S3"``); else, with ``folds > 1``,
    fold ``fold`` of the subjects in a seeded order cut into ``folds``; else a seeded ``test_fraction`` of them."""
    subjects = windows.subject
    known = sorted(set(subjects))
    if test_subjects is None and folds > 1:
        if len(known) < folds:
            raise MyostreamError(
                f"{folds} cross-user folds need at least {folds} subjects; the data hold {len(known)}."
            )
        if not 0 <= fold < folds:
            raise MyostreamError(f"Fold {fold} does not exist; there are {folds} folds (0..{folds - 1}).")
        split = cross_user_split(windows, test_subjects=fold_subjects(known, folds, fold, seed), seed=seed)
        split.meta.update(folds=folds, fold=fold)
        return split
    if test_subjects is not None:
        chosen = []
        for s in test_subjects:
            match = [k for k in known if k == s or k.split("/", 1)[1] == s]
            if not match:
                raise MyostreamError(f"Subject {s!r} is not in the windows; they hold {', '.join(known)}.")
            chosen += match
    else:
        if len(known) < 2:
            raise MyostreamError(f"A cross-user split needs at least two subjects; the windows hold only {known}.")
        k = min(len(known) - 1, max(1, int(round(test_fraction * len(known)))))
        chosen = sorted(np.random.default_rng(seed).permutation(known)[:k].tolist())
    test_mask = np.isin(subjects, chosen)
    return _finish(windows, "cross-user", ~test_mask, test_mask, seed=seed, held_out_subjects=tuple(chosen))


def cross_class_split(
    windows: WindowSet,
    held_out_classes: Sequence[str] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Split:
    """Disjoint classes: ``held_out_classes``, else a seeded ``test_fraction`` of the non-rest classes."""
    present = [c for i, c in enumerate(windows.class_ids) if np.any(windows.y == i)]
    movements = [c for c in present if c != "rest"]
    if held_out_classes is not None:
        chosen = list(held_out_classes)
        unknown = [c for c in chosen if c not in present]
        if unknown:
            raise MyostreamError(f"Held-out classes {unknown} have no windows; choose among {', '.join(present)}.")
        if "rest" in chosen:
            raise MyostreamError("Rest cannot be held out: every recording has it; hold out movements only.")
    else:
        if len(movements) < 2:
            raise MyostreamError(
                f"A cross-class split needs at least two movement classes; the windows hold {movements}."
            )
        k = min(len(movements) - 1, max(1, int(round(test_fraction * len(movements)))))
        picked = set(np.random.default_rng(seed).permutation(movements)[:k].tolist())
        chosen = [c for c in movements if c in picked]
    test_mask = np.isin(windows.y, [windows.class_ids.index(c) for c in chosen])
    return _finish(windows, "cross-class", ~test_mask, test_mask, seed=seed, held_out_classes=tuple(chosen))


def repetition_split(windows: WindowSet, test_repetitions: Sequence[int] = NINAPRO_TEST_REPETITIONS) -> Split:
    """NinaPro's standard split: ``test_repetitions`` test, every other repetition trains."""
    reps = sorted(set(windows.repetition.tolist()) - {0})
    if not reps:
        raise MyostreamError("The windows carry no repetition numbers; use the random split for these recordings.")
    test_reps = tuple(int(r) for r in test_repetitions)
    test_mask = np.isin(windows.repetition, test_reps)
    train_mask = (windows.repetition > 0) & ~test_mask
    return _finish(windows, "repetition", train_mask, test_mask, test_repetitions=test_reps, meta={"repetitions": reps})


def cross_dataset(train: WindowSet, test: WindowSet, channels: ChannelMode = "error") -> tuple[WindowSet, Split]:
    """One set holding ``train`` then ``test`` windows, and the split between them.

    Window lengths and rates must match. Channel counts are reconciled by ``channels``:
    ``"error"`` (they must be equal), ``"select"`` (first channels both have) or
    ``"pad"`` (zero-pad to the larger). Class ids are the union, training classes first;
    test classes without training windows are listed in ``Split.held_out_classes``.
    """
    if train.rate != test.rate or train.length != test.length:
        raise MyostreamError(
            f"Cross-dataset windows differ ({train.length} samples at {train.rate:g} Hz vs {test.length} at {test.rate:g} Hz); "
            "window both sets at one rate and length."
        )
    names = [train.recordings[0].dataset or "training set", test.recordings[0].dataset or "test set"]
    n_channels = _reconcile([train.n_channels, test.n_channels], channels, names)
    class_ids = tuple(dict.fromkeys((*train.class_ids, *test.class_ids)))
    remap = np.array([class_ids.index(c) for c in test.class_ids], np.int64)
    both = WindowSet(
        recordings=[*train.recordings, *test.recordings],
        recording=np.concatenate([train.recording, test.recording + len(train.recordings)]).astype(np.int32),
        start=np.concatenate([train.start, test.start]),
        y=np.concatenate([train.y, remap[test.y]]),
        repetition=np.concatenate([train.repetition, test.repetition]),
        segment=np.concatenate([train.segment, test.segment + (train.segment.max() + 1 if len(train) else 0)]),
        class_ids=class_ids,
        length=train.length,
        rate=train.rate,
        n_channels=n_channels,
    )
    is_test = np.arange(len(both)) >= len(train)
    # test classes no training window shows: unseen, so the text stage leaves them out like cross-class
    trained = {train.class_ids[i] for i in np.unique(train.y)}
    unseen = tuple(c for c in class_ids if c not in trained and c in {test.class_ids[i] for i in np.unique(test.y)})
    split = _finish(
        both,
        "cross-dataset",
        ~is_test,
        is_test,
        held_out_classes=unseen,
        meta={"train_datasets": _datasets(train), "test_datasets": _datasets(test), "channels": channels},
    )
    return both, split


def _datasets(windows: WindowSet) -> list[str]:
    return sorted({r.dataset for r in windows.recordings})
