"""One training run, start to finish: ``myostream train CONFIG``.

read the data (progress shown) → causal filter (the device's, as live) → windows →
protocol split (+ a validation split carved from the training part) → stage 1 text
prototypes (cached per catalog, held-out set and seed; held-out classes never train
stage 1 and are encoded only afterwards, as inference candidates) → stage 2 (input
statistics fitted on the training windows only) → stage 3 (projection and queries, then
the encoder's last layers lightly) → rejection rule fitted on the validation windows
(:mod:`myostream.rejection`; before a refit trains on them) → ONE checkpoint folder →
evaluation both ways on the test split → ``results.json`` + ``results.md``.

The data (experiment → windows → split) are :mod:`myostream.train.data`'s, the stage-1 text
space and its cache :mod:`myostream.train.textspace`'s, a saved checkpoint's re-evaluation
:mod:`myostream.train.evaluate`'s; this module runs the stages and writes the run's files.

Under ``torchrun`` every process reads the data and trains its shard (DDP, in
:func:`myostream.train.loop.fit`); only the first process trains stage 1, writes files
and evaluates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from myostream.data.splits import Split
from myostream.data.windows import WindowSet
from myostream.model import create_model
from myostream.model.checkpoint import save_checkpoint
from myostream.model.retrieval import RetrievalModel
from myostream.paths import run_folder
from myostream.records import Recording
from myostream.train import distributed
from myostream.train.data import Prepared, prepare_split, run_preprocessing, validation_split
from myostream.train.evaluate import embed_windows, evaluate_model, fit_rejection
from myostream.train.experiment import Experiment
from myostream.train.metrics import class_centre_similarity
from myostream.train.stage2 import train_stage2
from myostream.train.stage3 import train_stage3
from myostream.train.textspace import TextSpace, text_space

LOG_FILE = "train.jsonl"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"

Log = Callable[[str], None]


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
    space's inputs: :func:`~myostream.train.textspace.text_space`); ``prepared`` the run's windows and split when
    the caller already has them (:func:`~myostream.train.data.prepare_split`; a suite of runs reads the data once).
    """
    out = Path(out)
    main = distributed.is_main() if distributed.init_distributed() else True
    if not main:
        return _train_run(exp, out, main, device, progress, cache, log, prepared)
    with run_folder(out, "the checkpoint"):  # bad data found later leaves no empty run folder behind
        (out / LOG_FILE).unlink(missing_ok=True)
        return _train_run(exp, out, main, device, progress, cache, log, prepared)


def _train_run(
    exp: Experiment,
    out: Path,
    main: bool,
    device: str,
    progress: bool,
    cache: str | Path | None,
    log: Log,
    prepared: Prepared | None,
) -> dict[str, Any]:
    timings: dict[str, float] = {}
    start = tick = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - tick, 2)  # a refit trains the stages again
        tick = now

    cfg = exp.model_config()
    v = exp.variant
    say = log if main else (lambda _msg: None)
    say(
        f"[{exp.name}] {v.title} · protocol {exp.protocol.name}"
        + (
            f" fold {exp.protocol.fold + 1}/{exp.protocol.folds}"
            if exp.protocol.folds > 1 and exp.protocol.name == "cross-user"
            else ""
        )
    )

    prepared = prepared if prepared is not None else prepare_split(exp)
    ws, split = prepared.windows, prepared.split
    train_idx, val_idx = validation_split(
        ws, split.train, exp.protocol.validation_fraction, exp.protocol.seed, by=exp.protocol.validation
    )
    lap("data")
    class_ids = ws.class_ids
    held_out = tuple(split.held_out_classes)
    train_classes = tuple(c for c in class_ids if c not in held_out)
    say(
        f"  {len(ws.recordings)} recordings, {len(ws)} windows of {exp.data.window_ms:g} ms every {exp.data.hop_ms:g} ms; "
        f"train {len(train_idx)} / val {len(val_idx)} / test {len(split.test)}"
        + (f"; held-out classes {', '.join(held_out)}" if held_out else "")
        + (f"; test subjects {', '.join(split.held_out_subjects)}" if split.held_out_subjects else "")
        + (f"; test datasets {', '.join(split.meta['test_datasets'])}" if "test_datasets" in split.meta else "")
    )

    # Stage 1: the first process trains (or finds) the text space, the others read it.
    mode = v.prototypes
    if main:
        space = text_space(exp.text, class_ids, held_out, mode, exp.seed, cache, progress)
    if distributed.is_distributed():
        torch.distributed.barrier()
        if not main:
            space = text_space(exp.text, class_ids, held_out, mode, exp.seed, cache, progress=False)
    say(
        f"  text prototypes ({mode}): {'cached' if space.cached else 'built'} {space.folder.name}; "
        f"stage 1 trained on {len(space.trained_classes)} classes"
    )
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
        common: dict[str, Any] = dict(
            device=device, seed=exp.seed, log=log_path, progress=progress, val=val, augmentation=exp.augment
        )
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
        rejection = fit_rejection(
            model,
            torch.from_numpy(ws.data(val_idx)),
            torch.from_numpy(ws.y[val_idx]),
            prototypes=p_all,
            fitted_on=where + (", before the refit" if exp.protocol.refit else ""),
        )
        say(f"  rejection rule: {rejection.describe()}")
    refit = None
    if exp.protocol.refit and len(val_idx):
        # validation chose the epochs; train again on training + validation windows for that long
        e2, ea, eb = _selected_epochs(h2, h3, cfg)
        refit = {
            "stage2_epochs": e2,
            "stage3_epochs_a": ea,
            "stage3_epochs_b": eb,
            "windows": int(len(train_idx) + len(val_idx)),
        }
        say(f"  refit on training + validation windows: stage 2 {e2} epochs, stage 3 {ea} + {eb} epochs")
        everything = np.concatenate([train_idx, val_idx])
        model, h2, h3, before = stages(
            everything,
            np.empty(0, np.int64),
            replace(cfg.stage2, epochs=e2),
            replace(cfg.stage3, epochs_a=ea, epochs_b=eb),
        )

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
        say(
            f"  EMG->text R@1 {e2t['R@1']:.3f} R@3 {e2t['R@3']:.3f} MRR {e2t['MRR']:.3f} · "
            f"text->EMG R@1 {t2e['R@1']:.3f} MRR {t2e['MRR']:.3f} · {timings['total']:.0f} s"
        )
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


def similarity_record(
    model: RetrievalModel, x: torch.Tensor, y: torch.Tensor, prototypes: torch.Tensor
) -> dict[str, Any]:
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
        "stage1": {
            "mode": exp.variant.prototypes,
            "trained_classes": list(space.trained_classes),
            "cache": space.folder.name,
        },
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
        rows.append(
            {
                "name": r.name,
                "dataset": r.dataset,
                "subject": r.subject,
                "session": r.session,
                "samples": r.n_samples,
                "channels": r.n_channels,
                "rate": r.rate,
                "sha1": digest,
            }
        )
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
