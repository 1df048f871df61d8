"""Stage 3: align EMG embeddings with the frozen class prototypes.

L = InfoNCE(z, P, tau_a) over all training classes + lambda_aux CE. Phase A trains the
projection and the semantic queries on a frozen encoder; phase B also unfreezes the
encoder's last layer(s) at a lower learning rate, so alignment can reshape the top of
the encoder without undoing stage 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from myostream.errors import MyostreamError
from myostream.model.config import Stage3Config
from myostream.model.losses import info_nce
from myostream.model.retrieval import RetrievalModel
from myostream.train.augment import Augmentation, augmented
from myostream.train.distributed import init_distributed, training_device
from myostream.train.loop import BestEpoch, LossFn, ValFn, as_training_data, fit, note_selected


def stage3_loss(prototypes: Tensor, config: Stage3Config) -> LossFn:
    p = F.normalize(prototypes.float(), dim=-1)

    def loss(net: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        out = net(x, stage=3)
        nce = info_nce(out["z"], p, y, config.temperature)
        # multiplied even when lambda_aux = 0 so the classifier stays in the graph (DDP needs it)
        aux = F.cross_entropy(out["logits"], y)
        r1 = ((out["z"].float() @ p.T).argmax(1) == y).float().mean()
        return {"loss": nce + config.lambda_aux * aux, "nce": nce, "aux": aux, "r1": r1}

    return loss


def retrieval_r1(prototypes: Tensor) -> ValFn:
    @torch.inference_mode()
    def r1(model: RetrievalModel, x: Tensor, y: Tensor, batch_size: int = 1024) -> dict[str, float]:
        model.eval()
        dev = model.input_shift.device
        p = F.normalize(prototypes.float(), dim=-1).to(dev)
        hits = sum(
            int(((model(xb.to(dev), stage=3)["z"].float() @ p.T).argmax(1).cpu() == yb).sum())
            for xb, yb in zip(x.split(batch_size), y.split(batch_size))
        )
        return {"r1": hits / len(y)}

    return r1


def train_stage3(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    prototypes: Tensor | None = None,
    config: Stage3Config | None = None,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
    log: str | Path | None = None,
    progress: bool = True,
    val: tuple[Tensor, Tensor] | None = None,
    augmentation: Augmentation | None = None,
) -> list[dict[str, Any]]:
    """Align ``model`` to ``prototypes [K_train, d]`` (default: the model's own); ``y`` indexes their rows.

    ``augmentation`` as in stage 2; with ``val`` and ``config.select_best`` the epoch (of
    either phase) with the best validation R@1 is kept.

    ``y`` must also index the stage-2 classifier (the aux CE), i.e. the same training
    classes in the same order.
    """
    config = config or model.config.stage3
    p = (model.prototypes if prototypes is None else torch.as_tensor(prototypes, dtype=torch.float32)).detach()
    if p.ndim != 2 or p.shape[1] != model.config.d_embed:
        raise MyostreamError(f"Prototypes have shape {tuple(p.shape)}; expected [classes, {model.config.d_embed}].")
    if p.shape[0] != model.n_classes:
        raise MyostreamError(
            f"Stage 3 got {p.shape[0]} prototypes but the classifier has {model.n_classes} classes; "
            "give the training classes' prototypes in the classifier's order."
        )
    x, y = as_training_data(model, x, y, p.shape[0])
    if val is not None:
        val = as_training_data(model, *val, p.shape[0])
    common = dict(
        batch_size=config.batch_size,
        weight_decay=config.weight_decay,
        stage="stage3",
        device=device,
        log=log,
        progress=progress,
        val=val,
    )
    init_distributed()  # before picking the device: under NCCL each process has its own GPU
    p = p.to(training_device(device))
    loss, val_fn = augmented(stage3_loss(p, config), augmentation, model.preprocessing.ring), retrieval_r1(p)
    best = BestEpoch("r1") if val is not None and config.select_best else None
    history = fit_two_phases(
        model,
        x,
        y,
        loss,
        epochs_a=config.epochs_a,
        epochs_b=config.epochs_b,
        lr=config.lr,
        lr_b=config.lr_b,
        unfreeze_layers=config.unfreeze_layers,
        seed=seed,
        val_fn=val_fn,
        best=best,
        **common,
    )
    if best is not None:
        note_selected(best.restore(model), log)
    return history


def fit_two_phases(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    loss: LossFn,
    *,
    epochs_a: int,
    epochs_b: int,
    lr: float,
    lr_b: float,
    unfreeze_layers: int,
    seed: int,
    **fit_kwargs: Any,
) -> list[dict[str, Any]]:
    """Stage 3's schedule (also per-user adaptation's): phase A trains the projection and
    queries at ``lr``; phase B also unfreezes the encoder's last ``unfreeze_layers`` layers at ``lr_b``."""
    history: list[dict[str, Any]] = []
    if epochs_a > 0:
        groups = [{"params": model.alignment_parameters(), "lr": lr}]
        history += fit(model, x, y, loss, groups, epochs=epochs_a, seed=seed, extra={"phase": "A"}, **fit_kwargs)
    if epochs_b > 0:
        groups = [
            {"params": model.alignment_parameters(), "lr": lr},
            {"params": model.tail_parameters(unfreeze_layers), "lr": lr_b},
        ]
        history += fit(model, x, y, loss, groups, epochs=epochs_b, seed=seed + 1, extra={"phase": "B"}, **fit_kwargs)
    return history
