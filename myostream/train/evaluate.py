"""Embed a test set with a trained model, score retrieval in both directions, fit its rejection rule;
evaluate a saved checkpoint again on the test split of the experiment it records (``myostream eval``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from myostream.data.splits import Split
from myostream.errors import MyostreamError
from myostream.model.retrieval import RetrievalModel
from myostream.rejection import DEFAULT_FAR, Rejection, top1_correct
from myostream.train.augment import Augmentation
from myostream.train.data import check_channels, prepare_windows, protocol_split
from myostream.train.experiment import DataSpec, Experiment, ProtocolSpec, TextSpec
from myostream.train.metrics import KS, emg_to_text_from_ranks, target_ranks, text_to_emg_from_scores


@torch.inference_mode()
def embed_windows(model: RetrievalModel, x: Tensor, batch_size: int = 512) -> Tensor:
    """Embeddings ``[N, d]`` (CPU, float32) of raw windows ``[N, T, C]``, batch by batch."""
    x = torch.as_tensor(x, dtype=torch.float32)
    return torch.cat([model.embed(b).float().cpu() for b in x.split(batch_size)])


def evaluate_model(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    classes: Sequence[int] | None = None,
    ks: Sequence[int] = KS,
    n_bootstrap: int = 1000,
    n_episodes: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """Both directions against the model's prototypes; ``y`` indexes ``model.class_ids``.

    EMG->text ranks all of the model's candidate classes; text->EMG episodes use
    ``classes`` (default: the classes present in ``y``).
    """
    scores = window_scores(model, x).double()
    y = torch.as_tensor(y).long()
    return {
        "emg_to_text": emg_to_text_from_ranks(target_ranks(scores, y), ks, n_bootstrap, seed),
        "text_to_emg": text_to_emg_from_scores(scores.T, y, classes, ks, n_episodes, seed),
        "candidates": list(model.class_ids),
    }


def window_scores(model: RetrievalModel, x: Tensor, prototypes: Tensor | None = None) -> Tensor:
    """Class scores ``[N, K]`` (CPU, float32) of raw windows: what :meth:`RetrievalModel.rank` scores
    the model's own candidates by (cosine, plus a calibration's LDA fusion), batch by batch; with
    other ``prototypes``, the cosine of the embeddings with them."""
    if prototypes is not None:
        return embed_windows(model, x) @ F.normalize(prototypes.float().cpu(), dim=-1).T
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.inference_mode():
        return torch.cat([model.rank_outputs(model.as_windows(b))["scores"].float().cpu() for b in x.split(512)])


def fit_rejection(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    target_far: float = DEFAULT_FAR,
    *,
    prototypes: Tensor | None = None,
    fitted_on: str = "",
    base: Rejection | None = None,
) -> Rejection:
    """The rejection rule of ``model`` fitted on windows ``x`` with true classes ``y`` (rows of
    ``prototypes``, default the model's candidates). ``base``: keep that rule's measure and
    target, fit only its threshold (a person's calibration refitting the model's rule)."""
    scores = window_scores(model, x, prototypes).numpy()
    correct = top1_correct(scores, torch.as_tensor(y).numpy())
    if base is not None:
        return base.refit(scores, correct, fitted_on=fitted_on)
    return Rejection.fit(scores, correct, target_far, temperature=model.config.stage3.temperature, fitted_on=fitted_on)


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
        source = exp.data.source if exp.data.source != "simulated" else _source_of(data_folder)
        exp = replace(exp, data=replace(exp.data, folder=str(data_folder), source=source))
    if protocol is not None or fold is not None:
        exp = exp.with_protocol(protocol or exp.protocol.name, fold)
    start = time.perf_counter()
    if cross:  # every window of the test recordings
        assert exp.test_data is not None  # with_protocol checked
        ws = prepare_windows(exp, exp.test_data, check=False)
        if ws.n_channels != model.config.n_channels and exp.test_data.channels != "error":
            ws = ws.with_channels(model.config.n_channels)
        check_channels(ws.n_channels, model.config.n_channels)
        split = Split(
            "cross-dataset",
            np.empty(0, np.int64),
            np.arange(len(ws)),
            meta={"test_datasets": sorted({r.dataset for r in ws.recordings}), "channels": exp.test_data.channels},
        )
    else:
        ws = prepare_windows(exp)
        split = protocol_split(ws, exp.protocol)
    unknown = [c for c in ws.class_ids if c not in model.class_ids]
    test = split.test[np.isin(ws.y[split.test], [ws.class_ids.index(c) for c in ws.class_ids if c in model.class_ids])]
    if len(test) == 0:
        raise MyostreamError(
            f"None of the test windows' classes ({', '.join(ws.class_ids)}) is known to the "
            f"checkpoint; it ranks {', '.join(model.class_ids)}."
        )
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
