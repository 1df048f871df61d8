"""Activation-aware EMG encoder (MyoSem stage 2).

Windows ``[B, T, C]`` are cut into ``N = T / p`` temporal patches. Each patch gives a raw
token ``r_t`` (linear over its ``p x C`` samples) and three per-channel descriptors:
``rms_t = sqrt(E[(x - mean)^2])``, ``energy_t = log(1 + E[x^2])``, ``var_t = E[|dx|]``.
They enter through gated residual MLPs,
``h_t = r_t + sigmoid(g_e) phi_e([rms; energy]) + sigmoid(g_v) phi_v(var)``, whose gates
start small so the descriptors are eased in rather than dominating the first updates.
A Transformer encodes the tokens into ``H``; a cosine VQ codebook quantises ``H`` and a
decoder reconstructs the patches from the quantised tokens; a linear head on the
pooled ``H`` classifies the window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from myostream.model.config import ModelConfig
from myostream.model.losses import vq_losses


def patchify(x: Tensor, patch: int) -> Tensor:
    """``[B, T, C] -> [B, N, p, C]`` (T must be a multiple of ``patch``)."""
    b, t, c = x.shape
    return x.reshape(b, t // patch, patch, c)


def patch_descriptors(patches: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-patch, per-channel ``(rms, energy, var)``, each ``[B, N, C]``."""
    centred = patches - patches.mean(dim=2, keepdim=True)
    # the epsilon keeps sqrt differentiable on flat (all-equal) patches
    rms = torch.sqrt(centred.square().mean(dim=2) + 1e-8)
    energy = torch.log1p(patches.square().mean(dim=2))
    # slices, not Tensor.diff: the ONNX exporter has no diff (same values either way)
    var = (patches[:, :, 1:] - patches[:, :, :-1]).abs().mean(dim=2)
    return rms, energy, var


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_out))


class CosineCodebook(nn.Module):
    """Cosine-similarity VQ: ``k* = argmax_k <norm(q_t), norm(E_k)>``, straight-through."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.codes = nn.Parameter(torch.randn(size, dim))

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Return ``(quantised [B,N,d], codes [B,N], codebook loss, commitment loss)``."""
        query = F.normalize(tokens, dim=-1)
        book = F.normalize(self.codes, dim=-1)
        codes = (query @ book.T).argmax(dim=-1)
        chosen = book[codes]
        codebook, commitment = vq_losses(query, chosen)
        # straight-through: forward uses the code, backward passes the gradient to the query
        quantised = query + (chosen - query).detach()
        return quantised, codes, codebook, commitment


class ActivationAwareEncoder(nn.Module):
    """Patch tokens + gated activation descriptors -> Transformer -> ``H [B, N, d_model]``."""

    def __init__(self, config: ModelConfig, n_classes: int) -> None:
        super().__init__()
        c, p, d = config.n_channels, config.patch, config.d_model
        self.config = config
        self.patch_embed = nn.Linear(p * c, d)
        self.descriptors = config.descriptors
        if self.descriptors:
            self.phi_e = _mlp(2 * c, config.descriptor_hidden, d)
            self.phi_v = _mlp(c, config.descriptor_hidden, d)
            self.gate_e = nn.Parameter(torch.tensor(float(config.gate_init)))
            self.gate_v = nn.Parameter(torch.tensor(float(config.gate_init)))
        self.position = nn.Parameter(torch.zeros(1, config.n_patches, d))
        nn.init.trunc_normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d,
            config.n_heads,
            dim_feedforward=config.ff_mult * d,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.layers = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.codebook = CosineCodebook(config.codebook_size, d)
        self.decoder = _mlp(d, d, p * c)
        self.classifier = nn.Linear(d, n_classes)

    def tokens(self, x: Tensor) -> Tensor:
        """``h_t`` for normalised windows ``x [B, T, C]`` -> ``[B, N, d_model]``."""
        patches = patchify(x, self.config.patch)
        h = self.patch_embed(patches.flatten(2))
        if self.descriptors:
            rms, energy, var = patch_descriptors(patches)
            h = h + torch.sigmoid(self.gate_e) * self.phi_e(torch.cat([rms, energy], dim=-1))
            h = h + torch.sigmoid(self.gate_v) * self.phi_v(var)
        return h

    def encode(self, x: Tensor) -> Tensor:
        """``H = Transformer(h + position)`` for normalised windows."""
        return self.norm(self.layers(self.tokens(x) + self.position))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Stage-2 pass: tokens, class logits, reconstruction of the patches, VQ terms."""
        h = self.encode(x)
        quantised, codes, codebook, commitment = self.codebook(h)
        return {
            "tokens": h,
            "logits": self.classifier(h.mean(dim=1)),
            "reconstruction": self.decoder(quantised),
            "target": patchify(x, self.config.patch).flatten(2),
            "codes": codes,
            "codebook_loss": codebook,
            "commitment_loss": commitment,
        }

    def tail_parameters(self, n_layers: int) -> list[nn.Parameter]:
        """The last ``n_layers`` Transformer layers, the final norm and the classifier."""
        layers = list(self.layers.layers)[-n_layers:] if n_layers > 0 else []
        return [p for m in (*layers, self.norm, self.classifier) for p in m.parameters()]
