"""The one sample layout and the ``Source`` protocol every producer of samples follows.

Layout everywhere: time-major ``float32[n, channels]`` samples, ``float64[n]`` timestamps
in the LSL clock (``pylsl.local_clock()``), the nominal rate in Hz, values in the
device's unit. LSL inlets, BrainFlow boards, replayed files and the simulated armband
all implement :class:`Source`, so everything downstream is written once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from myostream.errors import MyostreamError

#: Per-sample label meaning "not known" (a live armband has no ground truth).
UNKNOWN_LABEL = -1


@dataclass(frozen=True)
class StreamInfo:
    """What a source streams: its name, nominal rate, channels and unit.

    ``label_names[k]`` is the class id (a key into the description catalogs) of the
    integer label ``k`` carried by :attr:`Chunk.labels`; empty when the source has no
    ground truth.
    """

    name: str
    rate: float
    channel_names: tuple[str, ...]
    unit: str = "a.u."
    source_id: str = ""
    kind: str = "EMG"
    label_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise MyostreamError(f"Stream {self.name!r} has rate {self.rate!r}; give a positive sampling rate in Hz.")
        if len(self.channel_names) == 0:
            raise MyostreamError(f"Stream {self.name!r} has no channels; give at least one channel name.")

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)


def default_channel_names(n: int, prefix: str = "EMG") -> tuple[str, ...]:
    """``("EMG1", ..., "EMGn")``: the names used when a device does not name its channels."""
    return tuple(f"{prefix}{i + 1}" for i in range(n))


@dataclass
class Chunk:
    """A block of consecutive samples from one source.

    ``lost`` counts samples known to be missing *before* this chunk (a stream gap, an
    overflowing device buffer); ``labels`` is the true class per sample when the
    source knows it (simulator, replay), else ``None``.
    """

    data: np.ndarray
    timestamps: np.ndarray
    labels: np.ndarray | None = None
    lost: int = 0
    markers: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise MyostreamError(f"A chunk must be 2-D [samples, channels]; got shape {self.data.shape}.")
        if self.data.dtype != np.float32:
            self.data = self.data.astype(np.float32)
        if self.timestamps.dtype != np.float64:
            self.timestamps = self.timestamps.astype(np.float64)
        if len(self.timestamps) != len(self.data):
            raise MyostreamError(
                f"A chunk has {len(self.data)} samples but {len(self.timestamps)} timestamps; they must match."
            )
        if self.labels is not None and len(self.labels) != len(self.data):
            raise MyostreamError(f"A chunk has {len(self.data)} samples but {len(self.labels)} labels; they must match.")

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def empty(cls, n_channels: int, with_labels: bool = False) -> "Chunk":
        return cls(
            np.empty((0, n_channels), np.float32),
            np.empty(0, np.float64),
            np.empty(0, np.int16) if with_labels else None,
        )


@runtime_checkable
class Source(Protocol):
    """Anything that produces EMG samples.

    ``open()`` acquires the device or stream (and may raise :class:`MyostreamError`),
    ``read(timeout)`` returns the samples that arrived since the last call (possibly an
    empty chunk; it waits at most ``timeout`` seconds for the first one), ``close()``
    releases everything and is safe to call twice.
    """

    @property
    def info(self) -> StreamInfo: ...

    def open(self) -> None: ...

    def read(self, timeout: float = 0.0) -> Chunk: ...

    def close(self) -> None: ...


@contextmanager
def opened(source: Source) -> Iterator[Source]:
    """``with opened(src):`` opens a source and always closes it."""
    source.open()
    try:
        yield source
    finally:
        source.close()


def check_finite(data: np.ndarray, what: str) -> None:
    """Raise one clear sentence when ``data`` holds NaN or infinity."""
    if not np.isfinite(data).all():
        bad = np.argwhere(~np.isfinite(data))[0]
        raise MyostreamError(
            f"{what} contains NaN or infinite values (first at sample {bad[0]}, channel {bad[-1]}); "
            "clean or interpolate them before streaming."
        )
