"""The one checkpoint artefact: a folder the trainer writes and the live app loads.

```
<checkpoint>/
  config.json              format, architecture, model config, class ids, preprocessing, rejection rule
                           (when one was fitted), training metadata
  weights.safetensors      the model's state (encoder, head, input statistics)
  prototypes.safetensors   the class prototypes P [K, d] the model ranks, rows in class-id order, the
                           text prototypes they came from when calibration anchors moved them, and
                           a calibration's LDA fusion tensors (``fusion_*``; config.json says ``fusion``)
  catalog.json             per class: id, label (T0), canonical description (T2)
```

Only JSON and safetensors are read, so loading never executes code from the files (no
pickle). Anything missing, corrupt or foreign is a :class:`MyostreamError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from myostream.errors import MyostreamError
from myostream.model.catalog import catalog_entry, catalog_rows, parse_catalog
from myostream.model.config import ModelConfig
from myostream.model.fusion import LDAFusion
from myostream.model.retrieval import RetrievalModel
from myostream.preprocess import FilterSpec, Preprocessing
from myostream.rejection import Rejection
from myostream.torchdevice import resolve_device

FORMAT = "myostream-checkpoint"
VERSION = 1
FILES = ("config.json", "weights.safetensors", "prototypes.safetensors", "catalog.json")


def save_checkpoint(
    model: RetrievalModel,
    path: str | Path,
    catalog: Iterable[Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` as a checkpoint folder.

    ``catalog``: one entry per class id, as :class:`CatalogEntry`, mappings with ``id``,
    ``label``, ``canonical``, or the text package's action classes (``id``, ``t0``, ``t2``);
    default: the model's own catalog.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    entries = {e.id: e for e in (catalog_entry(e) for e in catalog)} if catalog is not None else dict(model.catalog)
    missing = [cid for cid in model.class_ids if cid not in entries]
    if missing:
        raise MyostreamError(f"The catalog lacks descriptions of the classes {missing}; give one entry per class id.")
    config = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": model.architecture,
        "n_classes": model.n_classes,
        "class_ids": list(model.class_ids),
        "model": model.config.to_dict(),
        "preprocessing": model.preprocessing.to_dict(),
        "rejection": None if model.rejection is None else model.rejection.to_dict(),
        "fusion": None if model.fusion is None else model.fusion.to_record(),
        "training": dict(training or {}),
    }
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_atomic(path / "weights.safetensors", lambda p: save_file(weights, p, metadata={"format": FORMAT}))
    protos = {"prototypes": model.prototypes.detach().cpu().contiguous()}
    if not torch.equal(model.text_prototypes, model.prototypes):
        protos["text_prototypes"] = model.text_prototypes.detach().cpu().contiguous()
    if model.fusion is not None:
        protos.update(model.fusion.tensors())
    write_atomic(path / "prototypes.safetensors", lambda p: save_file(protos, p, metadata={"format": FORMAT}))
    rows = catalog_rows(entries.values(), model.class_ids)
    write_atomic(path / "catalog.json", lambda p: Path(p).write_text(json.dumps(rows, indent=2, ensure_ascii=False)))
    write_atomic(path / "config.json", lambda p: Path(p).write_text(json.dumps(config, indent=2, default=str)))
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> RetrievalModel:
    """Load a checkpoint folder into a ready model (eval mode) on ``device``."""
    from myostream.model import create_model

    path = Path(path)
    if not path.exists():
        raise MyostreamError(f"Checkpoint {str(path)!r} does not exist; give the folder `myostream train` wrote.")
    if not path.is_dir():
        raise MyostreamError(
            f"Checkpoint {str(path)!r} is a file; give the checkpoint folder (with {', '.join(FILES)})."
        )
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise MyostreamError(
            f"Checkpoint {str(path)!r} lacks {', '.join(missing)}; it is incomplete or not a myostream checkpoint."
        )
    meta = _read_json(path / "config.json")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise MyostreamError(
            f"{str(path / 'config.json')!r} is not a myostream checkpoint config (no format {FORMAT!r})."
        )
    if int(meta.get("version", 0)) > VERSION:
        raise MyostreamError(
            f"Checkpoint {str(path)!r} has format version {meta['version']}; update myostream to load it."
        )
    try:
        config = ModelConfig.from_dict(meta["model"], where=f"Checkpoint {str(path)!r}")
        class_ids = [str(c) for c in meta["class_ids"]]
        architecture, n_classes = str(meta["architecture"]), int(meta["n_classes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MyostreamError(f"Checkpoint config {str(path / 'config.json')!r} is malformed ({exc!r}).") from None
    tensors = _read_tensors(path / "prototypes.safetensors")
    prototypes = tensors.get("prototypes")
    if prototypes is None:
        raise MyostreamError(f"{str(path / 'prototypes.safetensors')!r} has no 'prototypes' tensor.")
    text = tensors.get("text_prototypes", prototypes)
    if text.shape != prototypes.shape:
        raise MyostreamError(f"{str(path / 'prototypes.safetensors')!r} holds text prototypes of another shape.")
    model = create_model(config, text, class_ids, architecture=architecture, n_classes=n_classes)
    model.prototypes = prototypes.float()  # anchored by a calibration, or the text prototypes themselves
    try:
        model.load_state_dict(_read_tensors(path / "weights.safetensors"), strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise MyostreamError(
            f"Weights in {str(path)!r} do not fit its config ({first}); the checkpoint is corrupt or mixed."
        ) from None
    model.catalog = parse_catalog(_read_json(path / "catalog.json"), class_ids, repr(str(path / "catalog.json")))
    model.metadata = dict(meta.get("training") or {})
    where = f"Checkpoint {str(path)!r} preprocessing"
    if isinstance(meta.get("preprocessing"), dict):
        model.set_preprocessing(Preprocessing.from_dict(meta["preprocessing"], where=where))
    else:
        model.set_preprocessing(_recorded_preprocessing(config, model.metadata, where))
    if meta.get("rejection") is not None:  # checkpoints without a rule accept every window
        model.rejection = Rejection.from_dict(meta["rejection"], where=f"Checkpoint {str(path)!r} rejection")
    if meta.get("fusion") is not None:  # a calibrated person's LDA, fused into the class scores
        if not isinstance(meta["fusion"], dict):
            raise MyostreamError(f"Checkpoint config {str(path / 'config.json')!r}: 'fusion' is not a table.")
        model.fusion = LDAFusion.from_record(meta["fusion"], tensors, f"Checkpoint {str(path)!r}")
    return model.to(resolve_device(device)).eval()


def _recorded_preprocessing(config: ModelConfig, training: Mapping[str, Any], where: str) -> Preprocessing:
    """The preprocessing of a checkpoint written before checkpoints carried it (format version 1
    without ``preprocessing``): its training record's filter and hop, no per-user normalisation."""
    recorded = training.get("filter")
    return Preprocessing(
        rate=config.rate,
        n_channels=config.n_channels,
        window_ms=config.window_ms,
        hop_ms=float(training.get("hop_ms") or config.window_ms / 4),
        filter=FilterSpec.from_dict(recorded, where=f"{where} filter") if recorded else None,
    )


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a checkpoint folder (it has a ``config.json``)."""
    return (Path(path) / "config.json").is_file()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MyostreamError(f"{str(path)!r} is not valid JSON ({exc}); the checkpoint is corrupt.") from None


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for bad headers/bytes
        raise MyostreamError(
            f"{str(path)!r} is not a readable safetensors file ({exc}); the checkpoint is corrupt."
        ) from None


def write_atomic(path: Path, write: Callable[[str], object]) -> None:
    """Write through a temporary file so an interrupted save never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(str(tmp))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
