"""Retrieval metrics in both directions, as in the paper's appendix A.2-A.4.

- EMG->text: every test window ranks all candidate prototypes by ``z . P_c``;
  Recall@K (K = 1, 3, 5; the paper's "Recall" is R@3) and MRR, with their standard
  deviation over bootstrap resamples of the test windows.
- text->EMG: 100 balanced episodes; an episode draws one window per class, each class
  prototype ranks the episode's windows, and the metric is averaged over the classes;
  mean and standard error over episodes.

Ties count against the target: its rank is the number of candidates scoring at least
as high as it, so a collapsed model (all scores equal) scores the worst, not the best.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

KS = (1, 3, 5)


def target_ranks(scores: Tensor, targets: Tensor) -> Tensor:
    """1-based rank of each row's target column in ``scores [N, K]`` (ties pessimistic)."""
    scores = torch.as_tensor(scores, dtype=torch.float64)
    targets = torch.as_tensor(targets).long()
    own = scores.gather(1, targets[:, None])
    return (scores >= own).sum(dim=1)


def summarize_ranks(ranks: Tensor | np.ndarray, ks: Sequence[int] = KS) -> dict[str, float]:
    """Recall@K (fraction of ranks <= K) and MRR (mean of 1/rank)."""
    r = np.asarray(ranks, dtype=np.float64)
    out = {f"R@{k}": float((r <= k).mean()) for k in ks}
    out["MRR"] = float((1.0 / r).mean())
    return out


def bootstrap_std(
    ranks: Tensor | np.ndarray, ks: Sequence[int] = KS, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Standard deviation of each metric over ``n_bootstrap`` resamples (with replacement) of the ranks."""
    r = np.asarray(ranks, dtype=np.float64)
    per_sample = {f"R@{k}": (r <= k).astype(np.float64) for k in ks}
    per_sample["MRR"] = 1.0 / r
    rng = np.random.default_rng(seed)
    draws: dict[str, list[np.ndarray]] = {m: [] for m in per_sample}
    chunk = max(1, min(n_bootstrap, 2_000_000 // max(1, len(r))))  # bounded memory for large test sets
    for start in range(0, n_bootstrap, chunk):
        idx = rng.integers(0, len(r), size=(min(chunk, n_bootstrap - start), len(r)))
        for m, v in per_sample.items():
            draws[m].append(v[idx].mean(axis=1))
    return {m: float(np.concatenate(d).std(ddof=1)) for m, d in draws.items()}


def emg_to_text(
    z: Tensor, targets: Tensor, prototypes: Tensor, ks: Sequence[int] = KS, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, float]:
    """EMG->text metrics of embeddings ``z [N, d]`` whose true prototype rows are ``targets``."""
    ranks = target_ranks(torch.as_tensor(z).double() @ torch.as_tensor(prototypes).double().T, targets)
    return emg_to_text_from_ranks(ranks, ks, n_bootstrap, seed)


def emg_to_text_from_ranks(
    ranks: Tensor, ks: Sequence[int] = KS, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, float]:
    out = summarize_ranks(ranks, ks)
    out.update({f"{m}_std": s for m, s in bootstrap_std(ranks, ks, n_bootstrap, seed).items()})
    out["n"] = int(len(ranks))
    return out


def text_to_emg(
    z: Tensor,
    targets: Tensor,
    prototypes: Tensor,
    classes: Sequence[int] | None = None,
    ks: Sequence[int] = KS,
    n_episodes: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """text->EMG metrics over balanced episodes (see :func:`text_to_emg_from_scores`)."""
    scores = torch.as_tensor(prototypes).double() @ torch.as_tensor(z).double().T
    return text_to_emg_from_scores(scores, targets, classes, ks, n_episodes, seed)


def text_to_emg_from_scores(
    scores: Tensor,
    targets: Tensor,
    classes: Sequence[int] | None = None,
    ks: Sequence[int] = KS,
    n_episodes: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """``scores [K, N]``: query class k against window n. Each episode draws one window of
    every class in ``classes`` (default: the classes present in ``targets``); each class
    ranks that episode's windows. Mean and standard error over episodes."""
    scores = torch.as_tensor(scores, dtype=torch.float64)
    y = np.asarray(torch.as_tensor(targets))
    classes = sorted(set(y.tolist())) if classes is None else list(classes)
    pools = [np.flatnonzero(y == c) for c in classes]
    empty = [c for c, pool in zip(classes, pools) if len(pool) == 0]
    if empty:
        raise ValueError(f"classes {empty} have no test window")
    rng = np.random.default_rng(seed)
    cls = torch.as_tensor(classes)
    per_episode = []
    for _ in range(n_episodes):
        windows = torch.as_tensor([int(rng.choice(pool)) for pool in pools])
        # row i: class classes[i] ranks the episode's windows; its own window is column i
        sub = scores[cls][:, windows]
        ranks = target_ranks(sub, torch.arange(len(classes)))
        per_episode.append(summarize_ranks(ranks, ks))
    out: dict[str, float] = {}
    for m in per_episode[0]:
        v = np.array([e[m] for e in per_episode])
        out[m] = float(v.mean())
        out[f"{m}_se"] = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
    out["episodes"] = n_episodes
    out["classes"] = len(classes)
    return out


def class_centre_similarity(z: Tensor, targets: Tensor, prototypes: Tensor) -> Tensor:
    """Cosine similarity ``[K, K]`` of each class's EMG centre (normalised mean of its
    embeddings) to every prototype (paper Fig. 3c); rows of absent classes are NaN."""
    z = torch.nn.functional.normalize(torch.as_tensor(z).double(), dim=-1)
    p = torch.nn.functional.normalize(torch.as_tensor(prototypes).double(), dim=-1)
    y = torch.as_tensor(targets).long()
    centres = torch.full((p.shape[0], z.shape[1]), float("nan"), dtype=torch.float64)
    for c in y.unique().tolist():
        centres[c] = torch.nn.functional.normalize(z[y == c].mean(0), dim=0)
    return centres @ p.T
