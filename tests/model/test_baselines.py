from __future__ import annotations

import pytest
import torch

from myostream.model import create_model
from myostream.model.baselines import TCN
from myostream.model.features import hudgins_features
from tests.model.helpers import CLASS_IDS, prototypes, tiny_config


def test_hudgins_features_by_hand():
    # one channel: 1, -1, 1, 1 -> MAV 1; |diffs| 2, 2, 0 -> WL 4/3;
    # zero crossings with |diff| >= threshold: 2 of 3 sample pairs;
    # slope sign changes: the inner samples -1 ((-1-1)(-1-1) = 4) and 1 ((1+1)(1-1) = 0) -> 1 of 2
    x = torch.tensor([1.0, -1.0, 1.0, 1.0]).reshape(1, 4, 1)
    mav, wl, zc, ssc = hudgins_features(x)[0].tolist()
    assert (mav, wl, zc, ssc) == pytest.approx((1.0, 4 / 3, 2 / 3, 1 / 2))


def test_hudgins_baseline_standardises_with_training_statistics():
    m = create_model(tiny_config(), prototypes(), CLASS_IDS, architecture="hudgins_linear")
    x = 3.0 + 2.0 * torch.randn(64, 20, 4, generator=torch.Generator().manual_seed(0))
    m.fit_input_stats(x)
    assert torch.allclose(m.input_shift, x.mean(dim=(0, 1)), atol=1e-5)
    assert torch.allclose(m.input_scale, x.reshape(-1, 4).std(dim=0, unbiased=False), atol=1e-5)
    f = m.backbone(m.normalize_input(x))
    assert torch.allclose(f.mean(0), torch.zeros(16), atol=1e-4)
    assert torch.allclose(f.std(0), torch.ones(16), atol=1e-3)


def test_tcn_blocks_are_causal():
    tcn = TCN(tiny_config()).eval()
    x = torch.randn(1, 4, 20)
    y = x.clone()
    y[..., 12:] += 5.0  # change only the future from sample 12 on
    a, b = x, y
    for block in tcn.blocks:
        a, b = block(a), block(b)
    assert torch.allclose(a[..., :12], b[..., :12]) and not torch.allclose(a[..., 12:], b[..., 12:])
