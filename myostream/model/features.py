"""Hudgins time-domain features (Hudgins et al. 1993), the field's classic EMG features: one
definition for the ``hudgins_linear`` baseline, the per-person LDA and the LDA fused into a
calibrated model's scores."""

from __future__ import annotations

import torch
from torch import Tensor

# ZC / SSC thresholds, in units of the channel's training-set std (inputs are standardised)
ZC_THRESHOLD = 0.01
SSC_THRESHOLD = 1e-4


def hudgins_features(x: Tensor) -> Tensor:
    """MAV, WL, ZC, SSC per channel of windows ``[B, T, C]`` -> ``[B, 4C]``.

    WL, ZC and SSC are means over the window's sample pairs (triples for SSC) rather
    than sums, so they do not grow with the window length.
    """
    d = x[:, 1:] - x[:, :-1]  # slices, not Tensor.diff: the ONNX exporter has no diff
    mav = x.abs().mean(dim=1)
    wl = d.abs().mean(dim=1)
    crossing = (x[:, :-1] * x[:, 1:] < 0) & (d.abs() >= ZC_THRESHOLD)
    zc = crossing.float().mean(dim=1)
    turn = (d[:, :-1] * -d[:, 1:]) >= SSC_THRESHOLD
    ssc = turn.float().mean(dim=1)
    return torch.cat([mav, wl, zc, ssc], dim=1)
