"""Stage 2: train the EMG encoder with L = L_cls + lambda_rec L_rec + lambda_vq L_vq.

Baselines have no reconstruction or codebook, so for them stage 2 is L_cls alone: the
same call trains every architecture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from myostream.model.config import Stage2Config
from myostream.model.retrieval import RetrievalModel
from myostream.train.augment import Augmentation, augmented
from myostream.train.loop import BestEpoch, LossFn, as_training_data, fit, note_selected


def stage2_loss(config: Stage2Config) -> LossFn:
    def loss(net: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        out = net(x, stage=2)
        cls = F.cross_entropy(out["logits"], y)
        terms = {"cls": cls, "acc": (out["logits"].argmax(1) == y).float().mean()}
        total = cls
        if "reconstruction" in out:
            rec = F.mse_loss(out["reconstruction"].float(), out["target"].float())
            vq = out["codebook_loss"] + config.commitment * out["commitment_loss"]
            total = total + config.lambda_rec * rec + config.lambda_vq * vq
            terms.update(rec=rec, vq=vq)
        return {"loss": total, **terms}

    return loss


@torch.inference_mode()
def classification_accuracy(model: RetrievalModel, x: Tensor, y: Tensor, batch_size: int = 1024) -> dict[str, float]:
    model.eval()
    dev = model.input_shift.device
    hits = sum(
        int((model(xb.to(dev), stage=2)["logits"].argmax(1).cpu() == yb).sum())
        for xb, yb in zip(x.split(batch_size), y.split(batch_size))
    )
    return {"acc": hits / len(y)}


def train_stage2(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    config: Stage2Config | None = None,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
    log: str | Path | None = None,
    progress: bool = True,
    val: tuple[Tensor, Tensor] | None = None,
    augmentation: Augmentation | None = None,
) -> list[dict[str, Any]]:
    """Fit the input statistics on ``x``, then train the encoder (labels ``y`` index its classifier).

    ``augmentation`` is drawn anew for every batch (rotation only when the model's
    preprocessing says its electrodes form a ring); with ``val`` and ``config.select_best``
    the epoch with the best validation accuracy is kept."""
    config = config or model.config.stage2
    x, y = as_training_data(model, x, y, model.n_classes)
    model.fit_input_stats(x)
    if val is not None:
        val = as_training_data(model, *val, model.n_classes)
    best = BestEpoch("acc") if val is not None and config.select_best else None
    history = fit(
        model,
        x,
        y,
        augmented(stage2_loss(config), augmentation, model.preprocessing.ring),
        [{"params": model.encoder_parameters(), "lr": config.lr}],
        epochs=config.epochs,
        batch_size=config.batch_size,
        weight_decay=config.weight_decay,
        stage="stage2",
        device=device,
        seed=seed,
        log=log,
        progress=progress,
        val=val,
        val_fn=classification_accuracy,
        best=best,
    )
    if best is not None:
        note_selected(best.restore(model), log)
    return history
