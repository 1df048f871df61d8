from __future__ import annotations

import torch
import torch.nn.functional as F

from myostream.model.query_head import SemanticQueryHead
from tests.model.helpers import tiny_config


def test_attention_rows_sum_to_one_and_embedding_is_unit_norm():
    cfg = tiny_config()
    head = SemanticQueryHead(cfg).eval()
    h = torch.randn(4, cfg.n_patches, cfg.d_model)
    z, attention = head(h)
    assert z.shape == (4, cfg.d_embed) and torch.allclose(z.norm(dim=-1), torch.ones(4))
    assert attention.shape == (4, cfg.n_queries, cfg.n_patches)
    assert torch.allclose(attention.sum(-1), torch.ones(4, cfg.n_queries)) and (attention >= 0).all()


def test_fusion_follows_alpha():
    cfg = tiny_config()
    h = torch.randn(2, cfg.n_patches, cfg.d_model)
    torch.manual_seed(0)
    head = SemanticQueryHead(cfg).eval()
    z_global = F.normalize(head.f_proj(h.mean(1)), dim=-1)
    head.alpha = 0.0
    assert torch.allclose(head(h)[0], z_global, atol=1e-6)
    head.alpha = 1.0
    z_query, _ = head(h)
    assert not torch.allclose(z_query, z_global, atol=1e-3)
    head.alpha = 0.5
    assert torch.allclose(head(h)[0], F.normalize(0.5 * z_global + 0.5 * z_query, dim=-1), atol=1e-6)


def test_query_switch_leaves_only_the_global_projection():
    cfg = tiny_config(queries=False)
    head = SemanticQueryHead(cfg).eval()
    assert not hasattr(head, "queries")
    h = torch.randn(2, cfg.n_patches, cfg.d_model)
    z, attention = head(h)
    assert attention is None
    assert torch.allclose(z, F.normalize(head.f_proj(h.mean(1)), dim=-1))
