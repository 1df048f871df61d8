"""MyoSem: activation-aware encoder + semantic query head + frozen text prototypes.

The same object trains (stages 2 and 3), evaluates and runs live:
``embed(windows) -> z``, ``rank(windows, k) -> BatchRanking``, ``search(class id or text
embedding, windows) -> SearchResult`` (see :class:`RetrievalModel`).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from myostream.model.config import ModelConfig
from myostream.model.encoder import ActivationAwareEncoder
from myostream.model.query_head import SemanticQueryHead
from myostream.model.retrieval import RetrievalModel


class MyoSem(RetrievalModel):
    architecture = "myosem"

    def __init__(
        self,
        encoder: ActivationAwareEncoder,
        head: SemanticQueryHead,
        prototypes: Tensor,
        class_ids: Sequence[str],
    ) -> None:
        super().__init__(encoder.config, prototypes, class_ids, n_classes=encoder.classifier.out_features)
        self.encoder = encoder
        self.head = head

    @classmethod
    def build(
        cls, config: ModelConfig, prototypes: Tensor, class_ids: Sequence[str], n_classes: int | None = None
    ) -> MyoSem:
        """A freshly initialised MyoSem; ``n_classes`` sizes the stage-2 classifier (default: all classes)."""
        n = int(n_classes or len(class_ids))
        return cls(ActivationAwareEncoder(config, n), SemanticQueryHead(config), prototypes, class_ids)

    def forward(self, x: Tensor, stage: int = 3) -> dict[str, Tensor]:
        """Raw windows ``[B, T, C]``; ``stage=2`` is the encoder pass with its reconstruction
        and VQ terms, ``stage=3`` the embedding pass (``z``, ``logits``, ``attention``)."""
        x = self.normalize_input(x)
        if stage == 2:
            return self.encoder(x)
        h = self.encoder.encode(x)
        z, attention = self.head(h)
        out = {"z": z, "logits": self.encoder.classifier(h.mean(dim=1))}
        if attention is not None:
            out["attention"] = attention
        return out

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def alignment_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def tail_parameters(self, n_layers: int) -> list[nn.Parameter]:
        return self.encoder.tail_parameters(n_layers)
