"""Sliding windows over a live stream: a window of ``window`` samples every ``hop`` samples.

The windower keeps only the trailing samples it still needs in a preallocated buffer.
Windows it yields are views into that buffer, valid until the generator is resumed
(consume each window in the loop, or copy it to keep it: ``list(push(...))`` is wrong). A gap in the stream (``lost > 0``) restarts windowing, so no
window ever spans missing samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from myostream.errors import MyostreamError
from myostream.records import UNKNOWN_LABEL


@dataclass
class Window:
    """One window: ``data`` float32[window, C]; ``counter``/``timestamp`` of its last sample."""

    data: np.ndarray
    labels: np.ndarray
    counter: int
    timestamp: float

    def label(self) -> int:
        """The window's true label by :func:`majority_label` (``UNKNOWN_LABEL`` when mostly unknown)."""
        return majority_label(self.labels)


def majority_label(labels: np.ndarray) -> int:
    """The one window label rule, live and offline: the label covering most of the window's samples
    (unlabelled samples count as a label of their own), ties going to the label that comes later in
    time, the one a causal decoder sees last. :func:`myostream.data.windows.extract_windows` computes
    the same for whole recordings at once."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return UNKNOWN_LABEL
    values, counts = np.unique(labels, return_counts=True)
    tied = values[counts == counts.max()]
    if len(tied) == 1:
        return int(tied[0])
    last = {int(v): int(np.flatnonzero(labels == v)[-1]) for v in tied}
    return max(last, key=last.__getitem__)


def ms_to_samples(ms: float, rate: float) -> int:
    return max(1, int(round(ms * rate / 1000.0)))


class Windower:
    def __init__(self, window: int, hop: int, n_channels: int) -> None:
        if window < 1 or hop < 1:
            raise MyostreamError(f"Window and hop must be at least one sample, got window={window}, hop={hop}.")
        self.window, self.hop, self.n_channels = int(window), int(hop), int(n_channels)
        self._cap = 2 * self.window + self.hop
        self._data = np.zeros((self._cap, self.n_channels), np.float32)
        self._ts = np.zeros(self._cap, np.float64)
        self._labels = np.full(self._cap, UNKNOWN_LABEL, np.int16)
        self._fill = 0  # valid samples in the buffer
        self._next_end: int | None = None  # counter (exclusive end) of the next window
        self._end_counter = 0  # counter just past the newest buffered sample

    @classmethod
    def from_ms(cls, window_ms: float, hop_ms: float, rate: float, n_channels: int) -> Windower:
        return cls(ms_to_samples(window_ms, rate), ms_to_samples(hop_ms, rate), n_channels)

    def reset(self) -> None:
        self._fill = 0
        self._next_end = None

    def push(
        self,
        data: np.ndarray,
        timestamps: np.ndarray,
        start_counter: int,
        labels: np.ndarray | None = None,
        lost: int = 0,
    ) -> Iterator[Window]:
        """Add samples whose first one has counter ``start_counter``; yield the windows completed."""
        if data.ndim != 2 or data.shape[1] != self.n_channels:
            raise MyostreamError(f"The windower expects {self.n_channels} channels but got shape {data.shape}.")
        if lost or (self._fill and start_counter != self._end_counter):
            self.reset()
        pos = 0
        n = len(data)
        while pos < n:
            if self._fill + (n - pos) > self._cap:
                keep = self.window - 1  # the most a pending window can still need from the past
                if self._fill > keep:
                    drop = self._fill - keep
                    self._data[:keep] = self._data[drop : self._fill]
                    self._ts[:keep] = self._ts[drop : self._fill]
                    self._labels[:keep] = self._labels[drop : self._fill]
                    self._fill = keep
            take = min(n - pos, self._cap - self._fill)
            sl = slice(self._fill, self._fill + take)
            self._data[sl] = data[pos : pos + take]
            self._ts[sl] = timestamps[pos : pos + take]
            self._labels[sl] = UNKNOWN_LABEL if labels is None else labels[pos : pos + take]
            self._fill += take
            pos += take
            end_counter = start_counter + pos
            first_counter = end_counter - self._fill
            if self._next_end is None:
                self._next_end = first_counter + self.window
            while self._next_end <= end_counter:
                e = self._next_end - first_counter
                yield Window(
                    self._data[e - self.window : e],
                    self._labels[e - self.window : e],
                    counter=self._next_end - 1,
                    timestamp=float(self._ts[e - 1]),
                )
                self._next_end += self.hop
        self._end_counter = start_counter + n
