from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from myostream.model.encoder import ActivationAwareEncoder, CosineCodebook, patch_descriptors, patchify
from tests.model.helpers import tiny_config


def test_descriptors_match_their_formulas():
    # one patch of 4 samples on 2 channels
    patch = torch.tensor([[1.0, 0.0], [3.0, 0.0], [1.0, 2.0], [3.0, 2.0]]).reshape(1, 1, 4, 2)
    rms, energy, var = patch_descriptors(patch)
    assert torch.allclose(rms, torch.tensor([[[1.0, 1.0]]]), atol=1e-4)  # both channels: +-1 around the mean
    assert torch.allclose(energy, torch.tensor([[[math.log1p(5.0), math.log1p(2.0)]]]))
    assert torch.allclose(var, torch.tensor([[[2.0, 2.0 / 3.0]]]))  # |diffs| 2,2,2 and 0,2,0


def test_stage2_shapes():
    cfg = tiny_config()
    enc = ActivationAwareEncoder(cfg, n_classes=6)
    x = torch.randn(3, cfg.window_samples, cfg.n_channels)
    out = enc(x)
    assert out["tokens"].shape == (3, cfg.n_patches, cfg.d_model)
    assert out["logits"].shape == (3, 6)
    assert out["reconstruction"].shape == out["target"].shape == (3, cfg.n_patches, cfg.patch * cfg.n_channels)
    assert torch.equal(out["target"], patchify(x, cfg.patch).flatten(2))
    assert out["codes"].shape == (3, cfg.n_patches) and out["codebook_loss"].ndim == 0


def test_descriptor_gates_start_small():
    enc = ActivationAwareEncoder(tiny_config(), n_classes=2)
    assert float(torch.sigmoid(enc.gate_e.detach())) < 0.05 and float(torch.sigmoid(enc.gate_v.detach())) < 0.05


def test_descriptor_switch_changes_the_computation():
    torch.manual_seed(0)
    full = ActivationAwareEncoder(tiny_config(), n_classes=2)
    ablated = ActivationAwareEncoder(tiny_config(descriptors=False), n_classes=2)
    assert not hasattr(ablated, "phi_e") and not hasattr(ablated, "gate_v")
    missing, unexpected = ablated.load_state_dict(full.state_dict(), strict=False)
    assert not missing and {k.split(".")[0] for k in unexpected} == {"phi_e", "phi_v", "gate_e", "gate_v"}
    x = torch.randn(2, 20, 4)
    # same weights: the only difference is the gated descriptor term
    descriptor_term = full.tokens(x) - ablated.tokens(x)
    rms, energy, var = patch_descriptors(patchify(x, 4))
    expected = torch.sigmoid(full.gate_e) * full.phi_e(torch.cat([rms, energy], -1)) + torch.sigmoid(
        full.gate_v
    ) * full.phi_v(var)
    assert torch.allclose(descriptor_term, expected, atol=1e-6)
    with torch.no_grad():
        full.gate_e.fill_(4.0)
    assert not torch.allclose(full.tokens(x), ablated.tokens(x) + expected, atol=1e-3)


def test_vq_picks_the_code_of_highest_cosine_and_passes_gradients_straight_through():
    book = CosineCodebook(8, 5)
    tokens = torch.randn(2, 3, 5, requires_grad=True)
    quantised, codes, codebook, commitment = book(tokens)
    cos = F.normalize(tokens, dim=-1) @ F.normalize(book.codes, dim=-1).T
    assert torch.equal(codes, cos.argmax(-1))
    # the forward value is exactly the chosen (unit) code
    assert torch.allclose(quantised, F.normalize(book.codes, dim=-1)[codes], atol=1e-6)
    quantised.sum().backward()
    assert tokens.grad is not None and tokens.grad.abs().sum() > 0
    assert book.codes.grad is None  # codes learn only through the codebook loss
    codebook.backward()
    assert book.codes.grad.abs().sum() > 0
