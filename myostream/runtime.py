"""A ready model and a ready live pipeline from a checkpoint, without Qt.

The one place that turns a checkpoint into something that ranks a stream: the live app,
``myostream eval --live``, ``myostream adapt``, the benchmarks and the tests call it.
The pipeline takes its filter, per-user normalisation, window and hop from the model's
own :class:`~myostream.preprocess.Preprocessing`, so a stream is always prepared the way
the model's training windows were.

    model = load_model()                                  # the bundled default
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


def load_model(checkpoint: str | Path | None = None, device: str = "cpu") -> Any:
    """A checkpoint loaded for ranking (eval mode, on ``device``); default: the bundled simulated model."""
    from myostream.model.checkpoint import load_checkpoint

    return load_checkpoint(checkpoint if checkpoint is not None else bundled_checkpoint(), device=device)


def make_pipeline(source: str | Source, model: Any, **options: Any) -> Pipeline:
    """A (not yet started) :class:`Pipeline` of ``model`` on ``source`` (a source spec as
    :func:`myostream.stream.factory.make_source` reads it, or a Source).

    ``model`` is a loaded model or a checkpoint path. ``options`` go to :class:`Pipeline`
    (``hop_ms``, ``smoothing``, ``device``, ``on_ranking``, ``user_scale``, ...); the
    preprocessing is the model's and cannot be given.
    """
    if isinstance(model, (str, Path)):
        model = load_model(model, device=options.get("device", "cpu") if options.get("device") != "auto" else "cpu")
    if isinstance(source, str):
        from myostream.stream.factory import make_source

        source = make_source(source)
    return Pipeline(source, model, **options)
