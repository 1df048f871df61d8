"""Counting samples a regularly sampled stream lost, from its timestamps alone."""

from __future__ import annotations

import math

import numpy as np

from myostream.errors import MyostreamError


class GapCounter:
    """Estimates how many samples are missing, block by block, from their timestamps.

    A step of ``x > 1.5`` sample periods between consecutive timestamps leaves room for
    ``x - 1`` samples. Not every such step is a loss: bridges that stamp on arrival send
    bursts of near-equal stamps before a long step, a generator that fell behind
    (BrainFlow's synthetic board on a busy machine) catches up with a burst after one,
    and a late stamp is followed by a short step back onto the grid. So a running
    balance is kept: long steps add their room, burst steps (``x < 0.5``) take off the
    ``1 - x`` samples that came early, and other short steps pay off outstanding room
    (but never build credit, so jitter cannot pile up credit that would hide a gap).
    At the end of each block a balance of 0.8 samples or more is reported as lost.
    What remains fades while the stream runs regularly (time constant ``memory_s``).
    Steps of 1 to 1.5 periods (jitter, a device clock slightly slow) never count.
    """

    def __init__(self, rate: float, memory_s: float = 0.5) -> None:
        if not rate > 0:
            raise MyostreamError(f"Counting lost samples needs a positive sampling rate, not {rate!r}.")
        self.rate = float(rate)
        self._fade = math.exp(-1.0 / (self.rate * memory_s))
        self._last: float | None = None
        self._balance = 0.0  # > 0: room not yet reported; < 0: samples that came early

    def count(self, timestamps: np.ndarray) -> int:
        """Samples missing before and within this block of timestamps."""
        if len(timestamps) == 0:
            return 0
        steps = np.diff(timestamps) if self._last is None else np.diff(timestamps, prepend=self._last)
        self._last = float(timestamps[-1])
        x = np.maximum(steps * self.rate, 0.0)
        if self._balance == 0.0 and not np.any((x > 1.5) | (x < 0.5)):
            return 0  # the usual block: nothing irregular, nothing outstanding
        balance, regular = self._balance, 0
        for step in x.tolist():
            if step > 1.5:
                balance += step - 1.0
            elif step < 0.5:
                balance -= 1.0 - step
            else:
                regular += 1
                if balance > 0.0 and step < 1.0:
                    balance = max(0.0, balance - (1.0 - step))
        lost = int(balance + 0.2) if balance >= 0.8 else 0
        self._balance = (balance - lost) * self._fade**regular
        return lost
