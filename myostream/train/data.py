"""An experiment's data as windows: read (or simulate) its recordings, filter them as live,
scale each wearing to its level, window them, split them by the protocol (and carve a
validation part out of the training windows); what the windows went through becomes
the checkpoint's :class:`~myostream.preprocess.Preprocessing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from myostream.data.prepare import filter_recordings, person_key, person_levels, scale_recordings
from myostream.data.splits import (
    Split,
    cross_class_split,
    cross_dataset,
    cross_user_split,
    random_split,
    repetition_split,
)
from myostream.data.windows import WindowSet, extract_windows
from myostream.errors import MyostreamError
from myostream.preprocess import Preprocessing
from myostream.records import Chunk, Recording
from myostream.train.experiment import DataSpec, Experiment, ProtocolSpec


def read_recordings(data: DataSpec, n_channels: int, rate: float) -> list[Recording]:
    """The recordings an experiment names (progress bars come from the readers)."""
    if data.source == "simulated":
        return simulate_recordings(data, n_channels, rate)
    if data.source == "memory":
        raise MyostreamError(
            "This model was trained on recordings held in memory, which are not on disk to read again; pass --data "
            "with a folder of them, or evaluate in Python with myostream.train.recordings.evaluate_on_recordings."
        )
    folder = Path(data.folder or "")
    if not folder.is_dir():
        raise MyostreamError(f"Data folder {str(folder)!r} does not exist; pass --data with the dataset folder.")
    if data.source == "ninapro":
        from myostream.data.ninapro import read_ninapro_folder

        return read_ninapro_folder(
            folder, database=data.database, subjects=data.subjects, exercises=data.exercises, nonfinite=data.nonfinite
        )
    if data.source == "myo":
        from myostream.data.myo import read_myo_folder

        return read_myo_folder(folder, subjects=data.subjects, sessions=data.sessions_filter, nonfinite=data.nonfinite)
    from myostream.data.readers import read_dataset, read_session_folder

    if data.source in ("xdf", "table"):
        return read_dataset(folder, format=data.source, nonfinite=data.nonfinite)
    return read_session_folder(folder, nonfinite=data.nonfinite)


def _simulated_labels(chunk: Chunk) -> np.ndarray:
    """The labels the simulated armband gives every chunk it generates."""
    if chunk.labels is None:
        raise MyostreamError("The simulated armband generated a chunk without labels; it always labels its own.")
    return chunk.labels


def simulate_recordings(data: DataSpec, n_channels: int, rate: float) -> list[Recording]:
    """``seconds`` of the simulated armband for every (user, session), with true labels.

    Each user is a different simulated person (armband rotation, anatomy, own way of doing
    each gesture); each session puts the band on again (small rotation, gain, impedance
    and hum changes).
    """
    from tqdm.auto import tqdm

    from myostream.stream.simulated import SimulatedArmband

    recordings = []
    pairs = [(u, s) for u in data.users for s in range(data.sessions)]
    for user, session in tqdm(pairs, desc="simulating", unit="session", disable=None, leave=False):
        sim = SimulatedArmband(
            rate=rate,
            n_channels=n_channels,
            seed=data.seed,
            user=user,
            session=session,
            schedule=data.schedule,
            hold_s=data.hold_s,
            rest_s=data.rest_s,
            realtime=False,
        )
        chunk = sim.generate(data.seconds)
        recordings.append(
            Recording(
                emg=chunk.data,
                rate=rate,
                labels=_simulated_labels(chunk).astype(np.int16),
                label_names=sim.info.label_names,
                channel_names=sim.info.channel_names,
                subject=f"user{user}",
                session=str(session),
                dataset="simulated",
                unit=sim.info.unit,
                source=f"simulated:seed{data.seed}-user{user}-session{session}",
            )
        )
    return recordings


def make_windows(recordings: Sequence[Recording], data: DataSpec, rate: float, n_channels: int | None) -> WindowSet:
    """Labelled windows restricted to the classes that have any (in first-seen order).

    Recordings with different channel counts are reconciled by ``data.channels``; the
    result must have the model's ``n_channels`` (not checked when None).
    """
    ws = extract_windows(
        recordings,
        data.window_ms,
        data.hop_ms,
        label=data.label,
        rest=data.rest,
        classes=data.classes,
        channels=data.channels,
    )
    if abs(ws.rate - rate) > 1e-6 * rate:
        raise MyostreamError(
            f"The data are sampled at {ws.rate:g} Hz but the model expects {rate:g} Hz; "
            "use a model config for this dataset."
        )
    if n_channels is not None:
        check_channels(ws.n_channels, n_channels)
    present = [c for i, c in enumerate(ws.class_ids) if np.any(ws.y == i)]
    if len(present) < 2:
        raise MyostreamError(
            f"The data hold windows of {len(present)} class(es) ({', '.join(present)}); retrieval needs at least two."
        )
    if len(present) < len(ws.class_ids):
        remap = np.array([present.index(c) if c in present else -1 for c in ws.class_ids])
        ws = WindowSet(**{**ws.__dict__, "y": remap[ws.y], "class_ids": tuple(present)})
    return ws


def check_channels(have: int, model: int) -> None:
    if have != model:
        raise MyostreamError(
            f"The data have {have} channels but the model expects {model}; use a model config for this dataset "
            '(or set channels = "select" or "pad" in [data] to reconcile them).'
        )


def prepare_windows(
    exp: Experiment, data: DataSpec | None = None, check: bool = True, recordings: Sequence[Recording] | None = None
) -> WindowSet:
    """Read (or take ``recordings``), filter, scale per person (when ``[data] normalisation``
    asks) and window the experiment's data (or ``data``, e.g. its ``test_data``).

    Each wearing's level is kept in its recordings' ``meta["level"]`` (the trainer takes
    the training people's median as the live prior).
    """
    cfg = exp.model
    data = data or exp.data
    if recordings is None:
        recordings = read_recordings(data, cfg.n_channels, cfg.rate)
    recordings = filter_recordings(recordings, data.filter)
    if data.normalisation != "none":
        levels = person_levels(recordings, data.normalisation)
        recordings = [
            replace(r, meta={**r.meta, "level": levels[person_key(r)].tolist()})
            for r in scale_recordings(recordings, levels)
        ]
    return make_windows(recordings, data, cfg.rate, cfg.n_channels if check else None)


def run_preprocessing(exp: Experiment, ws: WindowSet, train_idx: np.ndarray) -> Preprocessing:
    """What the run's windows went through, for its checkpoint (prior level: median over the
    training wearings; ring bands: their mean level profile, for orientation estimates)."""
    from myostream.stream.orientation import level_profile

    data = exp.data
    prior = profile = None
    if data.normalisation != "none":
        wearings = {
            person_key(ws.recordings[i]): ws.recordings[i].meta["level"] for i in np.unique(ws.recording[train_idx])
        }
        levels = np.array(list(wearings.values()), np.float64)
        prior = tuple(round(float(v), 6) for v in np.median(levels, axis=0))
        if data.ring:  # the anatomy a wearer's orientation is estimated against
            profile = tuple(round(float(v), 6) for v in np.mean([level_profile(lv) for lv in levels], axis=0))
    cfg = exp.model
    return Preprocessing(
        rate=cfg.rate,
        n_channels=cfg.n_channels,
        window_ms=cfg.window_ms,
        hop_ms=round(cfg.window_ms / 4 * cfg.rate / 1000.0) * 1000.0 / cfg.rate,
        filter=data.filter,
        normalisation=data.normalisation,
        prior_scale=prior,
        ring=data.ring,
        ring_profile=profile,
        channel_names=tuple(ws.recordings[0].channel_names) if ws.n_channels == ws.recordings[0].n_channels else (),
    )


@dataclass(frozen=True)
class Prepared:
    """The windows of one run and its protocol split (indices into ``windows``)."""

    windows: WindowSet
    split: Split


def prepare_split(exp: Experiment, windows: WindowSet | None = None) -> Prepared:
    """The run's windows and test split. ``windows``: the experiment's ``[data]`` windows
    when the caller already has them.

    Cross-dataset joins the ``[data]`` windows (training) with the ``[test_data]`` windows
    (test), channel counts reconciled by ``[data] channels``; test classes the training
    data lack are held out like cross-class ones.
    """
    if exp.protocol.name != "cross-dataset":
        ws = windows if windows is not None else prepare_windows(exp)
        return Prepared(ws, protocol_split(ws, exp.protocol))
    if exp.test_data is None:
        raise MyostreamError(
            f"Experiment {exp.name!r} has no [test_data] for the cross-dataset protocol; "
            "add one or pass --test-data DIR."
        )
    train = windows if windows is not None else prepare_windows(exp, check=False)
    test = prepare_windows(exp, exp.test_data, check=False)
    ws, split = cross_dataset(train, test, channels=exp.data.channels)
    check_channels(ws.n_channels, exp.model.n_channels)
    return Prepared(ws, split)


def protocol_split(ws: WindowSet, p: ProtocolSpec) -> Split:
    """The test split of protocol ``p`` (cross-user folds: subjects in a seeded order cut into ``folds``)."""
    if p.name == "random":
        return random_split(ws, test_fraction=p.test_fraction, seed=p.seed)
    if p.name == "cross-user":
        return cross_user_split(
            ws, test_subjects=p.test_subjects, test_fraction=p.test_fraction, seed=p.seed, folds=p.folds, fold=p.fold
        )
    if p.name == "cross-class":
        return cross_class_split(ws, held_out_classes=p.held_out_classes, seed=p.seed)
    if p.test_repetitions is not None:
        return repetition_split(ws, test_repetitions=p.test_repetitions)
    return repetition_split(ws)


def validation_split(
    ws: WindowSet, train: np.ndarray, fraction: float, seed: int, by: str = "runs"
) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation set out of the training windows: whole labelled runs stratified by
    class (``by="runs"``), or whole people (``"subjects"``: ``fraction`` of them, at least one)."""
    if fraction <= 0:
        return train, np.empty(0, np.int64)
    if by == "subjects":
        subjects = sorted(set(ws.subject[train]))
        if len(subjects) < 2:
            raise MyostreamError(
                f"Validation on held-out subjects needs at least two training subjects; the training part holds "
                f'{len(subjects)}. Set [protocol] validation = "runs".'
            )
        k = min(len(subjects) - 1, max(1, round(fraction * len(subjects))))
        held = np.random.default_rng(seed + 1).permutation(subjects)[:k].tolist()
        inner = cross_user_split(ws.subset(train), test_subjects=held, seed=seed)
        return train[inner.train], train[inner.test]
    try:
        inner = random_split(ws.subset(train), test_fraction=fraction, seed=seed + 1)
    except MyostreamError:
        return train, np.empty(0, np.int64)  # too few runs to spare any: train on all
    return train[inner.train], train[inner.test]
