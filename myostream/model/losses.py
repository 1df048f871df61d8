"""Losses of the three training stages.

``multi_positive_info_nce`` is generic (any two sets of embeddings and a positive mask)
so the stage-1 text training reuses it; ``info_nce`` is the one-positive case used to
align EMG embeddings with frozen class prototypes.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def info_nce(z: Tensor, prototypes: Tensor, targets: Tensor, temperature: float) -> Tensor:
    """InfoNCE of embeddings ``z [B, d]`` against all class prototypes ``[K, d]``.

    Cross-entropy of the cosine similarities / ``temperature`` with the true class
    ``targets [B]`` as the positive and every other class as a negative.
    """
    logits = F.normalize(z, dim=-1) @ F.normalize(prototypes, dim=-1).T
    return F.cross_entropy(logits / temperature, targets)


def multi_positive_info_nce(
    a: Tensor, b: Tensor, positives: Tensor, temperature: float, symmetric: bool = True
) -> Tensor:
    """Multi-positive InfoNCE between ``a [N, d]`` and ``b [M, d]``.

    ``positives [N, M]`` (bool) marks the pairs that match. Each anchor's target is the
    uniform distribution over its positives (cross-entropy against the softmax of the
    cosine similarities), so several views of one class are all pulled together.
    Anchors without a positive are skipped; ``symmetric`` averages both directions.
    """
    if positives.shape != (a.shape[0], b.shape[0]):
        raise ValueError(f"positives has shape {tuple(positives.shape)}, expected {(a.shape[0], b.shape[0])}")
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    mask = positives.to(logits.dtype)
    loss = _soft_cross_entropy(logits, mask)
    if symmetric:
        loss = 0.5 * (loss + _soft_cross_entropy(logits.T, mask.T))
    return loss


def _soft_cross_entropy(logits: Tensor, mask: Tensor) -> Tensor:
    counts = mask.sum(dim=1)
    rows = counts > 0
    target = mask[rows] / counts[rows, None]
    return -(target * F.log_softmax(logits[rows], dim=1)).sum(dim=1).mean()


def vq_losses(query: Tensor, code: Tensor) -> tuple[Tensor, Tensor]:
    """Codebook and commitment terms of a cosine VQ (both on unit vectors).

    The codebook term moves the chosen code towards the (fixed) token; the commitment
    term keeps the token close to its (fixed) code.
    """
    codebook = F.mse_loss(code, query.detach())
    commitment = F.mse_loss(query, code.detach())
    return codebook, commitment
