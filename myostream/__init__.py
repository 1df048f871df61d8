"""myostream: real-time wearable EMG, from armband to ranked natural-language descriptions.

The public API on one page (``docs/api.md``); each name is imported on first use, so
``import myostream`` stays light (no torch, no Qt)::

    import myostream

    recording = myostream.read_recording("S1_A1_E1.mat")          # any supported file
    model = myostream.load_model()                                  # a checkpoint; default: bundled
    ranking = model.rank(windows)                                   # windows [B, T, C] -> BatchRanking
    pipeline = myostream.make_pipeline("lsl:MyEMG")                 # live, the bundled model that fits
    myostream.train_on_recordings(recordings, "runs/mine", config="myosem-myo")
    myostream.adapt_sessions("runs/mine", "sessions/p01/", "runs/mine-p01")  # calibrate to a person
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("myostream")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"

#: public name -> module that owns it
_API = {
    "Recording": "myostream.records",
    "Source": "myostream.records",
    "Chunk": "myostream.records",
    "StreamInfo": "myostream.records",
    "read_recording": "myostream.data.readers",
    "read_dataset": "myostream.data.readers",
    "extract_windows": "myostream.data.windows",
    "prepare_recordings": "myostream.data.prepare",
    "load_model": "myostream.runtime",
    "make_pipeline": "myostream.runtime",
    "bundled_models": "myostream.runtime",
    "Pipeline": "myostream.stream.pipeline",
    "make_source": "myostream.sources",
    "train_on_recordings": "myostream.train.recordings",
    "evaluate_on_recordings": "myostream.train.recordings",
    "AdaptOptions": "myostream.train.adapt",
    "adapt_model": "myostream.train.adapt",
    "adapt_sessions": "myostream.train.adapt",
    "export_onnx": "myostream.edge.export",
    "MyostreamError": "myostream.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        try:
            module = import_module(_API[name])
        except ModuleNotFoundError as exc:  # a name of an optional extra: say which one installs it
            from myostream.extras import missing_extra

            said = missing_extra(exc)
            if said is None:
                raise
            raise ModuleNotFoundError(f"myostream.{name}: {said}", name=exc.name) from None
        return getattr(module, name)
    raise AttributeError(f"module 'myostream' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
