"""Training-time augmentation: how a band can sit on a new person, applied to each batch.

- ``rotation``: the band turned by up to this many electrodes either way, any fraction of
  an electrode (a channel between two electrodes is interpolated from its neighbours);
  only for bands whose electrodes form a ring (``Preprocessing.ring``).
- ``mirror``: the band put on the other way round (channel order reversed), half the time.
- ``gain``: each channel's gain multiplied by ``exp(N(0, gain))`` (electrode contact, skin).
- ``noise``: white noise of this fraction of each window's RMS (amplifier and motion noise).

Applied to the raw (prepared) windows of every batch before the model, inside the loss
function (:func:`augmented`), so every training stage and every architecture get the
same treatment. Settings live in the experiment's ``[augment]`` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import torch
from torch import Tensor, nn

from myostream.errors import MyostreamError
from myostream.schema import Table, table_for, validate
from myostream.stream.orientation import ring_matrix
from myostream.train.loop import LossFn


@dataclass(frozen=True)
class Augmentation:
    rotation: float = 0.0
    mirror: bool = False
    gain: float = 0.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        if self.rotation < 0 or self.gain < 0 or self.noise < 0:
            raise MyostreamError("Augmentation rotation, gain and noise must be 0 or more.")

    @property
    def active(self) -> bool:
        return bool(self.rotation or self.mirror or self.gain or self.noise)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "[augment]") -> Augmentation:
        return cls(**validate(AugmentTable, d, where).given())


if TYPE_CHECKING:
    AugmentTable: TypeAlias = Table  # built by table_for at run time (see model/config.py)
else:
    AugmentTable = table_for(Augmentation)


def ring_transform(x: Tensor, shift: Tensor, mirror: Tensor) -> Tensor:
    """Windows ``x [B, T, C]`` as a ring band would record them turned by ``shift [B]`` electrodes
    after reversing the order where ``mirror [B]`` is set (:func:`myostream.stream.orientation.ring_matrix`)."""
    c = x.shape[-1]
    m = np.stack([ring_matrix(c, float(s), bool(f)) for s, f in zip(shift.tolist(), mirror.tolist())])
    return x @ torch.as_tensor(m, dtype=x.dtype, device=x.device).transpose(1, 2)


def augment(x: Tensor, aug: Augmentation, ring: bool) -> Tensor:
    """One random draw of ``aug`` for each window of ``x [B, T, C]``."""
    b, _, c = x.shape
    if ring and (aug.rotation or aug.mirror):
        shift = (torch.rand(b, device=x.device) * 2 - 1) * aug.rotation
        mirror = (
            (torch.rand(b, device=x.device) < 0.5) if aug.mirror else torch.zeros(b, dtype=torch.bool, device=x.device)
        )
        x = ring_transform(x, shift, mirror)
    if aug.gain:
        x = x * torch.exp(torch.randn(b, 1, c, device=x.device) * aug.gain)
    if aug.noise:
        x = x + torch.randn_like(x) * aug.noise * x.square().mean(dim=(1, 2), keepdim=True).sqrt()
    return x


def augmented(loss: LossFn, aug: Augmentation | None, ring: bool) -> LossFn:
    """``loss`` on augmented batches (unchanged when ``aug`` does nothing)."""
    if aug is None or not aug.active:
        return loss

    def wrapped(net: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            x = augment(x, aug, ring)
        return loss(net, x, y)

    return wrapped
