"""The records every layer shares: blocks of streamed samples, the sources that make them,
recorded files in memory and the cue events of a calibration session.

This is the ground floor of the package: it imports numpy, the standard library and
:mod:`myostream.errors` only, so streaming (``stream/``), recorded data (``data/``),
calibration and the apps all speak in the same records without importing each other.

Sample layout everywhere: time-major ``float32[n, channels]`` samples, ``float64[n]`` timestamps
in the LSL clock (``pylsl.local_clock()``), the nominal rate in Hz, values in the
device's unit. LSL inlets, BrainFlow boards, replayed files and the simulated armband
all implement :class:`Source`, so everything downstream is written once.

A :class:`Recording` is checked when it is made: one NaN sample would spread through a causal
filter to thousands of samples and silently turn windows, statistics and training to
NaN, so a non-finite sample (or a label outside ``label_names``) is one sentence naming
the recording, the sample and the channel. Readers take ``nonfinite=`` to repair such
files explicitly: ``"drop"`` the bad samples or ``"interpolate"`` them linearly per channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from myostream.errors import MyostreamError

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ class ids

#: The form of a class id (a key of the description catalogs; ``rest``, ``ninapro.A01``): the labels of
#: recordings, streams, protocols and checkpoints, so one class means one thing everywhere.
CLASS_ID = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


def is_class_id(text: str) -> bool:
    """Whether ``text`` has the form of a class id (letters, digits and ``_``, dotted: ``ninapro.A01``)."""
    return bool(CLASS_ID.match(text))


# ------------------------------------------------------------------ streamed samples

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
            raise MyostreamError(
                f"A chunk has {len(self.data)} samples but {len(self.labels)} labels; they must match."
            )

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def empty(cls, n_channels: int, with_labels: bool = False) -> Chunk:
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


# ------------------------------------------------------------------ recorded files

#: What to do with NaN or infinite EMG samples: refuse the file, drop those samples, interpolate them.
NonFinite = Literal["error", "drop", "interpolate"]
NONFINITE = ("error", "drop", "interpolate")


@dataclass
class Recording:
    """EMG of one file (one subject, session and exercise) with per-sample annotations.

    - ``emg``: float32[n, C] in the device's unit; ``rate`` in Hz.
    - ``labels``: int16[n], index into ``label_names`` (class ids); -1 = unlabelled.
    - ``repetition``: int16[n], repetition number per sample (0 = none, e.g. rest).
    - ``glove`` / ``pose``: optional float32[n, k] kinematics (CyberGlove sensors,
      emg2pose joint angles) aligned sample by sample with ``emg``.
    - ``lazy``: ``emg`` may be a lazily-read array-like (e.g. an h5py dataset view)
      for large files; index it rather than converting it whole. Its samples are checked
      when windows read them (:meth:`myostream.data.windows.WindowSet.data`).
    - ``nonfinite`` (init only): ``"error"`` (default) refuses NaN or infinite EMG
      samples; ``"drop"`` removes those samples (with their labels and kinematics);
      ``"interpolate"`` fills them linearly from each channel's neighbours.
    """

    emg: Any
    rate: float
    labels: np.ndarray
    label_names: tuple[str, ...]
    channel_names: tuple[str, ...]
    subject: str
    session: str = "1"
    exercise: str = ""
    dataset: str = ""
    unit: str = "a.u."
    repetition: np.ndarray | None = None
    glove: np.ndarray | None = None
    pose: Any = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    nonfinite: InitVar[NonFinite] = "error"

    def __post_init__(self, nonfinite: NonFinite = "error") -> None:
        n = len(self.emg)
        where = f"Recording {self.source or self.subject!r}"
        if len(self.emg.shape) != 2:
            raise MyostreamError(f"{where}: EMG must be [samples, channels], got shape {tuple(self.emg.shape)}.")
        if self.emg.shape[1] != len(self.channel_names):
            raise MyostreamError(
                f"{where}: EMG has {self.emg.shape[1]} channels but {len(self.channel_names)} channel names."
            )
        for name in ("labels", "repetition", "glove", "pose"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise MyostreamError(f"{where}: {name} has {len(value)} samples but EMG has {n}; lengths must match.")
        self._check_labels(where)
        if isinstance(self.emg, np.ndarray):
            self._check_finite(where, nonfinite)

    def _check_labels(self, where: str) -> None:
        labels = np.asarray(self.labels)
        if labels.size and not np.issubdtype(labels.dtype, np.integer) and not np.all(np.mod(labels, 1) == 0):
            raise MyostreamError(
                f"{where}: labels must be whole numbers (indices into label_names), not {labels.dtype} values."
            )
        bad = np.flatnonzero((labels < -1) | (labels >= len(self.label_names)))
        if len(bad):
            i = int(bad[0])
            raise MyostreamError(
                f"{where}: label {int(labels[i])} at sample {i} is outside its {len(self.label_names)} label names "
                f"(0-{len(self.label_names) - 1}, or -1 for unlabelled); {len(bad)} sample(s) are affected."
            )

    def _check_finite(self, where: str, nonfinite: NonFinite) -> None:
        if nonfinite not in NONFINITE:
            raise MyostreamError(f"nonfinite must be one of {', '.join(NONFINITE)}, not {nonfinite!r}.")
        bad = ~np.isfinite(self.emg)
        if not bad.any():
            return
        rows = np.flatnonzero(bad.any(axis=1))
        i, c = int(rows[0]), int(np.flatnonzero(bad[rows[0]])[0])
        first = f"sample {i} ({i / self.rate:.3f} s), channel {c} ({self.channel_names[c]}) is {self.emg[i, c]}"
        if nonfinite == "error":
            raise MyostreamError(
                f"{where}: {first}, one of {len(rows)} sample(s) with NaN or infinite values; repair them explicitly "
                "with nonfinite='drop' or 'interpolate' (CLI: --nonfinite, experiments: [data] nonfinite), "
                "or fix the file."
            )
        if nonfinite == "drop":
            keep = np.ones(len(self.emg), bool)
            keep[rows] = False
            self.emg = np.ascontiguousarray(self.emg[keep])
            for name in ("labels", "repetition", "glove", "pose"):
                value = getattr(self, name)
                if value is not None:
                    setattr(self, name, np.asarray(value)[keep])
            # per-sample arrays a reader keeps in meta (timestamps, a source's own labels) stay aligned
            self.meta = {
                k: v[keep] if isinstance(v, np.ndarray) and len(v) == len(keep) else v for k, v in self.meta.items()
            }
        else:
            self.emg = _interpolate(self.emg, bad, where)
        self.meta = {**self.meta, "nonfinite": {"mode": nonfinite, "samples": int(len(rows))}}
        log.warning(
            "%s: %s %d sample(s) with NaN or infinite values (first: %s).",
            where,
            "dropped" if nonfinite == "drop" else "interpolated",
            len(rows),
            first,
        )

    @property
    def name(self) -> str:
        """A short id: the file stem, else dataset/subject/session."""
        return Path(self.source).stem if self.source else f"{self.dataset}-{self.subject}-{self.session}"

    @property
    def n_samples(self) -> int:
        return len(self.emg)

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def duration(self) -> float:
        return self.n_samples / self.rate


def _interpolate(emg: np.ndarray, bad: np.ndarray, where: str) -> np.ndarray:
    """Each channel's non-finite samples linearly from its finite neighbours (ends: the nearest one)."""
    out = np.array(emg, dtype=np.float32, copy=True)
    t = np.arange(len(out))
    for c in np.flatnonzero(bad.any(axis=0)):
        good = ~bad[:, c]
        if not good.any():
            raise MyostreamError(
                f"{where}: channel {c} holds no finite sample at all, so there is nothing to interpolate from."
            )
        out[bad[:, c], c] = np.interp(t[bad[:, c]], t[good], out[good, c])
    return out


def concatenate(recordings: Sequence[Recording], source: str = "") -> Recording:
    """One recording made of several played back to back (e.g. a Myo session's gesture files).

    Rate, channels and unit must agree; labels are re-indexed into the union of the
    label names (first-seen order). Lazy EMG is read into memory.
    """
    if not recordings:
        raise MyostreamError("Nothing to concatenate: give at least one recording.")
    first = recordings[0]
    for r in recordings[1:]:
        if r.rate != first.rate or r.channel_names != first.channel_names or r.unit != first.unit:
            raise MyostreamError(
                f"Recording {r.name!r} ({r.rate:g} Hz, {r.n_channels} ch, {r.unit}) cannot follow {first.name!r} "
                f"({first.rate:g} Hz, {first.n_channels} ch, {first.unit}); concatenate only recordings of one setup."
            )
    names = tuple(dict.fromkeys(n for r in recordings for n in r.label_names))
    labels = []
    for r in recordings:
        lut = np.array([names.index(n) for n in r.label_names] + [-1], np.int16)  # -1 stays -1
        labels.append(lut[np.asarray(r.labels, np.int64)])

    def joined(attr: str) -> np.ndarray | None:
        parts = [getattr(r, attr) for r in recordings]
        if any(p is None for p in parts):
            return None
        return np.concatenate([np.asarray(p) for p in parts])

    return Recording(
        emg=np.concatenate([np.asarray(r.emg[:], np.float32) for r in recordings]),
        rate=first.rate,
        labels=np.concatenate(labels),
        label_names=names,
        channel_names=first.channel_names,
        subject=first.subject,
        session=first.session,
        exercise=first.exercise if all(r.exercise == first.exercise for r in recordings) else "",
        dataset=first.dataset,
        unit=first.unit,
        repetition=joined("repetition"),
        glove=joined("glove"),
        pose=joined("pose"),
        source=source,
        meta={
            "parts": [r.source or r.name for r in recordings],
            "part_starts": np.cumsum([0] + [r.n_samples for r in recordings[:-1]]).tolist(),
        },
    )


def repetitions_from_labels(labels: np.ndarray, label_names: Sequence[str]) -> np.ndarray:
    """Repetition numbers for a format that does not store them: the n-th run of a class is its repetition n.

    Rest (class ``rest``) and unlabelled samples get 0, as in NinaPro and the calibration sessions.
    """
    labels = np.asarray(labels)
    repetition = np.zeros(len(labels), np.int16)
    if len(labels) == 0:
        return repetition
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(labels)) + 1, [len(labels)]))
    seen: dict[int, int] = {}
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        k = int(labels[a])
        if k >= 0 and label_names[k] != "rest":
            seen[k] = seen.get(k, 0) + 1
            repetition[a:b] = seen[k]
    return repetition


# ------------------------------------------------------------------ calibration cues

#: Kinds of cue event, in the order a run emits them. ``hold``: the participant is asked
#: to hold ``gesture`` (repetition ``repetition``); ``rest``: relax; ``pause``/``resume``:
#: recording continues but the samples in between are unlabelled; ``redo``: the last
#: hold is discarded and will be repeated; ``end``/``abort``: the protocol is over.
#: ``gap`` marks samples the source lost before ``time`` (``value`` = how many).
EVENT_KINDS = ("start", "hold", "rest", "pause", "resume", "redo", "end", "abort", "gap")


@dataclass(frozen=True)
class CueEvent:
    """Something the recorder did at ``time`` (LSL clock, seconds)."""

    time: float
    kind: str
    gesture: str = ""
    repetition: int = 0
    value: int = 0
