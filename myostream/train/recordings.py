"""Train and evaluate on recordings you already hold in memory: no data folder needed.

A notebook reads or builds :class:`~myostream.records.Recording` objects (any reader,
or its own arrays) and trains a checkpoint the live app loads::

    from myostream.train.recordings import train_on_recordings, evaluate_on_recordings

    record = train_on_recordings(recordings, "runs/mine", config="myosem-myo", protocol="cross-user",
                                 labels={"FIST": "fist", "OPEN": "open_hand", "REST": "rest"})
    scores = evaluate_on_recordings("runs/mine", other_recordings, labels={...})

``config`` is an experiment (``models/experiments/``: its ``[data]`` table says how to
prepare windows, its ``[augment]``, ``[protocol]``, ``[text]`` and training tables how to
train) or a model config (``models/``: defaults elsewhere). ``labels`` maps the recordings'
own label names (a dataset the project does not know) to catalog class ids. The
checkpoint records what it was trained on: each recording's name, subject, session and
a fingerprint of its samples (``training["trained_on"]``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from myostream.data.prepare import prepare_recordings
from myostream.data.sidecar import relabel
from myostream.data.splits import cross_dataset
from myostream.data.windows import extract_windows
from myostream.errors import MyostreamError
from myostream.records import Recording
from myostream.train.data import Prepared, check_channels, prepare_split, prepare_windows
from myostream.train.experiment import MEMORY, Experiment, load_experiment
from myostream.train.run import Log, train_run


def memory_experiment(
    config: str | Path, protocol: str | None = None, protocol_settings: Mapping[str, Any] | None = None, **data: Any
) -> Experiment:
    """The experiment ``config`` with recordings given in memory; ``data`` overrides ``[data]`` keys
    (``hop_ms``, ``normalisation``, ``rest``, ``classes``, ...). The config's named test subjects,
    classes and repetitions belong to its own data and are dropped; give yours in
    ``protocol_settings`` (e.g. ``{"test_subjects": ["S3"]}``)."""
    exp = load_experiment(config, data_folder=MEMORY)
    settings = {"test_subjects": None, "held_out_classes": None, "test_repetitions": None, **(protocol_settings or {})}
    bad = sorted(set(settings) - set(exp.protocol.__dataclass_fields__))
    if bad:
        raise MyostreamError(f"Unknown protocol setting(s) {', '.join(bad)}; use the [protocol] keys of an experiment.")
    for key in ("test_subjects", "held_out_classes", "test_repetitions"):
        if settings[key] is not None:
            settings[key] = tuple(settings[key])
    exp = replace(exp, protocol=replace(exp.protocol, **settings))
    if data:
        bad = sorted(set(data) - set(exp.data.__dataclass_fields__))
        if bad:
            raise MyostreamError(f"Unknown data setting(s) {', '.join(bad)}; use the [data] keys of an experiment.")
        exp = replace(exp, data=replace(exp.data, **data))
    if protocol is not None:
        exp = (
            exp.with_protocol(protocol)
            if protocol != "cross-dataset"
            else replace(exp, protocol=replace(exp.protocol, name=protocol))
        )
    return exp


def _labelled(recordings: Sequence[Recording], labels: Mapping[Any, str] | None) -> list[Recording]:
    if not recordings:
        raise MyostreamError("No recordings given; pass a list of Recording objects.")
    return [relabel(r, labels) for r in recordings] if labels is not None else list(recordings)


def train_on_recordings(
    recordings: Sequence[Recording],
    out: str | Path,
    *,
    config: str | Path = "myosem-myo",
    protocol: str | None = None,
    protocol_settings: Mapping[str, Any] | None = None,
    labels: Mapping[Any, str] | None = None,
    test_recordings: Sequence[Recording] | None = None,
    device: str = "auto",
    progress: bool = True,
    log: Log = logging.getLogger(__name__).info,
    cache: str | Path | None = None,
    **data: Any,
) -> dict[str, Any]:
    """Train ``config`` on ``recordings`` into the checkpoint folder ``out``, evaluate it on the
    protocol's test split (or, given ``test_recordings``, on every window of those: the
    cross-dataset protocol), and return the results record ``results.json`` holds. ``cache``:
    a stage-1 text-space folder shared between runs (default: the user's cache)."""
    exp = memory_experiment(
        config, "cross-dataset" if test_recordings is not None else protocol, protocol_settings, **data
    )
    windows = prepare_windows(exp, check=test_recordings is None, recordings=_labelled(recordings, labels))
    if test_recordings is None:
        prepared = prepare_split(exp, windows)
    else:
        test = prepare_windows(exp, check=False, recordings=_labelled(test_recordings, labels))
        ws, split = cross_dataset(windows, test, channels=exp.data.channels)
        check_channels(ws.n_channels, exp.model.n_channels)
        prepared = Prepared(ws, split)
    return train_run(exp, out, device=device, progress=progress, log=log, prepared=prepared, cache=cache)


def evaluate_on_recordings(
    checkpoint: str | Path | Any,
    recordings: Sequence[Recording],
    *,
    labels: Mapping[Any, str] | None = None,
    hop_ms: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Both-way retrieval metrics of a checkpoint (path or loaded model) on every window of
    ``recordings``, prepared by the checkpoint's own preprocessing (each wearing scaled by its
    own level when the model normalises per user). Classes the model does not rank are left out."""
    from myostream.model.checkpoint import load_checkpoint
    from myostream.train.evaluate import evaluate_model

    model = load_checkpoint(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
    prepared = prepare_recordings(_labelled(recordings, labels), model.preprocessing)
    known = [c for c in dict.fromkeys(n for r in prepared for n in r.label_names) if c in model.class_ids]
    if not known:
        raise MyostreamError(
            f"None of the recordings' classes is ranked by the model ({', '.join(model.class_ids)}); "
            "map their labels to the model's class ids with labels={...}."
        )
    ws = extract_windows(prepared, model.config.window_ms, hop_ms or model.preprocessing.hop_ms, classes=known)
    to_model = np.array([model.class_ids.index(c) for c in ws.class_ids])
    metrics = evaluate_model(model, torch.from_numpy(ws.data()), torch.from_numpy(to_model[ws.y]), seed=seed)
    return {"windows": len(ws), "classes": list(ws.class_ids), "metrics": metrics}
