from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from myostream.model.losses import info_nce, multi_positive_info_nce, vq_losses


def test_info_nce_is_cross_entropy_of_cosines_over_temperature():
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    t = 0.5
    # row 0: cosines (1, 0, -1) -> logits (2, 0, -2); target 0
    expected0 = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-2)))
    # row 1: cosines (0, 1, 0) -> logits (0, 2, 0); target 1
    expected1 = -math.log(math.exp(2) / (1 + math.exp(2) + 1))
    got = info_nce(z, p, torch.tensor([0, 1]), t)
    assert math.isclose(float(got), (expected0 + expected1) / 2, rel_tol=1e-6)


def test_info_nce_prefers_aligned_embeddings():
    p = F.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(1)), dim=-1)
    y = torch.arange(5)
    aligned = info_nce(p * 3.0, p, y, 0.1)
    shuffled = info_nce(p[[1, 2, 3, 4, 0]], p, y, 0.1)
    assert aligned < 0.1 < shuffled


def test_multi_positive_reduces_to_info_nce_with_one_positive():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 4, generator=g), torch.randn(3, 4, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    mask = F.one_hot(y, 3).bool()
    one_way = multi_positive_info_nce(a, b, mask, 0.2, symmetric=False)
    assert torch.allclose(one_way, info_nce(a, b, y, 0.2))


def test_multi_positive_target_is_uniform_over_positives():
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    logp = torch.log_softmax(torch.tensor([1.0, 0.0, -1.0]), dim=0)
    expected = -(logp[0] + logp[1]) / 2
    assert torch.allclose(multi_positive_info_nce(a, b, mask, 1.0, symmetric=False), expected)
    # symmetric: the b->a direction only has anchors b0, b1 (each with its single positive a0)
    both = multi_positive_info_nce(a, b, mask, 1.0)
    assert torch.allclose(both, 0.5 * (expected + 0.0), atol=1e-6)


def test_vq_terms_vanish_on_the_code_and_split_the_gradients():
    q = F.normalize(torch.tensor([[1.0, 1.0]]), dim=-1).requires_grad_(True)
    e = F.normalize(torch.tensor([[1.0, 0.0]]), dim=-1).requires_grad_(True)
    codebook, commitment = vq_losses(q, e)
    assert torch.allclose(codebook, commitment)
    codebook.backward()
    assert q.grad is None or torch.all(q.grad == 0)
    assert e.grad.abs().sum() > 0
    zero_c, zero_m = vq_losses(e.detach(), e.detach())
    assert float(zero_c) == 0.0 == float(zero_m)
