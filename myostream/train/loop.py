"""The one training loop every stage uses, on plain in-memory tensors.

``fit`` trains the parameters it is given (everything else is frozen for the call),
shows a progress bar, writes one JSON line per epoch, is deterministic for a seed on
the CPU, uses mixed precision on CUDA (bf16 where supported, else fp16 with loss
scaling) and wraps the model in DistributedDataParallel under ``torchrun``. With a
validation set and a :class:`BestEpoch`, it remembers the weights of the epoch that
scored best on validation, across calls (a stage's phases), for the caller to restore:
the number of epochs is then an upper bound and validation picks the epoch.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler, Sampler, TensorDataset
from tqdm.auto import tqdm

from myostream.errors import MyostreamError
from myostream.model.retrieval import RetrievalModel
from myostream.train.distributed import init_distributed, is_distributed, is_main, rank, training_device

#: ``loss_fn(net, x, y) -> {"loss": total, other scalar terms to log}``
LossFn = Callable[[nn.Module, Tensor, Tensor], dict[str, Tensor]]
#: ``val_fn(model, x, y) -> {metric: value}`` (logged with a ``val_`` prefix)
ValFn = Callable[[RetrievalModel, Tensor, Tensor], dict[str, float]]


def as_training_data(model: RetrievalModel, x: Any, y: Any, n_targets: int) -> tuple[Tensor, Tensor]:
    """Check ``x float32[N, T, C]`` against the model's config and ``y int64[N]`` against ``n_targets``."""
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y).long()
    if x.ndim != 3 or len(x) == 0:
        raise MyostreamError(
            f"Training windows must be a non-empty [N, samples, channels] array; got shape {tuple(x.shape)}."
        )
    model.as_windows(x[:1])  # channel count and window length, with the model's own message
    if not bool(torch.isfinite(x).all()):
        raise MyostreamError("Training windows contain NaN or infinite samples; clean or drop them before training.")
    if y.shape != (len(x),):
        raise MyostreamError(
            f"Labels have shape {tuple(y.shape)} for {len(x)} windows; give one class index per window."
        )
    if int(y.min()) < 0 or int(y.max()) >= n_targets:
        raise MyostreamError(
            f"Labels run from {int(y.min())} to {int(y.max())}; they must index the {n_targets} classes (0..{n_targets - 1})."
        )
    return x, y


class BestEpoch:
    """The weights of the best epoch so far by validation metric ``metric`` (higher is better)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.score = -math.inf
        self.state: dict[str, Tensor] | None = None
        self.record: dict[str, Any] | None = None

    def offer(self, model: nn.Module, record: dict[str, Any]) -> None:
        score = record.get(f"val_{self.metric}")
        if score is not None and score > self.score:
            self.score, self.record = float(score), record
            self.state = copy.deepcopy(model.state_dict())

    def restore(self, model: nn.Module) -> dict[str, Any] | None:
        """Load the best weights into ``model``; returns that epoch's record (None: nothing validated)."""
        if self.state is None:
            return None
        model.load_state_dict(self.state)
        assert self.record is not None
        self.record["selected"] = True
        return self.record


def note_selected(record: dict[str, Any] | None, log: str | Path | None) -> None:
    """Say in the JSON-lines log which epoch's weights a stage kept (after :meth:`BestEpoch.restore`)."""
    if record is None or log is None or not is_main():
        return
    keep = {k: record[k] for k in ("stage", "phase", "epoch") if k in record}
    with open(log, "a") as f:
        f.write(json.dumps({**keep, "selected": True}) + "\n")


def fit(
    model: RetrievalModel,
    x: Tensor,
    y: Tensor,
    loss_fn: LossFn,
    param_groups: Sequence[dict[str, Any]],
    *,
    epochs: int,
    batch_size: int,
    weight_decay: float = 0.01,
    stage: str = "train",
    device: str | torch.device = "auto",
    seed: int = 0,
    log: str | Path | None = None,
    progress: bool = True,
    amp: bool | None = None,
    val: tuple[Tensor, Tensor] | None = None,
    val_fn: ValFn | None = None,
    grad_clip: float = 1.0,
    extra: dict[str, Any] | None = None,
    best: BestEpoch | None = None,
) -> list[dict[str, Any]]:
    """Train ``param_groups`` (AdamW groups: ``{"params": [...], "lr": ...}``) for ``epochs``.

    Returns the per-epoch records (also appended to ``log`` as JSON lines by the main
    process); ``extra`` is merged into every record (e.g. the stage-3 phase). ``best``
    is offered every validated epoch (see :class:`BestEpoch`).
    """
    init_distributed()
    dev = training_device(device)
    torch.manual_seed(seed + rank())
    model.to(dev)
    trainable = _train_only(model, param_groups)
    net: nn.Module = model
    if is_distributed():
        net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)

    dataset = TensorDataset(x, y)
    sampler: Sampler[int]
    if is_distributed():
        sampler = DistributedSampler(dataset, shuffle=True, seed=seed)
    else:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    # whole batches are sliced at once (TensorDataset accepts index lists): no per-item collation
    loader = DataLoader(
        dataset,
        sampler=BatchSampler(sampler, batch_size, drop_last=False),
        batch_size=None,
        pin_memory=dev.type == "cuda",
    )
    steps = len(loader) * epochs

    optimizer = torch.optim.AdamW(param_groups, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(steps))
    use_amp = dev.type == "cuda" if amp is None else (amp and dev.type == "cuda")
    amp_dtype = torch.bfloat16 if dev.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    history: list[dict[str, Any]] = []
    bar = tqdm(total=steps, desc=stage, disable=not (progress and is_main()), leave=False, unit="batch")
    try:
        for epoch in range(epochs):
            if isinstance(sampler, DistributedSampler):
                sampler.set_epoch(epoch)
            net.train()
            sums: dict[str, Tensor] = {}
            count = torch.zeros((), dtype=torch.float64, device=dev)
            start = time.perf_counter()
            for xb, yb in loader:
                xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=use_amp):
                    terms = loss_fn(net, xb, yb)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(terms["loss"]).backward()
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(trainable, grad_clip)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().double() * len(xb)
                count += len(xb)
                bar.update(1)
            record = _epoch_record(stage, epoch, sums, count, optimizer, time.perf_counter() - start, extra)
            if val is not None and val_fn is not None:
                record.update({f"val_{k}": v for k, v in val_fn(model, *val).items()})
                if best is not None:
                    best.offer(model, record)
            history.append(record)
            bar.set_postfix(epoch=epoch + 1, loss=f"{record['loss']:.4f}")
            if log is not None and is_main():
                with open(log, "a") as f:
                    f.write(json.dumps(record) + "\n")
    finally:
        bar.close()
        for p in model.parameters():
            p.requires_grad_(True)
    return history


def _train_only(model: nn.Module, param_groups: Sequence[dict[str, Any]]) -> list[nn.Parameter]:
    """Freeze every parameter except those in ``param_groups`` (DDP then syncs only those)."""
    trainable = [p for g in param_groups for p in g["params"]]
    if not trainable:
        raise ValueError("no parameters to train")
    for p in model.parameters():
        p.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    return trainable


def _warmup_cosine(steps: int) -> Callable[[int], float]:
    warmup = max(1, steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t))

    return factor


def _epoch_record(
    stage: str,
    epoch: int,
    sums: dict[str, Tensor],
    count: Tensor,
    optimizer: torch.optim.Optimizer,
    seconds: float,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    keys = sorted(sums)
    totals = torch.stack([sums[k] for k in keys] + [count])
    if is_distributed():
        # every process saw a different shard: the epoch means are over all of them
        dist.all_reduce(totals)
    means = {k: float(v) for k, v in zip(keys, (totals[:-1] / totals[-1]).tolist())}
    return {
        "stage": stage,
        **(extra or {}),
        "epoch": epoch + 1,
        **means,
        "lr": optimizer.param_groups[0]["lr"],
        "seconds": round(seconds, 3),
        "windows_per_s": round(float(totals[-1]) / seconds, 1),
    }
