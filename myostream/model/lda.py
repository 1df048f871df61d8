"""The classic baseline: shrinkage LDA on Hudgins time-domain features, trained per person.

Features are MAV, WL, ZC and SSC per channel (:func:`myostream.model.features.hudgins_features`)
of windows standardised per channel with the training windows' statistics (the ZC and SSC
thresholds are in units of a channel's std). The classifier is linear discriminant analysis
with a Ledoit-Wolf shrunk within-class covariance: what scikit-learn's
``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`` computes (tested against it),
written in numpy so the baseline needs no extra dependency.
"""

from __future__ import annotations

import numpy as np
import torch

from myostream.errors import MyostreamError
from myostream.model.features import hudgins_features


def ledoit_wolf_covariance(x: np.ndarray) -> np.ndarray:
    """Covariance of ``x [n, f]`` shrunk towards a scaled identity by the Ledoit-Wolf rule.

    As scikit-learn's shrinkage ``"auto"``: features are standardised first, the shrunk
    correlation-scale covariance is scaled back.
    """
    n, f = x.shape
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    xs = (x - x.mean(axis=0)) / scale
    emp = xs.T @ xs / n
    mu = np.trace(emp) / f
    x2 = xs**2
    delta_ = np.sum(emp**2)
    beta = (np.sum(x2.T @ x2) / n - delta_) / (f * n)
    delta = (delta_ - 2.0 * mu * np.trace(emp) + f * mu**2) / f
    beta = min(beta, delta)
    shrinkage = 0.0 if beta == 0 else beta / delta
    shrunk = (1.0 - shrinkage) * emp
    shrunk.flat[:: f + 1] += shrinkage * mu
    return scale[:, None] * shrunk * scale[None, :]


class ShrinkageLDA:
    """Linear discriminant analysis with a Ledoit-Wolf shrunk, prior-weighted within-class covariance."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> ShrinkageLDA:
        x = np.asarray(x, np.float64)
        y = np.asarray(y)
        if x.ndim != 2 or len(x) != len(y):
            raise MyostreamError(f"LDA needs features [n, f] and n labels; got {x.shape} and {len(y)} labels.")
        self.classes_, index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise MyostreamError(f"LDA needs training windows of at least two classes; got {len(self.classes_)}.")
        priors = np.bincount(index) / len(y)
        means = np.stack([x[index == k].mean(axis=0) for k in range(len(self.classes_))])
        cov = sum(p * ledoit_wolf_covariance(x[index == k]) for k, p in enumerate(priors))
        self.coef_ = np.linalg.lstsq(cov, means.T, rcond=None)[0].T
        self.intercept_ = -0.5 * np.sum(means * self.coef_, axis=1) + np.log(priors)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float64) @ self.coef_.T + self.intercept_

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(x).argmax(axis=1)]


class HudginsLDA:
    """The per-person classic baseline on raw (filtered) windows ``float32[n, T, C]``."""

    def fit(self, windows: np.ndarray, y: np.ndarray) -> HudginsLDA:
        windows = _check_windows(windows)
        self.mean_ = windows.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)
        std = windows.std(axis=(0, 1), dtype=np.float64)
        self.std_ = np.where(std > 1e-12, std, 1.0).astype(np.float32)  # a flat channel passes unscaled
        self.lda_ = ShrinkageLDA().fit(self.features(windows), y)
        return self

    def features(self, windows: np.ndarray) -> np.ndarray:
        """Hudgins features ``[n, 4C]`` of standardised windows (in blocks, to bound memory)."""
        windows = _check_windows(windows)
        blocks = [
            hudgins_features(torch.from_numpy((block - self.mean_) / self.std_)).numpy()
            for block in np.array_split(windows, max(1, len(windows) // 4096))
        ]
        return np.concatenate(blocks).astype(np.float64)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        return self.lda_.predict(self.features(windows))


def _check_windows(windows: np.ndarray) -> np.ndarray:
    windows = np.asarray(windows, np.float32)
    if windows.ndim != 3 or len(windows) == 0 or windows.shape[1] < 3:
        raise MyostreamError(f"Hudgins features need windows [n, samples >= 3, channels]; got shape {windows.shape}.")
    return windows
