"""How well a text space separates classes: cross-view alignment and paraphrase retrieval.

Used by the stage-1 report (``myostream report text``) and the stage-1 tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from myostream.errors import MyostreamError
from myostream.text.catalog import VIEWS, Catalog
from myostream.text.encoder import TextEncoder


def view_alignment(encoder: TextEncoder, catalog: Catalog) -> dict[str, float]:
    """Same-class cross-view cosine vs nearest-other-class cosine (see the module docstring)."""
    texts, cls, view = [], [], []
    for c, action in enumerate(catalog):
        for v, name in enumerate(VIEWS):
            for text in action.views()[name]:
                texts.append(text)
                cls.append(c)
                view.append(v)
    z = encoder.encode(texts)
    cls_t, view_t = torch.tensor(cls), torch.tensor(view)
    cos = z @ z.T
    cross_view = (view_t[:, None] != view_t[None, :]).float()
    onehot = torch.nn.functional.one_hot(cls_t, len(catalog)).float()
    sums = onehot.T @ (cos * cross_view) @ onehot
    counts = onehot.T @ cross_view @ onehot
    sim = sums / counts  # [C, C] mean cross-view cosine between classes
    same = sim.diagonal()
    other = sim.masked_fill(torch.eye(len(catalog), dtype=torch.bool), float("-inf")).max(1).values
    return {
        "same_class_cosine": float(same.mean()),
        "nearest_other_cosine": float(other.mean()),
        "margin": float((same - other).mean()),
        "separated_fraction": float((same > other).float().mean()),
    }


def retrieval(
    encoder: TextEncoder, prototypes: torch.Tensor, class_ids: Sequence[str], queries: Sequence[tuple[str, str]]
) -> dict[str, float]:
    """Rank the prototypes for every (text, class id) query: Recall@1, Recall@3, MRR."""
    if not queries:
        raise MyostreamError("Retrieval needs at least one query.")
    scores = encoder.encode([q for q, _ in queries]) @ prototypes.T
    target = torch.tensor([list(class_ids).index(c) for _, c in queries])
    rank = (scores > scores.gather(1, target[:, None])).sum(1) + 1
    return {
        "recall@1": float((rank <= 1).float().mean()),
        "recall@3": float((rank <= 3).float().mean()),
        "mrr": float((1.0 / rank).mean()),
        "queries": len(queries),
    }
