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
    pipeline = make_pipeline("replay:S1_A1_E1.mat")       # no model: the bundled one that fits the source
    with pipeline:
        ranking = pipeline.queue.get(timeout=2.0)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from myostream.errors import MyostreamError
from myostream.records import Source
from myostream.resources import resource_dir
from myostream.stream.pipeline import Pipeline

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


@dataclass(frozen=True)
class BundledModel:
    """A checkpoint shipped in ``models/bundled/``: what signal it takes, read without loading it."""

    name: str
    path: Path
    n_channels: int
    rate: float
    description: str

    def __str__(self) -> str:
        return f"{self.name} ({self.n_channels} ch, {self.rate:g} Hz)"


def bundled_models() -> list[BundledModel]:
    """The bundled checkpoints, by name."""
    found = []
    for folder in sorted(bundled_dir().iterdir()) if bundled_dir().is_dir() else []:
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            model = config["model"]
            pre = config.get("preprocessing") or {}
            found.append(
                BundledModel(
                    folder.name,
                    folder,
                    int(pre.get("n_channels", model["n_channels"])),
                    float(pre.get("rate", model["rate"])),
                    str(model.get("description", "")),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a checkpoint folder (a README, a half-copied folder): nothing to offer
    return found


def bundled_for(n_channels: int, rate: float) -> BundledModel:
    """The bundled model for a stream of ``n_channels`` at ``rate``: the one trained on exactly that
    signal, else one with the same channels at the highest rate not above the stream's (the stream is
    resampled down to it, losing nothing the model uses), else the closest rate above it."""
    models = bundled_models()
    same = [m for m in models if m.n_channels == n_channels]
    if not same:
        offered = ", ".join(map(str, models)) or "none"
        raise MyostreamError(
            f"No bundled model takes {n_channels} channels (bundled: {offered}); pass --model with a checkpoint "
            f"for this device, calibrate one from the live window, or map {n_channels} channels onto a model with "
            "--channels."
        )
    exact = [m for m in same if abs(m.rate - rate) <= 1e-3 * rate]
    below = sorted((m for m in same if m.rate < rate), key=lambda m: -m.rate)
    above = sorted((m for m in same if m.rate > rate), key=lambda m: m.rate)
    return (exact or below or above)[0]


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


def make_pipeline(source: str | Source, model: Any = None, **options: Any) -> Pipeline:
    """A (not yet started) :class:`Pipeline` of ``model`` on ``source`` (a source spec as
    :func:`myostream.sources.make_source` reads it, or a Source).

    ``model`` is a loaded model, a checkpoint path, an exported ONNX folder, or None: the
    bundled model that fits the source (:func:`bundled_for`; the source is opened to learn
    its channels and rate). ``options`` go to :class:`Pipeline` (``hop_ms``, ``smoothing``,
    ``device``, ``on_ranking``, ``user_scale``, ``channels``, ...); the preprocessing is the
    model's and cannot be given.
    """
    device = options.get("device", "cpu") if options.get("device") != "auto" else "cpu"
    if isinstance(source, str):
        from myostream.sources import make_source

        source = make_source(source)
    if model is None:
        source.open()  # opening again in Pipeline.start() is a no-op
        try:
            info = source.info
            n = len(options["channels"]) if options.get("channels") is not None else info.n_channels
            model = load_model(bundled_for(n, info.rate).path, device=device)
        except BaseException:
            source.close()
            raise
    elif isinstance(model, (str, Path)):
        model = load_model(model, device=device)
    return Pipeline(source, model, **options)
