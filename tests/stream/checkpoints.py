"""Small real checkpoints for the live pipeline and app tests.

A checkpoint here is what ``myostream train`` writes, minus the EMG training: the real
MiniLM text encoder (projection only saved, as stage 1 would) encodes the real
description catalog into the prototypes, and MyoSem is freshly initialised from a
shipped model config with input statistics fitted on a few seconds of signal. It ranks
structurally exactly like a trained model; it just does not know the gestures.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from myostream.model import CatalogEntry, create_model, load_config
from myostream.model.checkpoint import save_checkpoint
from myostream.text.catalog import catalog_for
from myostream.text.encoder import TextEncoder
from myostream.text.stage1 import build_prototypes


@functools.lru_cache(maxsize=1)
def text_encoder() -> TextEncoder:
    torch.manual_seed(0)
    encoder = TextEncoder.from_pretrained()
    encoder.set_trainable(0)  # what stage 1 trains and saves: the projection
    return encoder


def make_checkpoint(folder: Path, config: str, class_ids: tuple[str, ...], fit_on: np.ndarray) -> Path:
    """Write a checkpoint of model config ``config`` for ``class_ids``; input stats from ``fit_on [n, C]``."""
    torch.manual_seed(0)
    encoder = text_encoder()
    catalog = catalog_for(class_ids)
    prototypes, ids = build_prototypes(encoder, catalog)
    cfg = load_config(config)
    model = create_model(cfg, prototypes, ids)
    n = cfg.window_samples
    windows = np.stack([fit_on[i : i + n] for i in range(0, len(fit_on) - n, n)])
    model.fit_input_stats(torch.from_numpy(windows))
    save_checkpoint(model, folder, catalog=[CatalogEntry(c.id, c.t0, c.t2) for c in catalog])
    encoder.save(folder)
    return folder


@functools.cache
def simulated_checkpoint(root: Path) -> Path:
    """An 8-channel 1 kHz checkpoint for the simulated armband's classes (built once per test run)."""
    from myostream.stream.simulated import SimulatedArmband

    sim = SimulatedArmband(realtime=False)
    sim.open()
    signal = sim.generate(5.0).data
    return make_checkpoint(root / "simulated", "myosem-simulated", sim.info.label_names, signal)
