"""What a model's windows went through before the model saw them, and how to do it again.

A checkpoint carries its :class:`Preprocessing`: the rate and channels of its windows,
the causal filter they passed, window and hop, and how each person's signal is scaled
(per-user normalisation). Training, evaluation, adaptation and the live pipeline all
read it from the checkpoint, so none of them can pair a model with other preprocessing.

Per-user normalisation divides each person's filtered signal by that person's own
signal level, estimated without labels, so that the model never depends on one
person's electrode gains or skin impedance:

- ``"channel"``: per channel, the RMS over the person's active stretches;
- ``"global"``: one RMS for all channels (keeps the spatial profile, removes overall gain);
- ``"none"``: the device's units as they come.

"Active" is decided per 100 ms block: a block counts when its power (mean over channels)
is at least a tenth of the typical power of the person's busier half of blocks, so rest
does not pull the level down however long it lasts. A stretch of rest alone looks like a
stretch of movement at a lower gain; live, where the first seconds may be rest only,
blocks below a hundredth of the training population's typical power also count as rest. Offline the level is
computed over a whole session (:func:`user_scale`); live, :class:`myostream.stream.normalise.RunningUserScale`
starts from the training population's typical level, settles on the wearer's first
active seconds and then follows slowly, ignoring rest. Both use the same block
statistics, so a live person is scaled like a training person.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from myostream.errors import MyostreamError
from myostream.schema import Number, Table, located, validate

Normalisation = Literal["none", "channel", "global"]
NORMALISATIONS: tuple[str, ...] = get_args(Normalisation)
#: length of the blocks whose power decides what is active
BLOCK_S = 0.1
#: a block is active when its power is at least this fraction of the busier half's mean power
ACTIVE_FRACTION = 0.1
#: live: blocks below this fraction of the population's typical power are rest (the prior's power)
REST_FRACTION = 0.01


@dataclass(frozen=True)
class FilterSpec:
    """A causal filter chain: high-pass or band-pass, mains notch with harmonics, envelope.

    ``highpass``/``lowpass`` in Hz (``None`` to skip; both set = band-pass), ``notch``
    50 or 60 Hz (``None`` to skip) with ``harmonics`` multiples below Nyquist,
    ``envelope`` the low-pass cutoff in Hz applied after full-wave rectification
    (``None`` keeps the raw band-passed signal).
    """

    highpass: float | None = None
    lowpass: float | None = None
    notch: float | None = None
    harmonics: int = 1
    order: int = 4
    notch_q: float = 30.0
    envelope: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "filter", at: Sequence[str] = ()) -> FilterSpec:
        """The filter a table of settings describes; ``where`` names its file, ``at`` the table in it."""
        spec = cls(**validate(FilterTable, d, where, at).given())
        if spec.notch is not None and spec.notch not in (50, 60):
            raise MyostreamError(f"{located(where, at)} notch must be 50 or 60 (Hz, the mains), got {spec.notch!r}.")
        return spec


class FilterTable(Table):
    """A ``[filter]`` table: the keys of :class:`FilterSpec`."""

    highpass: Number | None = None
    lowpass: Number | None = None
    notch: Number | None = None
    harmonics: int | None = None
    order: int | None = None
    notch_q: Number | None = None
    envelope: Number | None = None


@dataclass(frozen=True)
class Preprocessing:
    """The signal a model takes and what was done to it (stored in every checkpoint).

    ``rate``/``n_channels``/``window_ms``: the windows the model ranks. ``hop_ms``: the
    hop its training windows used (the live default). ``filter``: the causal filter at
    ``rate`` (None: none). ``normalisation``: per-user scaling (see the module docstring);
    ``prior_scale``: the training people's median level per channel, what a live stream
    is scaled by until the wearer's own level is known. ``ring``: the electrodes form a
    ring around the forearm, so a band can sit turned or flipped and the live pipeline
    estimates how it sits from the wearer's first seconds
    (:mod:`myostream.stream.orientation`); ``ring_profile``: the training people's mean
    level profile, the anatomy that estimate compares with. ``channel_names``: the order
    the model expects its channels in.
    """

    rate: float
    n_channels: int
    window_ms: float
    hop_ms: float
    filter: FilterSpec | None = None
    normalisation: str = "none"
    prior_scale: tuple[float, ...] | None = None
    ring: bool = False
    ring_profile: tuple[float, ...] | None = None
    channel_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise MyostreamError(
                f"Normalisation {self.normalisation!r} is unknown; use one of {', '.join(NORMALISATIONS)}."
            )
        if not (self.rate > 0 and self.window_ms > 0 and self.hop_ms > 0 and self.n_channels >= 1):
            raise MyostreamError("Preprocessing needs rate, window_ms and hop_ms > 0 and at least one channel.")
        for key in ("prior_scale", "ring_profile"):
            value = getattr(self, key)
            if value is not None and len(value) != self.n_channels:
                raise MyostreamError(
                    f"{key} has {len(value)} values for {self.n_channels} channels; give one per channel."
                )
        if self.channel_names and len(self.channel_names) != self.n_channels:
            raise MyostreamError(
                f"{len(self.channel_names)} channel names for {self.n_channels} channels; give one name per channel."
            )

    @property
    def window_samples(self) -> int:
        return round(self.window_ms * self.rate / 1000.0)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["filter"] = None if self.filter is None else dataclasses.asdict(self.filter)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "preprocessing") -> Preprocessing:
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise MyostreamError(f"{where} has unknown keys {unknown}; use only {sorted(known)}.")
        if d.get("filter"):
            d["filter"] = FilterSpec.from_dict(d["filter"], where=f"{where} filter")
        else:
            d["filter"] = None
        for key in ("prior_scale", "ring_profile", "channel_names"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        try:
            return cls(**d)
        except TypeError as exc:
            raise MyostreamError(f"{where} is incomplete ({exc}).") from None


# ----------------------------------------------------------------------------- levels


def block_power(x: np.ndarray, rate: float) -> np.ndarray:
    """Mean square per channel of consecutive ``BLOCK_S`` blocks of ``x [n, C]`` -> ``[blocks, C]``
    (a trailing partial block is left out)."""
    n = max(1, int(round(BLOCK_S * rate)))
    blocks = len(x) // n
    if blocks == 0:
        return np.zeros((0, x.shape[1]))
    x = np.asarray(x[: blocks * n], np.float64).reshape(blocks, n, x.shape[1])
    return np.mean(x * x, axis=1)


def active_blocks(power: np.ndarray, rest_power: float = 0.0) -> np.ndarray:
    """Which blocks (rows of :func:`block_power`) are active (see the module docstring); blocks
    below ``rest_power`` are rest whatever the others do."""
    activity = power.mean(axis=1)
    if len(activity) == 0:
        return np.zeros(0, bool)
    busy = activity[activity >= np.median(activity)]
    return activity >= max(ACTIVE_FRACTION * busy.mean(), rest_power, 1e-30)


def level_from_power(power: np.ndarray, mode: str, rest_power: float = 0.0) -> np.ndarray:
    """The person's level per channel (float32[C]) from block powers."""
    active = power[active_blocks(power, rest_power)]
    if len(active) == 0:
        raise MyostreamError("No signal to estimate the wearer's level from; record some movement first.")
    ms = active.mean(axis=0)
    if mode == "global":
        ms = np.full_like(ms, ms.mean())
    level = np.sqrt(ms)
    floor = max(float(level.max()) * 1e-6, 1e-12)  # a dead channel passes through unscaled
    return np.where(level > floor, level, 1.0).astype(np.float32)


def user_scale(x: np.ndarray, rate: float, mode: str) -> np.ndarray:
    """Level per channel (float32[C]) of one person's filtered signal ``x [n, C]``; ones for ``"none"``."""
    if mode not in NORMALISATIONS:
        raise MyostreamError(f"Normalisation {mode!r} is unknown; use one of {', '.join(NORMALISATIONS)}.")
    if mode == "none":
        return np.ones(x.shape[1], np.float32)
    return level_from_power(block_power(x, rate), mode)
