"""Embed a test set with a trained model, score retrieval in both directions, fit its rejection rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from myostream.model.retrieval import RetrievalModel
from myostream.rejection import DEFAULT_FAR, Rejection, top1_correct
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


def window_scores(model: RetrievalModel, x: Tensor, prototypes: Tensor | None = None) -> Tensor:
    """Class scores ``[N, K]`` (CPU) of raw windows: cosine of their embeddings with ``prototypes``
    (default: the model's own candidates)."""
    p = model.prototypes if prototypes is None else prototypes
    return embed_windows(model, x) @ F.normalize(p.float().cpu(), dim=-1).T


def fit_rejection(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    target_far: float = DEFAULT_FAR,
    *,
    prototypes: Tensor | None = None,
    fitted_on: str = "",
    base: Rejection | None = None,
) -> Rejection:
    """The rejection rule of ``model`` fitted on windows ``x`` with true classes ``y`` (rows of
    ``prototypes``, default the model's candidates). ``base``: keep that rule's measure and
    target, fit only its threshold (a person's calibration refitting the model's rule)."""
    scores = window_scores(model, x, prototypes).numpy()
    correct = top1_correct(scores, torch.as_tensor(y).numpy())
    if base is not None:
        return base.refit(scores, correct, fitted_on=fitted_on)
    return Rejection.fit(scores, correct, target_far, temperature=model.config.stage3.temperature, fitted_on=fitted_on)
