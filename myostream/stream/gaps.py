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


def find_gaps(
    timestamps: np.ndarray, rate: float, block_s: float = 0.1, context_s: float = 0.25
) -> list[tuple[int, int]]:
    """Where a whole recording lost samples: ``(index of the first sample after the gap, samples missing)``.

    The timestamps first go through a :class:`GapCounter` in blocks of ``block_s``
    seconds, as a live stream would arrive, so a file finds its gaps by the same rules as
    :attr:`~myostream.records.Chunk.lost` (jitter, arrival bursts and a slow device
    clock are not loss); each loss sits at the longest step of the block that reported it.
    With the whole recording at hand its size is then measured, not estimated: the
    samples' offset from the nominal grid, median over ``context_s`` on either side
    (up to the neighbouring gaps), moves by exactly the samples missing. A live counter
    can only pay jitter off against the outstanding room and may come out one short.
    """
    t = np.asarray(timestamps, np.float64)
    counter = GapCounter(rate)
    step = max(1, int(round(block_s * rate)))
    found: list[tuple[int, int]] = []
    for a in range(0, len(t), step):
        lost = counter.count(t[a : a + step])
        if lost:
            lo = max(a - 1, 0)
            found.append((lo + int(np.argmax(np.diff(t[lo : a + step]))) + 1, lost))
    offset = (t - t[0]) * rate - np.arange(len(t)) if len(t) else t
    k = max(3, int(round(context_s * rate)))
    gaps = []
    for j, (i, lost) in enumerate(found):
        before = offset[max(i - k, found[j - 1][0] if j else 0) : i]
        after = offset[i : min(i + k, found[j + 1][0] if j + 1 < len(found) else len(t))]
        if len(before) >= 3 and len(after) >= 3:
            measured = int(round(float(np.median(after) - np.median(before))))
            lost = measured if measured >= 1 else lost
        gaps.append((i, lost))
    return gaps
