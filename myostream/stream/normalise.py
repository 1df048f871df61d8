"""Per-user normalisation on a live stream: the wearer's level, learnt as the signal arrives.

The same block statistics as offline (:mod:`myostream.preprocess`), so a live person is
scaled like a training person was.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from myostream.errors import MyostreamError
from myostream.preprocess import BLOCK_S, NORMALISATIONS, REST_FRACTION, active_blocks, level_from_power

#: block powers remembered (a minute): what decides whether a new block is movement or rest
HISTORY_BLOCKS = 600


class RunningUserScale:
    """The wearer's level, live: a prior until ``settle_s`` of movement is seen, then slow updates.

    ``process(x)`` returns the chunk divided by the current level (per channel) and
    learns from it. Samples are summed into ``BLOCK_S`` blocks; each block is judged
    active or rest against the last minute of blocks, with the offline rule, and below
    ``REST_FRACTION`` of the prior's power as rest (so a wearer who starts at rest is not
    taken for a weak one: give the training population's level as ``prior``). While
    settling the level is the offline statistic over that minute; once ``settle_s`` of
    active blocks have been seen, each active block moves the per-channel mean square
    towards its own with time constant ``time_constant_s`` (of movement), and rest is
    ignored however long it lasts.
    """

    def __init__(
        self,
        rate: float,
        n_channels: int,
        mode: str,
        prior: Sequence[float] | None = None,
        settle_s: float = 5.0,
        time_constant_s: float = 60.0,
    ) -> None:
        if mode not in NORMALISATIONS:
            raise MyostreamError(f"Normalisation {mode!r} is unknown; use one of {', '.join(NORMALISATIONS)}.")
        self.rate, self.n_channels, self.mode = float(rate), int(n_channels), mode
        self.block = max(1, int(round(BLOCK_S * rate)))
        self.settle_blocks = max(1, int(math.ceil(settle_s / BLOCK_S)))
        self.alpha = 1.0 - math.exp(-BLOCK_S / time_constant_s)
        self.prior = np.ones(n_channels, np.float32) if prior is None else np.asarray(prior, np.float32)
        self.rest_power = (
            REST_FRACTION * float(np.mean(np.square(self.prior, dtype=np.float64))) if prior is not None else 0.0
        )
        self.reset()

    def reset(self) -> None:
        """Forget the wearer (a new person, or the band put on again)."""
        self.scale = self.prior.copy()
        self._partial = np.zeros(self.n_channels)
        self._partial_n = 0
        self._history: deque[np.ndarray] = deque(maxlen=HISTORY_BLOCKS)
        self._ms: np.ndarray | None = None
        self.active_seconds = 0.0

    def start_settled(self) -> None:
        """Take the prior as the wearer's own level (measured before, e.g. in a calibration)."""
        self._ms = np.square(self.scale.astype(np.float64))

    @property
    def settled(self) -> bool:
        """Whether the level is the wearer's own (``settle_s`` of movement seen)."""
        return self._ms is not None or self.mode == "none"

    def process(self, x: np.ndarray) -> np.ndarray:
        if self.mode == "none":
            return x
        out = (x / self.scale).astype(np.float32, copy=False)
        self._learn(x)
        return out

    def _learn(self, x: np.ndarray) -> None:
        sq = np.square(np.asarray(x, np.float64))
        pos = 0
        while pos < len(sq):
            take = min(len(sq) - pos, self.block - self._partial_n)
            self._partial += sq[pos : pos + take].sum(axis=0)
            self._partial_n += take
            pos += take
            if self._partial_n == self.block:
                self._add_block(self._partial / self.block)
                self._partial[:] = 0.0
                self._partial_n = 0

    def _add_block(self, power: np.ndarray) -> None:
        self._history.append(power)
        powers = np.stack(self._history)
        if not active_blocks(powers, self.rest_power)[-1]:
            return  # rest: the level stays what the wearer's movements set
        self.active_seconds += BLOCK_S
        if self._ms is None:  # settling: the offline statistic over the last minute
            self.scale = level_from_power(powers, self.mode, self.rest_power)
            if self.active_seconds >= self.settle_blocks * BLOCK_S - 1e-9:
                self._ms = np.square(self.scale.astype(np.float64))
            return
        target = np.full_like(power, power.mean()) if self.mode == "global" else power
        self._ms += self.alpha * (target - self._ms)
        self.scale = np.sqrt(self._ms).astype(np.float32)
