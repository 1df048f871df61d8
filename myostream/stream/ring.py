"""A preallocated ring buffer: one writer thread (the device), many readers.

The writer never blocks and never waits for a reader: when a reader falls more than
``capacity`` samples behind, the oldest samples are overwritten and the reader is told
how many it lost. Readers never take a lock either; they copy what they asked for and
then check (seqlock-style) whether the writer overwrote part of it meanwhile, dropping
that part and counting it as lost. A monotonic sample counter names every sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from myostream.errors import MyostreamError
from myostream.records import UNKNOWN_LABEL


@dataclass
class Span:
    """Samples copied out of the ring: counters ``start`` (inclusive) to ``end`` (exclusive)."""

    data: np.ndarray
    timestamps: np.ndarray
    labels: np.ndarray
    start: int
    end: int
    #: samples between the requested counter and ``start`` that were overwritten before they were read
    lost: int = 0

    def __len__(self) -> int:
        return self.end - self.start


class RingBuffer:
    """``float32[capacity, C]`` samples + ``float64`` timestamps + ``int16`` labels."""

    def __init__(self, capacity: int, n_channels: int) -> None:
        if capacity < 1 or n_channels < 1:
            raise MyostreamError(
                f"A ring buffer needs capacity >= 1 and channels >= 1, got {capacity} and {n_channels}."
            )
        self.capacity = int(capacity)
        self.n_channels = int(n_channels)
        self._data = np.zeros((self.capacity, self.n_channels), np.float32)
        self._ts = np.zeros(self.capacity, np.float64)
        self._labels = np.full(self.capacity, UNKNOWN_LABEL, np.int16)
        # Samples fully written (readers may copy below this) and samples the writer
        # has started to write (slots of counters below writing-capacity are unsafe).
        self._count = 0
        self._writing = 0

    @classmethod
    def for_seconds(cls, seconds: float, rate: float, n_channels: int) -> RingBuffer:
        return cls(max(1, int(round(seconds * rate))), n_channels)

    @property
    def count(self) -> int:
        """Total samples ever written (the counter of the next sample)."""
        return self._count

    def write(self, data: np.ndarray, timestamps: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Append samples; overwrites the oldest when full. Only one thread may write."""
        n = len(data)
        if n == 0:
            return
        if data.ndim != 2 or data.shape[1] != self.n_channels:
            raise MyostreamError(
                f"The ring buffer holds {self.n_channels} channels but got a chunk of shape {data.shape}; "
                "the source's channel count changed or does not match."
            )
        start = self._count
        if n > self.capacity:  # only the newest `capacity` samples can be kept
            data, timestamps = data[-self.capacity :], timestamps[-self.capacity :]
            labels = None if labels is None else labels[-self.capacity :]
            start += n - self.capacity
        self._writing = self._count + n
        m = len(data)
        i = start % self.capacity
        if i + m <= self.capacity:  # common case: one slice, no wrap
            self._data[i : i + m] = data
            self._ts[i : i + m] = timestamps
            self._labels[i : i + m] = UNKNOWN_LABEL if labels is None else labels
        else:  # wrap: two slices, never a whole-buffer copy
            first = self.capacity - i
            self._data[i:], self._data[: m - first] = data[:first], data[first:]
            self._ts[i:], self._ts[: m - first] = timestamps[:first], timestamps[first:]
            if labels is None:
                self._labels[i:] = UNKNOWN_LABEL
                self._labels[: m - first] = UNKNOWN_LABEL
            else:
                self._labels[i:], self._labels[: m - first] = labels[:first], labels[first:]
        self._count = self._writing

    def latest(self, n: int) -> Span:
        """The newest ``n`` samples (fewer if fewer were ever written)."""
        end = self._count
        return self._copy(max(0, end - min(n, self.capacity)), end, requested=max(0, end - n))

    def since(self, counter: int, max_samples: int | None = None) -> Span:
        """Samples from ``counter`` on (up to ``max_samples``); ``lost`` counts those already overwritten."""
        end = self._count
        if counter > end:
            raise MyostreamError(f"Counter {counter} is ahead of the buffer ({end} samples written).")
        start = max(counter, end - self.capacity)
        if max_samples is not None:
            end = min(end, start + max_samples)
        return self._copy(start, end, requested=counter)

    def _copy(self, start: int, end: int, requested: int) -> Span:
        n = end - start
        i = start % self.capacity
        if i + n <= self.capacity:  # no wrap: plain slice copies
            data, ts, labels = self._data[i : i + n].copy(), self._ts[i : i + n].copy(), self._labels[i : i + n].copy()
        else:
            first = self.capacity - i
            data = np.concatenate((self._data[i:], self._data[: n - first]))
            ts = np.concatenate((self._ts[i:], self._ts[: n - first]))
            labels = np.concatenate((self._labels[i:], self._labels[: n - first]))
        # Anything the writer may have touched during the copy is not trustworthy.
        safe_start = self._writing - self.capacity
        if safe_start > start:
            cut = min(n, safe_start - start)
            data, ts, labels = data[cut:], ts[cut:], labels[cut:]
            start += cut
        return Span(data, ts, labels, start, max(start, end), lost=start - requested if start > requested else 0)
