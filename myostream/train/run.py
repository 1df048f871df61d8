"""One training run, start to finish: ``myostream train CONFIG``.

read the data (progress shown) → causal filter (the device's, as live) → windows →
protocol split (+ a validation split carved from the training part) → stage 1 text
prototypes (cached per catalog, held-out set and seed; held-out classes never train
stage 1 and are encoded only afterwards, as inference candidates) → stage 2 (input
statistics fitted on the training windows only) → stage 3 (projection and queries, then
the encoder's last layers lightly) → rejection rule fitted on the validation windows
(:mod:`myostream.rejection`; before a refit trains on them) → ONE checkpoint folder →
evaluation both ways on the test split → ``results.json`` + ``results.md``.

Under ``torchrun`` every process reads the data and trains its shard (DDP, in
:func:`myostream.train.loop.fit`); only the first process trains stage 1, writes files
and evaluates.
"""

from __future__ import annotations

import logging
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

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
from myostream.paths import run_folder
from myostream.model import create_model
from myostream.model.checkpoint import save_checkpoint
from myostream.model.retrieval import CatalogEntry, RetrievalModel
from myostream.paths import cache_dir
from myostream.preprocess import Preprocessing
from myostream.records import Recording
from myostream.train import distributed
from myostream.train.evaluate import embed_windows, evaluate_model, fit_rejection
from myostream.train.metrics import class_centre_similarity
from myostream.train.augment import Augmentation
from myostream.train.experiment import DataSpec, Experiment, ProtocolSpec, TextSpec
from myostream.train.stage2 import train_stage2
from myostream.train.stage3 import train_stage3

LOG_FILE = "train.jsonl"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
STAGE1_DIR = "stage1"

Log = Callable[[str], None]


# ----------------------------------------------------------------------------- data


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

        return read_ninapro_folder(folder, database=data.database, subjects=data.subjects, exercises=data.exercises,
                                   nonfinite=data.nonfinite)  # type: ignore[arg-type]
    if data.source == "myo":
        from myostream.data.myo import read_myo_folder

        return read_myo_folder(folder, subjects=data.subjects, sessions=data.sessions_filter,
                               nonfinite=data.nonfinite)  # type: ignore[arg-type]
    from myostream.data.readers import read_dataset, read_session_folder

    if data.source in ("xdf", "table"):
        return read_dataset(folder, format=data.source, nonfinite=data.nonfinite)
    return read_session_folder(folder, nonfinite=data.nonfinite)  # type: ignore[arg-type]


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
            rate=rate, n_channels=n_channels, seed=data.seed, user=user, session=session, schedule=data.schedule,
            hold_s=data.hold_s, rest_s=data.rest_s, realtime=False,
        )
        chunk = sim.generate(data.seconds)
        recordings.append(
            Recording(
                emg=chunk.data,
                rate=rate,
                labels=chunk.labels.astype(np.int16),
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
    ws = extract_windows(recordings, data.window_ms, data.hop_ms, label=data.label, rest=data.rest, classes=data.classes,
                         channels=data.channels)  # type: ignore[arg-type]
    if abs(ws.rate - rate) > 1e-6 * rate:
        raise MyostreamError(
            f"The data are sampled at {ws.rate:g} Hz but the model expects {rate:g} Hz; use a model config for this dataset."
        )
    if n_channels is not None:
        check_channels(ws.n_channels, n_channels)
    present = [c for i, c in enumerate(ws.class_ids) if np.any(ws.y == i)]
    if len(present) < 2:
        raise MyostreamError(f"The data hold windows of {len(present)} class(es) ({', '.join(present)}); retrieval needs at least two.")
    if len(present) < len(ws.class_ids):
        remap = np.array([present.index(c) if c in present else -1 for c in ws.class_ids])
        ws = WindowSet(**{**ws.__dict__, "y": remap[ws.y], "class_ids": tuple(present)})
    return ws


def check_channels(have: int, model: int) -> None:
    if have != model:
        raise MyostreamError(
            f"The data have {have} channels but the model expects {model}; use a model config for this dataset "
            "(or set channels = \"select\" or \"pad\" in [data] to reconcile them)."
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
        recordings = [replace(r, meta={**r.meta, "level": levels[person_key(r)].tolist()})
                      for r in scale_recordings(recordings, levels)]
    return make_windows(recordings, data, cfg.rate, cfg.n_channels if check else None)


def run_preprocessing(exp: Experiment, ws: WindowSet, train_idx: np.ndarray) -> Preprocessing:
    """What the run's windows went through, for its checkpoint (prior level: median over the
    training wearings; ring bands: their mean level profile, for orientation estimates)."""
    from myostream.stream.orientation import level_profile

    data = exp.data
    prior = profile = None
    if data.normalisation != "none":
        wearings = {person_key(ws.recordings[i]): ws.recordings[i].meta["level"] for i in np.unique(ws.recording[train_idx])}
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
        raise MyostreamError(f"Experiment {exp.name!r} has no [test_data] for the cross-dataset protocol; add one or pass --test-data DIR.")
    train = windows if windows is not None else prepare_windows(exp, check=False)
    test = prepare_windows(exp, exp.test_data, check=False)
    ws, split = cross_dataset(train, test, channels=exp.data.channels)  # type: ignore[arg-type]
    check_channels(ws.n_channels, exp.model.n_channels)
    return Prepared(ws, split)


def protocol_split(ws: WindowSet, p: ProtocolSpec) -> Split:
    """The test split of protocol ``p`` (cross-user folds: subjects in a seeded order cut into ``folds``)."""
    if p.name == "random":
        return random_split(ws, test_fraction=p.test_fraction, seed=p.seed)
    if p.name == "cross-user":
        return cross_user_split(ws, test_subjects=p.test_subjects, test_fraction=p.test_fraction, seed=p.seed,
                                folds=p.folds, fold=p.fold)
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
                f"{len(subjects)}. Set [protocol] validation = \"runs\"."
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


# ----------------------------------------------------------------------------- text


@dataclass(frozen=True)
class TextSpace:
    """Prototypes of every class of the run (rows in ``class_ids`` order) and where they came from."""

    prototypes: torch.Tensor
    class_ids: tuple[str, ...]
    #: classes whose texts trained stage 1 (empty when the text encoder is untrained)
    trained_classes: tuple[str, ...]
    folder: Path
    catalog: list[CatalogEntry]
    cached: bool


def text_space(
    text: TextSpec,
    class_ids: Sequence[str],
    held_out: Sequence[str],
    mode: str,
    seed: int,
    cache: Path | None = None,
    progress: bool = True,
) -> TextSpace:
    """Class prototypes for ``class_ids``; reused from ``cache`` when the same (catalogs,
    classes, held-out set, seed, settings) were computed before.

    ``mode``: ``"stage1"`` trains the text encoder on the classes minus ``held_out``
    (held-out classes are encoded afterwards only); ``"untrained"`` builds the same
    four-view prototypes with the untrained encoder; ``"label"`` embeds the short label
    alone with the untrained encoder.
    """
    from myostream.text.catalog import catalog_for, load_catalogs
    from myostream.text.encoder import TextEncoder
    from myostream.text.stage1 import Stage1Config, export_prototypes, load_prototypes, save_stage1, train_stage1

    catalog = catalog_for(class_ids, load_catalogs(list(text.catalogs)))
    entries = [CatalogEntry(c.id, c.t0, c.t2) for c in catalog]
    held = sorted(held_out) if mode == "stage1" else []
    # the texts themselves are part of the key: an edited catalog never reuses stale prototypes
    texts = hashlib.sha1(json.dumps([[c.id, c.t0, c.t1, c.t2, list(c.t3)] for c in catalog]).encode()).hexdigest()
    key = {
        "catalogs": list(text.catalogs),
        "texts": texts,
        "classes": list(class_ids),
        "held_out": held,
        "seed": seed,
        "mode": mode,
        "text_model": text.model,
        "stage1": text.stage1 if mode == "stage1" else None,
    }
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    cache = Path(cache) if cache is not None else cache_dir() / STAGE1_DIR
    folder = cache / f"{mode}-{len(class_ids)}classes-{len(held)}held-seed{seed}-{digest}"
    if (folder / "prototypes.json").is_file():
        prototypes, ids, meta = load_prototypes(folder)
        if meta.get("key") == key and list(ids) == list(class_ids):
            return TextSpace(prototypes, tuple(ids), tuple(meta.get("trained_classes", ())), folder, entries, True)

    encoder = TextEncoder.from_pretrained(text.model, seed=seed)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if mode == "stage1":
        torch.manual_seed(seed)
        result = train_stage1(catalog, encoder, Stage1Config(**text.stage1, seed=seed), held_out=held, progress=progress)
        trained = tuple(c for c in result.class_ids if c not in result.held_out)
        save_stage1(result, tmp, meta={"key": key, "trained_classes": list(trained)})
        prototypes, ids = result.prototypes, result.class_ids
    else:
        encoder.set_trainable(0)  # what gets saved: the (untrained) projection only
        if mode == "untrained":
            from myostream.text.stage1 import build_prototypes

            prototypes, ids = build_prototypes(encoder, catalog)
        else:
            prototypes, ids = encoder.encode([c.t0 for c in catalog]), catalog.ids
        trained = ()
        encoder.save(tmp)
        export_prototypes(tmp, prototypes, ids, meta={"key": key, "trained_classes": []})
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return TextSpace(prototypes.float(), tuple(ids), trained, folder, entries, False)


# ----------------------------------------------------------------------------- run


def train_run(
    exp: Experiment,
    out: str | Path,
    device: str = "auto",
    progress: bool = True,
    cache: str | Path | None = None,
    log: Log = logging.getLogger(__name__).info,
    prepared: Prepared | None = None,
) -> dict[str, Any]:
    """Train ``exp`` into the checkpoint folder ``out``, evaluate it, write the reports.

    Returns the results record (what ``results.json`` holds). ``cache`` is the stage-1
    cache folder (default: the user's cache, shared by every command, keyed by the text
    space's inputs: :func:`text_space`); ``prepared`` the run's windows and split when
    the caller already has them (:func:`prepare_split`; a suite of runs reads the data once).
    """
    out = Path(out)
    main = distributed.is_main() if distributed.init_distributed() else True
    cache = Path(cache) if cache is not None else cache_dir() / STAGE1_DIR
    if not main:
        return _train_run(exp, out, main, device, progress, cache, log, prepared)
    with run_folder(out, "the checkpoint"):  # bad data found later leaves no empty run folder behind
        (out / LOG_FILE).unlink(missing_ok=True)
        return _train_run(exp, out, main, device, progress, cache, log, prepared)


def _train_run(
    exp: Experiment, out: Path, main: bool, device: str, progress: bool, cache: Path, log: Log,
    prepared: Prepared | None,
) -> dict[str, Any]:
    timings: dict[str, float] = {}
    start = tick = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 2)
        tick = now

    cfg = exp.model_config()
    v = exp.variant
    say = log if main else (lambda _msg: None)
    say(f"[{exp.name}] {v.title} · protocol {exp.protocol.name}"
        + (f" fold {exp.protocol.fold + 1}/{exp.protocol.folds}" if exp.protocol.folds > 1 and exp.protocol.name == "cross-user" else ""))

    prepared = prepared if prepared is not None else prepare_split(exp)
    ws, split = prepared.windows, prepared.split
    train_idx, val_idx = validation_split(ws, split.train, exp.protocol.validation_fraction, exp.protocol.seed,
                                          by=exp.protocol.validation)
    lap("data")
    class_ids = ws.class_ids
    held_out = tuple(split.held_out_classes)
    train_classes = tuple(c for c in class_ids if c not in held_out)
    say(f"  {len(ws.recordings)} recordings, {len(ws)} windows of {exp.data.window_ms:g} ms every {exp.data.hop_ms:g} ms; "
        f"train {len(train_idx)} / val {len(val_idx)} / test {len(split.test)}"
        + (f"; held-out classes {', '.join(held_out)}" if held_out else "")
        + (f"; test subjects {', '.join(split.held_out_subjects)}" if split.held_out_subjects else "")
        + (f"; test datasets {', '.join(split.meta['test_datasets'])}" if "test_datasets" in split.meta else ""))

    # Stage 1: the first process trains (or finds) the text space, the others read it.
    mode = v.prototypes
    if main:
        space = text_space(exp.text, class_ids, held_out, mode, exp.seed, cache, progress)
    if distributed.is_distributed():
        torch.distributed.barrier()
        if not main:
            space = text_space(exp.text, class_ids, held_out, mode, exp.seed, cache, progress=False)
    say(f"  text prototypes ({mode}): {'cached' if space.cached else 'built'} {space.folder.name}; "
        f"stage 1 trained on {len(space.trained_classes)} classes")
    lap("stage1")

    p_all = space.prototypes
    train_rows = [class_ids.index(c) for c in train_classes]
    p_train = p_all[train_rows]
    to_train = np.full(len(class_ids), -1, np.int64)
    to_train[train_rows] = np.arange(len(train_rows))

    log_path = out / LOG_FILE
    x_test = torch.from_numpy(ws.data(split.test))
    y_test = torch.from_numpy(ws.y[split.test].astype(np.int64))

    def stages(indices: np.ndarray, val_indices: np.ndarray, stage2: Any, stage3: Any) -> tuple[Any, ...]:
        """A fresh model trained through stages 2 and 3 on ``indices`` (validated on ``val_indices``)."""
        torch.manual_seed(exp.seed)
        model = create_model(cfg, p_train, train_classes, architecture=v.architecture, n_classes=len(train_classes))
        model.set_preprocessing(run_preprocessing(exp, ws, indices))
        x = torch.from_numpy(ws.data(indices))
        y = torch.from_numpy(to_train[ws.y[indices]])
        val = None
        if len(val_indices):
            val = (torch.from_numpy(ws.data(val_indices)), torch.from_numpy(to_train[ws.y[val_indices]]))
        common = dict(device=device, seed=exp.seed, log=log_path, progress=progress, val=val, augmentation=exp.augment)
        h2 = train_stage2(model, x, y, config=stage2, **common)
        _say_epoch(say, _kept(h2))
        lap("stage2")
        before = similarity_record(model, x_test, y_test, p_all) if main else None
        h3 = train_stage3(model, x, y, prototypes=p_train, config=stage3, **common)
        _say_epoch(say, _kept(h3))
        lap("stage3")
        return model, h2, h3, before

    model, h2, h3, before = stages(train_idx, val_idx, cfg.stage2, cfg.stage3)
    # the rejection rule comes from validation windows this model never trained on; a refit
    # below trains on them, so its rule stays the one this model's validation scores gave
    rejection = None
    if main and len(val_idx):
        where = f"{len(val_idx)} validation windows (by {exp.protocol.validation})"
        rejection = fit_rejection(model, torch.from_numpy(ws.data(val_idx)), torch.from_numpy(ws.y[val_idx]),
                                  prototypes=p_all, fitted_on=where + (", before the refit" if exp.protocol.refit else ""))
        say(f"  rejection rule: {rejection.describe()}")
    refit = None
    if exp.protocol.refit and len(val_idx):
        # validation chose the epochs; train again on training + validation windows for that long
        e2, ea, eb = _selected_epochs(h2, h3, cfg)
        refit = {"stage2_epochs": e2, "stage3_epochs_a": ea, "stage3_epochs_b": eb,
                 "windows": int(len(train_idx) + len(val_idx))}
        say(f"  refit on training + validation windows: stage 2 {e2} epochs, stage 3 {ea} + {eb} epochs")
        everything = np.concatenate([train_idx, val_idx])
        model, h2, h3, before = stages(everything, np.empty(0, np.int64), replace(cfg.stage2, epochs=e2),
                                       replace(cfg.stage3, epochs_a=ea, epochs_b=eb))

    model.set_prototypes(p_all, class_ids)
    model.catalog = {e.id: e for e in space.catalog}
    model.rejection = rejection
    record: dict[str, Any] = {}
    if main:
        metrics = evaluate_model(model, x_test, y_test, seed=exp.seed)
        after = similarity_record(model, x_test, y_test, p_all)
        lap("evaluate")
        timings["total"] = round(time.perf_counter() - start, 2)
        model.metadata = _metadata(exp, split, model, space, ws, train_idx, val_idx, timings, device)
        save_checkpoint(model, out, catalog=space.catalog, training=model.metadata)
        for f in space.folder.glob("text_encoder.*"):
            shutil.copy2(f, out / f.name)  # free-text queries need the encoder of these prototypes
        record = {
            "experiment": exp.name,
            "variant": v.name,
            "title": v.title,
            "group": v.group,
            "protocol": exp.protocol.name,
            "fold": exp.protocol.fold if exp.protocol.name == "cross-user" and exp.protocol.folds > 1 else None,
            "split": split.describe(),
            "class_ids": list(class_ids),
            "held_out_classes": list(held_out),
            "stage1_trained_classes": list(space.trained_classes),
            "windows": {"train": int(len(train_idx)), "validation": int(len(val_idx)), "test": int(len(split.test))},
            "metrics": metrics,
            "similarity": {"before_stage3": before, "after_stage3": after},
            "final_epochs": {"stage2": _kept(h2), "stage3": _kept(h3)},
            "refit": refit,
            "rejection": None if rejection is None else rejection.to_dict(),
            "wall_s": timings,
            "device": str(next(model.parameters()).device),
            "threads": torch.get_num_threads(),
            "checkpoint": str(out),
            "run": exp.to_dict(),
        }
        write_results(record, out)
        e2t, t2e = metrics["emg_to_text"], metrics["text_to_emg"]
        say(f"  EMG->text R@1 {e2t['R@1']:.3f} R@3 {e2t['R@3']:.3f} MRR {e2t['MRR']:.3f} · "
            f"text->EMG R@1 {t2e['R@1']:.3f} MRR {t2e['MRR']:.3f} · {timings['total']:.0f} s")
    return record


def _selected_epochs(h2: list[dict[str, Any]], h3: list[dict[str, Any]], cfg: Any) -> tuple[int, int, int]:
    """(stage-2 epochs, stage-3 phase-A epochs, phase-B epochs) up to the epochs validation kept."""
    e2 = int(_kept(h2)["epoch"])
    r3 = _kept(h3)
    if r3.get("phase") == "B":
        return e2, cfg.stage3.epochs_a, int(r3["epoch"])
    return e2, int(r3["epoch"]), 0


def _kept(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The epoch whose weights a stage kept: the one validation selected, else the last."""
    return next((r for r in history if r.get("selected")), history[-1])


def _say_epoch(say: Log, r: dict[str, Any]) -> None:
    keys = [k for k in ("loss", "acc", "r1", "val_acc", "val_r1") if k in r]
    phase = f" phase {r['phase']}" if "phase" in r else ""
    kept = " (kept: best on validation)" if r.get("selected") else ""
    say(f"  {r['stage']}{phase} epoch {r['epoch']}{kept}: " + ", ".join(f"{k} {r[k]:.3f}" for k in keys))


def similarity_record(model: RetrievalModel, x: torch.Tensor, y: torch.Tensor, prototypes: torch.Tensor) -> dict[str, Any]:
    """Cosine between each test class's mean EMG embedding and every prototype (paper Fig. 3c), for results.json."""
    sim = class_centre_similarity(embed_windows(model, x), y, prototypes)
    classes = sorted(set(y.tolist()))
    return {"rows": classes, "matrix": [[round(float(v), 4) for v in sim[c]] for c in classes]}


def _metadata(
    exp: Experiment,
    split: Split,
    model: RetrievalModel,
    space: TextSpace,
    ws: WindowSet,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    timings: dict[str, float],
    device: str,
) -> dict[str, Any]:
    return {
        "experiment": exp.to_dict(),
        "variant": exp.variant.name,
        # the filter the training windows went through: the live app applies the same
        "window_ms": exp.data.window_ms,
        "hop_ms": exp.data.hop_ms,
        "split": split.describe(),
        "held_out_classes": list(split.held_out_classes),
        "stage1": {"mode": exp.variant.prototypes, "trained_classes": list(space.trained_classes), "cache": space.folder.name},
        "normaliser": {
            "mean": [round(float(v), 6) for v in model.input_shift],
            "std": [round(float(v), 6) for v in model.input_scale],
            "fitted_on": "training windows only",
        },
        "windows": {"train": int(len(train_idx)), "validation": int(len(val_idx)), "test": int(len(split.test))},
        "recordings": sorted({r.source or r.name for r in ws.recordings}),
        # what each wearing was, and a fingerprint of its samples (recordings held in memory have no file)
        "trained_on": _fingerprints([ws.recordings[i] for i in np.unique(ws.recording[train_idx])]),
        "seed": exp.seed,
        "device": device,
        "wall_s": timings,
    }


def _fingerprints(recordings: Sequence[Recording]) -> list[dict[str, Any]]:
    """Per recording: name, dataset, subject, session, samples, channels, rate and the SHA-1 of its samples."""
    rows = []
    for r in recordings:
        digest = hashlib.sha1(np.ascontiguousarray(np.asarray(r.emg[:], np.float32)).tobytes()).hexdigest()[:16]
        rows.append({"name": r.name, "dataset": r.dataset, "subject": r.subject, "session": r.session,
                     "samples": r.n_samples, "channels": r.n_channels, "rate": r.rate, "sha1": digest})
    return rows


def write_results(record: dict[str, Any], out: Path) -> None:
    from myostream.train.summary import run_markdown

    (out / RESULTS_JSON).write_text(json.dumps(record, indent=2, default=_json_default) + "\n")
    (out / RESULTS_MD).write_text(run_markdown(record))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# ----------------------------------------------------------------------------- saved checkpoints


def experiment_of(model: RetrievalModel, checkpoint: Path) -> Experiment:
    """The experiment a checkpoint was trained in, rebuilt from its training record."""
    from myostream.train.experiment import VARIANTS

    record = model.metadata.get("experiment")
    if not isinstance(record, dict):
        raise MyostreamError(
            f"Checkpoint {str(checkpoint)!r} does not record its data and protocol (not written by `myostream train`); "
            "evaluate it from Python with myostream.train.evaluate.evaluate_model."
        )
    try:
        data = _data_spec(record["data"])
        test_data = _data_spec(record["test_data"]) if record.get("test_data") else None
        p = dict(record["protocol"])
        for key in ("test_subjects", "held_out_classes", "test_repetitions"):
            if p.get(key) is not None:
                p[key] = tuple(p[key])
        t = dict(record["text"])
        return Experiment(
            name=record["name"],
            description=record.get("description", ""),
            model=model.config,
            data=data,
            test_data=test_data,
            augment=Augmentation(**record.get("augment", {})),
            protocol=ProtocolSpec(**p),
            text=TextSpec(catalogs=tuple(t["catalogs"]), model=t.get("model"), stage1=t.get("stage1", {})),
            variant=VARIANTS[record["variant"]["name"]],
            seed=int(record.get("seed", 0)),
            path=record.get("path", ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MyostreamError(f"Checkpoint {str(checkpoint)!r} has a malformed training record ({exc!r}).") from None


def _data_spec(record: dict[str, Any]) -> DataSpec:
    """A :class:`DataSpec` back from its JSON record."""
    from myostream.preprocess import FilterSpec

    d = dict(record)
    d["filter"] = FilterSpec(**d["filter"]) if d.get("filter") else None
    for key in ("classes", "exercises", "subjects", "sessions_filter", "users"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    return DataSpec(**d)


def evaluate_checkpoint(
    checkpoint: str | Path,
    data_folder: str | None = None,
    protocol: str | None = None,
    fold: int | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Evaluate a saved checkpoint both ways on the test split of its experiment's data
    (or of ``data_folder`` / ``protocol`` instead)."""
    from dataclasses import replace

    from myostream.model.checkpoint import load_checkpoint

    checkpoint = Path(checkpoint)
    model = load_checkpoint(checkpoint, device=device)
    exp = experiment_of(model, checkpoint)
    trained = (exp.protocol.name, exp.protocol.fold, exp.data, exp.test_data)
    cross = (protocol or exp.protocol.name) == "cross-dataset"
    if cross and data_folder is not None:
        exp = exp.with_test_data(data_folder)  # --data names the recordings to test on
    elif data_folder is not None:
        exp = replace(exp, data=replace(exp.data, folder=str(data_folder),
                                        source=exp.data.source if exp.data.source != "simulated" else _source_of(data_folder)))
    if protocol is not None or fold is not None:
        exp = exp.with_protocol(protocol or exp.protocol.name, fold)
    start = time.perf_counter()
    if cross:  # every window of the test recordings
        assert exp.test_data is not None  # with_protocol checked
        ws = prepare_windows(exp, exp.test_data, check=False)
        if ws.n_channels != model.config.n_channels and exp.test_data.channels != "error":
            ws = ws.with_channels(model.config.n_channels)
        check_channels(ws.n_channels, model.config.n_channels)
        split = Split("cross-dataset", np.empty(0, np.int64), np.arange(len(ws)),
                      meta={"test_datasets": sorted({r.dataset for r in ws.recordings}), "channels": exp.test_data.channels})
    else:
        ws = prepare_windows(exp)
        split = protocol_split(ws, exp.protocol)
    unknown = [c for c in ws.class_ids if c not in model.class_ids]
    test = split.test[np.isin(ws.y[split.test], [ws.class_ids.index(c) for c in ws.class_ids if c in model.class_ids])]
    if len(test) == 0:
        raise MyostreamError(f"None of the test windows' classes ({', '.join(ws.class_ids)}) is known to the checkpoint; "
                             f"it ranks {', '.join(model.class_ids)}.")
    to_model = np.array([model.class_ids.index(c) if c in model.class_ids else -1 for c in ws.class_ids])
    x = torch.from_numpy(ws.data(test))
    y = torch.from_numpy(to_model[ws.y[test]])
    metrics = evaluate_model(model, x, y, seed=exp.seed)
    same = (exp.protocol.name, exp.protocol.fold, exp.data, exp.test_data) == trained
    return {
        "experiment": exp.name,
        "variant": exp.variant.name,
        "title": exp.variant.title,
        "group": exp.variant.group,
        "protocol": exp.protocol.name,
        "fold": exp.protocol.fold if exp.protocol.name == "cross-user" and exp.protocol.folds > 1 else None,
        "split": split.describe(),
        "class_ids": list(model.class_ids),
        "held_out_classes": list(split.held_out_classes),
        "windows": {"train": 0, "test": int(len(test))},
        "skipped_classes": unknown,
        "same_split_as_training": same,
        "metrics": metrics,
        "wall_s": {"evaluate": round(time.perf_counter() - start, 2)},
        "checkpoint": str(checkpoint),
    }


def _source_of(folder: str | Path) -> str:
    from myostream.train.experiment import _detect_source

    return _detect_source(Path(folder))
