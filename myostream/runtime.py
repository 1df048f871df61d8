"""A ready model and a ready live pipeline from a checkpoint, without Qt.

The one place that turns a checkpoint into something that ranks a stream: the live app,
``myostream eval --live``, ``myostream adapt``, the benchmarks and the tests call it.
The pipeline takes its filter, per-user normalisation, window and hop from the model's
own :class:`~myostream.preprocess.Preprocessing`, so a stream is always prepared the way
the model's training windows were. An exported ONNX folder loads as the torch-free
:class:`~myostream.edge.ranker.OnnxRanker` (nothing on that path imports torch).

    model = load_model()                                  # the bundled default
    model = load_model("myosem-onnx")                     # or an exported folder, on onnxruntime
    pipeline = make_pipeline("simulated", model)          # or "lsl:NAME", a Source, ...
    with pipeline:
        ranking = pipeline.queue.get(timeout=2.0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from myostream.errors import MyostreamError
from myostream.resources import resource_dir
from myostream.stream.pipeline import Pipeline
from myostream.stream.source import Source

#: the bundled checkpoint ``myostream live`` opens with the built-in simulated armband
DEFAULT_MODEL = "simulated"


def bundled_dir() -> Path:
    return resource_dir("models") / "bundled"


def bundled_checkpoint(name: str = DEFAULT_MODEL) -> Path:
    """The folder of a bundled checkpoint (``models/bundled/<name>/``)."""
    path = bundled_dir() / name
    if not (path / "config.json").is_file():
        known = ", ".join(p.name for p in sorted(bundled_dir().iterdir()) if (p / "config.json").is_file())
        raise MyostreamError(
            f"There is no bundled model {name!r} in {bundled_dir()} (bundled: {known or 'none'}); reinstall "
            "myostream, or train one with `myostream train EXPERIMENT --out DIR` and pass --model DIR."
        )
    return path


#: how a model folder runs: "torch" (a checkpoint), "onnx" (an exported folder), "auto" (by the folder)
BACKENDS = ("auto", "torch", "onnx")


def load_model(checkpoint: str | Path | None = None, device: str = "cpu", backend: str = "auto") -> Any:
    """A model loaded for ranking; default: the bundled simulated model.

    A checkpoint folder loads as the torch model (eval mode, on ``device``); an exported ONNX
    folder (``myostream export CKPT --onnx DIR``) as an :class:`~myostream.edge.ranker.OnnxRanker`,
    without importing torch. ``backend`` insists on one of them.
    """
    from myostream.edge.folder import is_export

    if backend not in BACKENDS:
        raise MyostreamError(f"Backend {backend!r} is unknown; use one of {', '.join(BACKENDS)}.")
    path = Path(checkpoint) if checkpoint is not None else bundled_checkpoint()
    exported = is_export(path)
    if backend == "onnx" or (backend == "auto" and exported):
        if path.is_dir() and not exported:
            raise MyostreamError(
                f"{str(path)!r} is a checkpoint, not an exported ONNX folder; export it first "
                f"(`myostream export {path} --onnx DIR`) and give DIR."
            )
        from myostream.edge.ranker import OnnxRanker

        return OnnxRanker.load(path)
    if exported:
        raise MyostreamError(
            f"{str(path)!r} is an exported ONNX folder; run it with the onnx backend (--backend onnx) "
            "or give the torch checkpoint it came from."
        )
    from myostream.model.checkpoint import load_checkpoint

    return load_checkpoint(path, device=device)


def make_pipeline(source: str | Source, model: Any, **options: Any) -> Pipeline:
    """A (not yet started) :class:`Pipeline` of ``model`` on ``source`` (a source spec as
    :func:`myostream.stream.factory.make_source` reads it, or a Source).

    ``model`` is a loaded model, a checkpoint path or an exported ONNX folder. ``options`` go to :class:`Pipeline`
    (``hop_ms``, ``smoothing``, ``device``, ``on_ranking``, ``user_scale``, ...); the
    preprocessing is the model's and cannot be given.
    """
    if isinstance(model, (str, Path)):
        model = load_model(model, device=options.get("device", "cpu") if options.get("device") != "auto" else "cpu")
    if isinstance(source, str):
        from myostream.stream.factory import make_source

        source = make_source(source)
    return Pipeline(source, model, **options)
