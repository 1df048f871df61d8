"""Embed a test set with a trained model and score retrieval in both directions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from myostream.model.retrieval import RetrievalModel
from myostream.train.metrics import KS, emg_to_text, text_to_emg


@torch.inference_mode()
def embed_windows(model: RetrievalModel, x: Tensor, batch_size: int = 512) -> Tensor:
    """Embeddings ``[N, d]`` (CPU, float32) of raw windows ``[N, T, C]``, batch by batch."""
    x = torch.as_tensor(x, dtype=torch.float32)
    return torch.cat([model.embed(b).float().cpu() for b in x.split(batch_size)])


def evaluate_model(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    classes: Sequence[int] | None = None,
    ks: Sequence[int] = KS,
    n_bootstrap: int = 1000,
    n_episodes: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """Both directions against the model's prototypes; ``y`` indexes ``model.class_ids``.

    EMG->text ranks all of the model's candidate classes; text->EMG episodes use
    ``classes`` (default: the classes present in ``y``).
    """
    z = embed_windows(model, x)
    p = model.prototypes.float().cpu()
    y = torch.as_tensor(y).long()
    return {
        "emg_to_text": emg_to_text(z, y, p, ks, n_bootstrap, seed),
        "text_to_emg": text_to_emg(z, y, p, classes, ks, n_episodes, seed),
        "candidates": list(model.class_ids),
    }
