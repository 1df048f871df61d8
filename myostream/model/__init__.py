"""The MyoSem model library: configs, encoder, query head, baselines, losses, checkpoints.

``create_model(config, prototypes, class_ids, architecture)`` builds MyoSem
(``architecture="myosem"``) or one of the baselines (:data:`ARCHITECTURES`) behind one
interface (:class:`RetrievalModel`).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from myostream.errors import MyostreamError
from myostream.model.baselines import BACKBONES, BaselineModel
from myostream.model.config import ModelConfig, Stage2Config, Stage3Config, list_configs, load_config
from myostream.model.myosem import MyoSem
from myostream.model.retrieval import CatalogEntry, Ranking, RetrievalModel, SearchResult

ARCHITECTURES = ("myosem", *BACKBONES)


def create_model(
    config: ModelConfig | str,
    prototypes: Tensor,
    class_ids: Sequence[str],
    architecture: str = "myosem",
    n_classes: int | None = None,
) -> RetrievalModel:
    """A freshly initialised model; ``n_classes`` sizes the stage-2 classifier (default: all classes)."""
    if isinstance(config, str):
        config = load_config(config)
    if architecture == "myosem":
        return MyoSem.build(config, prototypes, class_ids, n_classes)
    if architecture in BACKBONES:
        return BaselineModel(architecture, config, prototypes, class_ids, n_classes)
    raise MyostreamError(f"Unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}.")


__all__ = [
    "ARCHITECTURES",
    "BaselineModel",
    "CatalogEntry",
    "ModelConfig",
    "MyoSem",
    "Ranking",
    "RetrievalModel",
    "SearchResult",
    "Stage2Config",
    "Stage3Config",
    "create_model",
    "list_configs",
    "load_config",
]
