"""The MyoSem model library: configs, encoder, query head, baselines, losses, checkpoints.

``create_model(config, prototypes, class_ids, architecture)`` builds MyoSem
(``architecture="myosem"``) or one of the baselines (:data:`ARCHITECTURES`) behind one
interface (:class:`RetrievalModel`).

Configs and catalog entries import without torch (the ONNX edge runtime reads them); the
torch classes are imported on first use (PEP 562), so ``from myostream.model import MyoSem``
works as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from myostream.errors import MyostreamError
from myostream.model.catalog import CatalogEntry
from myostream.model.config import ModelConfig, Stage2Config, Stage3Config, list_configs, load_config

if TYPE_CHECKING:
    from torch import Tensor

    from myostream.model.baselines import BaselineModel
    from myostream.model.myosem import MyoSem
    from myostream.model.retrieval import BatchRanking, RetrievalModel, SearchResult

    ARCHITECTURES: tuple[str, ...]

#: names served lazily -> the module that defines them (importing it imports torch)
_TORCH_NAMES = {
    "BaselineModel": "myostream.model.baselines",
    "BatchRanking": "myostream.model.retrieval",
    "MyoSem": "myostream.model.myosem",
    "RetrievalModel": "myostream.model.retrieval",
    "SearchResult": "myostream.model.retrieval",
}


def __getattr__(name: str) -> Any:
    if name == "ARCHITECTURES":
        from myostream.model.baselines import BACKBONES

        return ("myosem", *BACKBONES)
    if name in _TORCH_NAMES:
        return getattr(importlib.import_module(_TORCH_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_model(
    config: ModelConfig | str,
    prototypes: Tensor,
    class_ids: Sequence[str],
    architecture: str = "myosem",
    n_classes: int | None = None,
) -> RetrievalModel:
    """A freshly initialised model; ``n_classes`` sizes the stage-2 classifier (default: all classes)."""
    from myostream.model.baselines import BACKBONES, BaselineModel
    from myostream.model.myosem import MyoSem

    if isinstance(config, str):
        config = load_config(config)
    if architecture == "myosem":
        return MyoSem.build(config, prototypes, class_ids, n_classes)
    if architecture in BACKBONES:
        return BaselineModel(architecture, config, prototypes, class_ids, n_classes)
    raise MyostreamError(f"Unknown architecture {architecture!r}; choose one of {', '.join(('myosem', *BACKBONES))}.")


__all__ = [
    "ARCHITECTURES",
    "BaselineModel",
    "BatchRanking",
    "CatalogEntry",
    "ModelConfig",
    "MyoSem",
    "RetrievalModel",
    "SearchResult",
    "Stage2Config",
    "Stage3Config",
    "create_model",
    "list_configs",
    "load_config",
]
