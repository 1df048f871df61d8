"""``myostream export CKPT --onnx DIR``: a checkpoint as an ONNX folder the edge ranker runs.

The EMG graph is :meth:`RetrievalModel.rank_outputs` traced whole: the model's input
standardisation, encoder, query head and the frozen prototypes, from raw prepared windows
``[B, T, C]`` (dynamic batch) to ``scores``, ``z``, ``attention`` (models with queries) and
``rms``. ``--text`` adds the checkpoint's text encoder (backbone, mean pooling, projection,
L2 norm) and its tokenizer, so free-text queries run without torch too. The filter, window,
hop and per-user normalisation travel in the manifest (see :mod:`myostream.edge.folder`).

Graphs come from the TorchScript-based ``torch.onnx.export`` (``dynamo=False``): it handles
every architecture here and needs only the ``onnx`` package, where the dynamo exporter also
needs onnxscript. Each file passes ``onnx.checker``, and the export checks itself: onnxruntime
must reproduce torch within :data:`TOLERANCE` on check windows (and texts) before the manifest
is written, so a folder with a manifest is a verified export.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from myostream.edge.folder import (
    EMG_FILE,
    INPUT,
    MANIFEST,
    TEXT_FILE,
    TEXT_INPUTS,
    TEXT_OUTPUT,
    TOKENIZER_FILE,
    TextSide,
    is_export,
    manifest_dict,
    open_session,
)
from myostream.errors import MyostreamError
from myostream.model.catalog import catalog_rows
from myostream.model.checkpoint import load_checkpoint, write_atomic
from myostream.model.retrieval import RetrievalModel

if TYPE_CHECKING:  # transformers comes with the [text] extra: imported where the text side is exported
    from myostream.text.encoder import TextEncoder

#: the lowest opset asked for (LayerNormalization is a single op from 17 on)
MIN_OPSET = 17
#: the largest |onnxruntime - torch| an export may show on its check windows and texts
TOLERANCE = 1e-4
#: windows the export checks itself on (standard normal in the model's standardised units)
CHECK_WINDOWS = 64


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and how closely onnxruntime reproduces torch on its checks."""

    path: Path
    files: tuple[str, ...]
    #: max |onnxruntime - torch| per EMG output on the check windows
    max_abs_diff: dict[str, float]
    #: max |onnxruntime - torch| of the text embeddings of the catalog's texts (None without --text)
    text_max_abs_diff: float | None


class _EmgGraph(nn.Module):
    """The model's ``rank_outputs`` as a module with tuple outputs (what the exporter traces)."""

    def __init__(self, model: RetrievalModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.model.rank_outputs(x).values())


class _TextGraph(nn.Module):
    """Token ids and mask -> the text encoder's unit-norm embedding."""

    def __init__(self, encoder: TextEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.encoder.project(self.encoder.pooled({"input_ids": input_ids, "attention_mask": attention_mask}))


def export_onnx(checkpoint: str | Path, out: str | Path, text: bool = False, opset: int = MIN_OPSET) -> ExportResult:
    """Export checkpoint folder ``checkpoint`` into folder ``out`` (new, empty, or an earlier export)."""
    onnx = _onnx()
    if opset < MIN_OPSET:
        raise MyostreamError(f"opset {opset} is too old; use {MIN_OPSET} or newer.")
    checkpoint, out = Path(checkpoint), Path(out)
    model = load_checkpoint(checkpoint, device="cpu")
    _prepare(out)
    windows = _check_windows(model)
    with torch.no_grad():
        expected = {k: v.numpy() for k, v in model.rank_outputs(torch.from_numpy(windows)).items()}
    outputs = tuple(expected)
    _write_graph(
        out / EMG_FILE,
        lambda f: _trace(_EmgGraph(model), (torch.from_numpy(windows[:2]),), f, [INPUT], outputs, {0: "batch"}, opset),
    )
    got = dict(zip(outputs, open_session(out / EMG_FILE).run(None, {INPUT: windows})))
    diffs = {name: float(np.abs(got[name] - expected[name]).max()) for name in outputs}
    _within_tolerance(diffs, "the model")

    text_side, text_diff = None, None
    files = [EMG_FILE]
    if text:
        text_side, text_diff = _export_text(checkpoint, model, out, opset)
        files += [TEXT_FILE, TOKENIZER_FILE]
    source = {
        "checkpoint": str(checkpoint),
        "exported": time.strftime("%Y-%m-%d %H:%M"),
        "exporter": "torch.onnx.export (TorchScript)",
        "opset": opset,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "max_abs_diff": diffs,
    }
    manifest = manifest_dict(
        model.architecture,
        model.config,
        model.preprocessing,
        catalog_rows(model.catalog.values(), model.class_ids),
        outputs,
        text_side,
        source,
        model.rejection,
    )
    # written last: a folder with a manifest is a complete, checked export
    write_atomic(out / MANIFEST, lambda p: Path(p).write_text(json.dumps(manifest, indent=2, ensure_ascii=False)))
    return ExportResult(out, (MANIFEST, *files), diffs, text_diff)


def _export_text(checkpoint: Path, model: RetrievalModel, out: Path, opset: int) -> tuple[TextSide, float]:
    """Write ``text.onnx`` and ``tokenizer.json``; return the text side and its check difference."""
    from myostream.edge.text import OnnxTextEncoder, read_tokenizer
    from myostream.text.encoder import TextEncoder, text_encoder_folder

    encoder = TextEncoder.load(text_encoder_folder(checkpoint, model.metadata)).eval()
    fast = getattr(encoder.tokenizer, "backend_tokenizer", None)
    if fast is None:
        raise MyostreamError(
            f"The text model's tokenizer ({type(encoder.tokenizer).__name__}) has no tokenizer.json form; "
            "the ONNX text side needs a fast (tokenizers) tokenizer."
        )
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(fast.to_str())
    # what TextEncoder.tokenize asks of transformers: pad to the longest text, cut at max_length
    tokenizer.enable_truncation(encoder.max_length)
    tokenizer.enable_padding(pad_id=encoder.tokenizer.pad_token_id, pad_token=encoder.tokenizer.pad_token)
    write_atomic(out / TOKENIZER_FILE, lambda p: tokenizer.save(p))

    # traced on texts of unequal length, so the graph is the padded (masked) one
    example = encoder.tokenize(["rest", "the hand closes into a fist, every finger flexed against the palm"])
    _write_graph(
        out / TEXT_FILE,
        lambda f: _trace(
            _TextGraph(encoder),
            (example["input_ids"], example["attention_mask"]),
            f,
            list(TEXT_INPUTS),
            (TEXT_OUTPUT,),
            {0: "batch", 1: "tokens"},
            opset,
            outputs_axes={0: "batch"},
        ),
    )
    side = TextSide(dim=encoder.dim, max_length=encoder.max_length, batch_size=encoder.batch_size)
    session, edge_tokenizer = open_session(out / TEXT_FILE), read_tokenizer(out / TOKENIZER_FILE)
    edge = OnnxTextEncoder(session, edge_tokenizer, side.dim, side.batch_size)
    texts = [t for e in model.catalog.values() for t in (e.label, e.canonical) if t] or list(model.class_ids)
    ids = edge.tokenize(texts)["input_ids"]
    if not np.array_equal(ids, encoder.tokenize(texts)["input_ids"].numpy()):
        raise MyostreamError("The exported tokenizer splits the catalog's texts differently from the text model's own.")
    # the catalog in one padded batch, and its first text alone (no padding)
    diff = max(float(np.abs(edge.encode(batch) - encoder.encode(batch).numpy()).max()) for batch in (texts, texts[:1]))
    _within_tolerance({TEXT_OUTPUT: diff}, "the text encoder")
    return side, diff


def _trace(
    graph: nn.Module,
    args: tuple[Tensor, ...],
    path: str,
    inputs: list[str],
    outputs: Sequence[str],
    input_axes: dict[int, str],
    opset: int,
    outputs_axes: dict[int, str] | None = None,
) -> None:
    axes = {name: input_axes for name in inputs} | {name: outputs_axes or {0: "batch"} for name in outputs}
    # traced with gradients on: under no_grad nn.TransformerEncoderLayer takes its fused fast
    # path, which has no ONNX form (the graph computes the same layer op by op)
    with _quiet_exporter():
        torch.onnx.export(
            graph.eval(),
            args,
            path,
            input_names=inputs,
            output_names=list(outputs),
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence what the exporter says to torch developers: that it is the legacy one (and its own
    deprecations), and that traced Python numbers (head sizes, sequence checks) become constants,
    which they are here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", module=r"torch\.onnx.*")  # its deprecation notes about itself
        yield


def _write_graph(path: Path, export: Callable[[str], None]) -> None:
    """Export through a temporary file and check it with ``onnx.checker`` before it takes its place."""
    onnx = _onnx()

    def export_and_check(tmp: str) -> None:
        export(tmp)
        onnx.checker.check_model(tmp, full_check=True)

    try:
        write_atomic(path, export_and_check)
    except MyostreamError:
        raise
    except Exception as exc:  # the exporter's and the checker's own error types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MyostreamError(f"Exporting {path.name} failed ({first}).") from exc


def _check_windows(model: RetrievalModel) -> np.ndarray:
    """Seeded windows that look like the model's input: standard normal in its standardised units."""
    cfg = model.config
    z = np.random.default_rng(0).standard_normal((CHECK_WINDOWS, cfg.window_samples, cfg.n_channels))
    scale, shift = model.input_scale.numpy(), model.input_shift.numpy()
    return (z * scale + shift).astype(np.float32)


def _within_tolerance(diffs: dict[str, float], what: str) -> None:
    worst = max(diffs, key=lambda k: diffs[k])
    if not diffs[worst] <= TOLERANCE:
        raise MyostreamError(
            f"The ONNX graph of {what} differs from torch by {diffs[worst]:.3g} on {worst!r} (more than "
            f"{TOLERANCE:g}); the export is not usable, please report it with the checkpoint."
        )


def _prepare(out: Path) -> None:
    """Make ``out`` ready: a new or empty folder, or an earlier export (its manifest goes first,
    so an export that fails half way never leaves a loadable mix of old and new files)."""
    if out.exists() and not out.is_dir():
        raise MyostreamError(f"{str(out)!r} is a file; give a folder for the exported model.")
    if out.is_dir() and any(out.iterdir()) and not is_export(out):
        raise MyostreamError(
            f"Folder {str(out)!r} is not empty and holds no earlier export; give a new folder, "
            "so nothing in it is overwritten."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MANIFEST).unlink(missing_ok=True)
        for stale in (TEXT_FILE, TOKENIZER_FILE):
            (out / stale).unlink(missing_ok=True)
    except OSError as exc:
        raise MyostreamError(
            f"Cannot write the export to {str(out)!r} ({exc.strerror}); choose a writable folder."
        ) from None


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise MyostreamError(
            "Exporting to ONNX needs the onnx package, which is not installed; pip install onnx."
        ) from None
    return onnx


def export_command(checkpoint: str | Path, onnx: str | Path, text: bool = False, opset: int = 17) -> int:
    """``myostream export CKPT --onnx DIR [--text] [--opset N]``."""
    result = export_onnx(checkpoint, onnx, text=text, opset=opset)
    for name in result.files:
        size = (result.path / name).stat().st_size
        print(f"  {result.path / name}  ({size / 1e6:.2f} MB)")
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in result.max_abs_diff.items())
    print(f"onnxruntime vs torch on {CHECK_WINDOWS} check windows, max |difference|: {diffs}")
    if result.text_max_abs_diff is not None:
        print(f"text embeddings of the catalog, max |difference|: {result.text_max_abs_diff:.1e}")
    print(f"exported {checkpoint} to {result.path}; run it with `myostream live --backend onnx --model {result.path}`")
    return 0
