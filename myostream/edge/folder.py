"""The exported ONNX folder: what ``myostream export CKPT --onnx DIR`` writes and the edge ranker reads.

```
<export>/
  manifest.json    format, version, architecture, model config, preprocessing, class ids, catalog,
                   the graph's outputs, the text side (or null), the rejection rule (or null),
                   where and how it was exported
  emg.onnx         raw prepared windows [B, T, C] (float32) -> scores [B, K], z [B, d],
                   attention [B, M, N] (models with semantic queries), rms [B, N, C]
  text.onnx        (--text) input_ids, attention_mask [B, L] (int64) -> embedding [B, d], unit norm
  tokenizer.json   (--text) the text model's tokenizer with its padding and truncation, for `tokenizers`
```

The windows are the model's raw prepared windows (filtered and per-user scaled as
``preprocessing`` says): the graph does the model's own input standardisation. Only JSON is
parsed here, so reading a folder needs neither torch nor onnxruntime (:func:`open_session`
imports onnxruntime when it opens a graph); anything missing, corrupt or foreign is a
:class:`MyostreamError`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from myostream.errors import MyostreamError
from myostream.model.catalog import CatalogEntry, parse_catalog
from myostream.model.config import ModelConfig
from myostream.preprocess import Preprocessing
from myostream.rejection import Rejection

FORMAT = "myostream-onnx"
VERSION = 1
MANIFEST = "manifest.json"
EMG_FILE = "emg.onnx"
TEXT_FILE = "text.onnx"
TOKENIZER_FILE = "tokenizer.json"
#: the EMG graph's input and its outputs, in graph order (attention only for models with queries;
#: embedding_scores, the scores without the person's LDA, only for a calibration that fused one)
INPUT = "windows"
OUTPUTS = ("scores", "z", "attention", "rms", "embedding_scores")
TEXT_INPUTS = ("input_ids", "attention_mask")
TEXT_OUTPUT = "embedding"


@dataclass(frozen=True)
class TextSide:
    """The exported text encoder: ``dim``-vectors of texts cut at ``max_length`` tokens."""

    dim: int
    max_length: int
    batch_size: int


@dataclass(frozen=True)
class Manifest:
    """An exported folder's ``manifest.json``, validated."""

    path: Path
    architecture: str
    config: ModelConfig
    preprocessing: Preprocessing
    class_ids: tuple[str, ...]
    catalog: dict[str, CatalogEntry]
    outputs: tuple[str, ...]
    text: TextSide | None
    #: where and how it was exported (source checkpoint, opset, torch version)
    source: dict[str, Any] = field(default_factory=dict)
    #: the checkpoint's rejection rule (None: every window's first description is shown)
    rejection: Rejection | None = None


def is_export(path: str | Path) -> bool:
    """Whether ``path`` is an exported ONNX folder (it has a manifest)."""
    return (Path(path) / MANIFEST).is_file()


def manifest_dict(
    architecture: str,
    config: ModelConfig,
    preprocessing: Preprocessing,
    catalog_rows: list[dict[str, str]],
    outputs: tuple[str, ...],
    text: TextSide | None,
    source: dict[str, Any],
    rejection: Rejection | None = None,
) -> dict[str, Any]:
    """The JSON ``manifest.json`` holds (the exporter writes it, :func:`read_manifest` reads it)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "architecture": architecture,
        "class_ids": [row["id"] for row in catalog_rows],
        "model": config.to_dict(),
        "preprocessing": preprocessing.to_dict(),
        "catalog": catalog_rows,
        "input": INPUT,
        "outputs": list(outputs),
        "text": None if text is None else dataclasses.asdict(text),
        "rejection": None if rejection is None else rejection.to_dict(),
        "source": source,
    }


def read_manifest(path: str | Path) -> Manifest:
    """Read and check an exported folder's manifest (and that its ONNX files are there)."""
    path = Path(path)
    if not path.exists():
        raise MyostreamError(
            f"Model folder {str(path)!r} does not exist; give the folder `myostream export CKPT --onnx DIR` wrote."
        )
    if not path.is_dir():
        raise MyostreamError(
            f"Model {str(path)!r} is a file; give the exported folder (with {MANIFEST} and {EMG_FILE})."
        )
    if not is_export(path):
        raise MyostreamError(
            f"{str(path)!r} is not an exported ONNX folder (no {MANIFEST}); export a checkpoint with "
            f"`myostream export CKPT --onnx {path}`."
        )
    where = repr(str(path / MANIFEST))
    try:
        meta = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MyostreamError(f"{where} is not valid JSON ({exc}); export the checkpoint again.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise MyostreamError(f"{where} is not a myostream ONNX manifest (no format {FORMAT!r}).")
    if int(meta.get("version", 0)) > VERSION:
        raise MyostreamError(f"{where} has format version {meta['version']}; update myostream to load it.")
    try:
        config = ModelConfig.from_dict(meta["model"], where=where)
        preprocessing = Preprocessing.from_dict(meta["preprocessing"], where=f"{where} preprocessing")
        class_ids = tuple(str(c) for c in meta["class_ids"])
        outputs = tuple(str(o) for o in meta["outputs"])
        text = None if meta.get("text") is None else TextSide(**meta["text"])
        architecture, source = str(meta["architecture"]), dict(meta.get("source") or {})
        rejection = meta.get("rejection")
        rejection = None if rejection is None else Rejection.from_dict(rejection, f"{where} rejection")
    except (KeyError, TypeError, ValueError) as exc:
        raise MyostreamError(f"{where} is malformed ({exc!r}); export the checkpoint again.") from None
    config.check_preprocessing(preprocessing)
    if [o for o in outputs if o not in ("attention", "embedding_scores")] != ["scores", "z", "rms"] or (
        list(outputs) != [o for o in OUTPUTS if o in outputs]
    ):
        raise MyostreamError(f"{where} lists outputs {list(outputs)}; this myostream reads {list(OUTPUTS)}.")
    needed = [EMG_FILE] + ([TEXT_FILE, TOKENIZER_FILE] if text is not None else [])
    missing = [f for f in needed if not (path / f).is_file()]
    if missing:
        raise MyostreamError(f"Exported folder {str(path)!r} lacks {', '.join(missing)}; export the checkpoint again.")
    return Manifest(
        path=path,
        architecture=architecture,
        config=config,
        preprocessing=preprocessing,
        class_ids=class_ids,
        catalog=parse_catalog(meta.get("catalog"), class_ids, f"{where} catalog"),
        outputs=outputs,
        text=text,
        source=source,
        rejection=rejection,
    )


def onnxruntime_module() -> Any:
    """onnxruntime, or one sentence saying how to get it."""
    try:
        import onnxruntime
    except ImportError:
        raise MyostreamError(
            "The ONNX backend needs onnxruntime, which is not installed; pip install onnxruntime."
        ) from None
    return onnxruntime


def open_session(path: Path, threads: int = 1) -> Any:
    """An onnxruntime CPU session tuned for batch-1 live ranking.

    One intra-op thread: a window is too small to split across threads, and on a board the
    other cores serve the stream (as the torch live path does with ``torch.set_num_threads(1)``).
    Sequential execution, every graph optimisation; the memory arena stays on (measured: no
    difference at batch 1, and it saves allocations for the pipeline's catch-up batches).
    """
    ort = onnxruntime_module()
    if threads < 1:
        raise MyostreamError(f"threads = {threads} must be at least 1.")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: the library's warnings are not the user's business
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MyostreamError(
            f"{str(path)!r} is not a loadable ONNX model ({first}); export the checkpoint again."
        ) from None
