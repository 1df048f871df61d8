"""Semantic query head (MyoSem stage 3).

``z_global = norm(f_proj(mean_t H_t))``; ``M`` learnable queries cross-attend to ``H`` and
``z_query = norm(mean_m f_q(Q~_m))``; the embedding is
``z = norm((1 - alpha) z_global + alpha z_query)``. The queries' attention over the
patches (``[B, M, N]``, each row sums to 1) says which moments of the window each query
read; the live app draws it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from myostream.model.config import ModelConfig


class SemanticQueryHead(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d, e = config.d_model, config.d_embed
        self.alpha = config.alpha
        self.f_proj = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, e))
        self.use_queries = config.queries
        if self.use_queries:
            self.queries = nn.Parameter(torch.randn(config.n_queries, d) * 0.02)
            self.n_heads = config.n_heads
            self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(d, d) for _ in range(4))
            self.attention_dropout = nn.Dropout(config.dropout)
            self.query_norm = nn.LayerNorm(d)
            self.f_q = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, e))

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor | None]:
        """``H [B, N, d_model]`` -> ``(z [B, d_embed], attention [B, M, N] or None)``."""
        z_global = F.normalize(self.f_proj(h.mean(dim=1)), dim=-1)
        if not self.use_queries:
            return z_global, None
        read, attention = self._cross_attend(h)
        q_tilde = self.query_norm(self.queries + read)
        z_query = F.normalize(self.f_q(q_tilde).mean(dim=1), dim=-1)
        z = F.normalize((1.0 - self.alpha) * z_global + self.alpha * z_query, dim=-1)
        return z, attention

    def _cross_attend(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Multi-head attention of the queries over ``H``; weights averaged over heads.

        Written out rather than through ``nn.MultiheadAttention`` because its weight-returning
        path costs more than the rest of the head at batch 1 (the live path).
        """
        b, n, d = h.shape
        heads, dh = self.n_heads, d // self.n_heads
        q = self.to_q(self.queries).reshape(-1, heads, dh).transpose(0, 1)  # [heads, M, dh]
        k = self.to_k(h).reshape(b, n, heads, dh).transpose(1, 2)  # [B, heads, N, dh]
        v = self.to_v(h).reshape(b, n, heads, dh).transpose(1, 2)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)  # [B, heads, M, N]
        read = (self.attention_dropout(weights) @ v).transpose(1, 2).reshape(b, -1, d)
        return self.to_out(read), weights.mean(dim=1)
