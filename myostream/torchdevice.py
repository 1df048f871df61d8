"""Torch device selection shared by inference, checkpoints and training."""

from __future__ import annotations

import torch

from myostream.errors import MyostreamError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` when a GPU is visible, else ``cpu``; anything else is checked."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise MyostreamError(f"Unknown torch device {device!r}; use auto, cpu, cuda or cuda:N.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MyostreamError(
            f"Device {device!r} was asked for but no CUDA GPU is visible; use --torch-device cpu or auto."
        )
    if dev.type not in ("cpu", "cuda"):
        raise MyostreamError(f"Device {device!r} is not supported; use auto, cpu, cuda or cuda:N.")
    return dev


def set_threads(threads: int | None) -> None:
    """Use ``threads`` torch CPU threads (``None``: leave torch's choice)."""
    if threads is None:
        return
    if threads < 1:
        raise MyostreamError(f"--threads must be at least 1, got {threads}.")
    torch.set_num_threads(threads)
