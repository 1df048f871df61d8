"""DistributedDataParallel set-up: the same training runs alone or under ``torchrun``.

``torchrun --nproc_per_node N -m myostream train ...`` sets ``RANK``/``WORLD_SIZE``/
``LOCAL_RANK``/``MASTER_ADDR``/``MASTER_PORT``; :func:`init_distributed` then joins the
process group (NCCL on GPUs, gloo on CPUs). Without those variables it does nothing.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from myostream.torchdevice import resolve_device


def init_distributed() -> bool:
    """Join the process group when launched with ``WORLD_SIZE > 1``; True when distributed."""
    if is_distributed():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return True


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Only the first process writes logs, checkpoints and progress bars."""
    return rank() == 0


def training_device(device: str | torch.device = "auto") -> torch.device:
    """The device of this process: under NCCL, the GPU of its local rank."""
    dev = resolve_device(device)
    if dev.type == "cuda" and is_distributed() and dev.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return dev
