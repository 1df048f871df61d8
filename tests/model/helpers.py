"""Small configs and a separable synthetic task shared by the model and training tests."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from myostream.model.config import ModelConfig, Stage2Config, Stage3Config

CLASS_IDS = ("rest", "fist", "open_hand", "pinch")


def tiny_config(**changes) -> ModelConfig:
    """4 channels at 100 Hz, 200 ms windows (20 samples) in 5 patches of 4; a few thousand weights."""
    cfg = ModelConfig(
        name="tiny",
        n_channels=4,
        rate=100.0,
        window_ms=200,
        patch=4,
        d_model=32,
        n_layers=2,
        n_heads=2,
        codebook_size=16,
        d_embed=16,
        n_queries=3,
        descriptor_hidden=16,
        dropout=0.0,
        stage2=Stage2Config(epochs=4, batch_size=32, lr=3e-3),
        stage3=Stage3Config(epochs_a=3, epochs_b=2, batch_size=32, lr=3e-3, lr_b=3e-4),
    )
    return replace(cfg, **changes)


def prototypes(k: int = len(CLASS_IDS), d: int = 16, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(k, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


def separable_task(n: int = 256, k: int = len(CLASS_IDS), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows [n, 20, 4] whose class k activates channel k (a burst of 'EMG' on noise)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    x = 0.2 * torch.randn(n, 20, 4, generator=g)
    x[torch.arange(n), :, y] += 1.5 * torch.randn(n, 20, generator=g)
    return x, y
