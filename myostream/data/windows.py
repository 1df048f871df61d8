"""Labelled windows over recordings.

A :class:`WindowSet` is index-based: it keeps the recordings and, per window, the
recording, first sample, class and grouping metadata. Samples are read only when asked
for (:meth:`WindowSet.data`), as strided views of in-memory recordings or row slices of
lazy ones, so windowing a large dataset costs a few integers per window.

Labelling (``label=``):

- ``"majority"`` (default): windows start at samples ``0, hop, 2*hop, ...`` of each
  recording; a window's class is the label covering most of its samples, ties going to
  the label that comes later in time (the one a causal decoder sees last): the live
  windower's rule, :func:`myostream.stream.windows.majority_label`, computed here for a
  whole recording at once. Windows whose majority is unlabelled (-1) are dropped.
- ``"onset"``: windows lie wholly inside one labelled run (a maximal stretch of one
  label) and are aligned to its onset: run ``[a, b)`` gives windows starting at
  ``a, a + hop, ...`` while they end by ``b``. Every sample of a window has its class;
  runs shorter than a window give none.

Repetitions: NinaPro marks rest samples with repetition 0. A window's repetition is the
repetition in force at its centre sample, where rest belongs to the movement before it
(rest before the first movement to the first), so the standard repetition split keeps
rest windows. Its segment is the run containing its centre sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from myostream.errors import MyostreamError
from myostream.records import Recording

LabelMode = Literal["majority", "onset"]
ChannelMode = Literal["error", "select", "pad"]


@dataclass
class WindowSet:
    """Windows of ``length`` samples over ``recordings`` (arrays have one entry per window).

    - ``recording``: index into ``recordings``; ``start``: first sample in it.
    - ``y``: class index into ``class_ids``.
    - ``repetition``: repetition number (0 = none); ``segment``: id of the labelled run
      the window's centre lies in, unique across the set.
    - ``n_channels``: channels per window; recordings with more are cut to their first
      ``n_channels``, those with fewer zero-padded (see ``channels=`` of
      :func:`extract_windows`).
    """

    recordings: list[Recording]
    recording: np.ndarray
    start: np.ndarray
    y: np.ndarray
    repetition: np.ndarray
    segment: np.ndarray
    class_ids: tuple[str, ...]
    length: int
    rate: float
    n_channels: int

    def __len__(self) -> int:
        return len(self.y)

    @property
    def window_ms(self) -> float:
        return 1000.0 * self.length / self.rate

    def _per_recording(self, attr: str) -> np.ndarray:
        return np.array([getattr(r, attr) for r in self.recordings], dtype=object)[self.recording]

    @property
    def subject(self) -> np.ndarray:
        """Subject per window, qualified by dataset (``"ninapro-db1/S1"``): numbering restarts per dataset."""
        keys = np.array([f"{r.dataset}/{r.subject}" for r in self.recordings], dtype=object)
        return keys[self.recording]

    @property
    def session(self) -> np.ndarray:
        return self._per_recording("session")

    @property
    def recording_id(self) -> np.ndarray:
        """The source file (or name) of each window's recording."""
        return np.array([r.source or r.name for r in self.recordings], dtype=object)[self.recording]

    def __getitem__(self, i: int) -> np.ndarray:
        """Window ``i`` as float32 ``[length, n_channels]`` (a view of in-memory recordings)."""
        rec = self.recordings[int(self.recording[i])]
        s = int(self.start[i])
        x = rec.emg[s : s + self.length]
        if rec.n_channels == self.n_channels and isinstance(x, np.ndarray) and x.dtype == np.float32:
            return x
        return self._fit_channels(np.asarray(x, np.float32)[None])[0]

    def _fit_channels(self, x: np.ndarray) -> np.ndarray:
        c = x.shape[-1]
        if c == self.n_channels:
            return x
        if c > self.n_channels:
            return x[..., : self.n_channels]
        out = np.zeros((*x.shape[:-1], self.n_channels), np.float32)
        out[..., :c] = x
        return out

    def data(self, indices: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
        """The samples of the chosen windows (all when ``None``) as float32 ``[n, length, n_channels]``."""
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, np.int64)
        out = np.zeros((len(idx), self.length, self.n_channels), np.float32)
        for r in np.unique(self.recording[idx]):
            rows = np.flatnonzero(self.recording[idx] == r)
            rec = self.recordings[int(r)]
            starts = self.start[idx[rows]]
            c = min(rec.n_channels, self.n_channels)
            if isinstance(rec.emg, np.ndarray):
                # [n-T+1, T, C] strided view of the recording: indexing it copies each window once
                view = np.lib.stride_tricks.sliding_window_view(rec.emg, self.length, axis=0).transpose(0, 2, 1)
                out[rows, :, :c] = view[starts][..., :c]
            else:  # lazy file: read each window's rows
                for row, s in zip(rows, starts):
                    out[row, :, :c] = rec.emg[int(s) : int(s) + self.length][:, :c]
        self._check_finite(out, idx)
        return out

    def _check_finite(self, out: np.ndarray, idx: np.ndarray) -> None:
        """Name the window, recording and channel instead of handing NaN on (lazy files are checked only here)."""
        if np.isfinite(out).all():
            return
        w = int(np.flatnonzero(~np.isfinite(out).all(axis=(1, 2)))[0])
        t, c = (int(v) for v in np.argwhere(~np.isfinite(out[w]))[0])
        rec = self.recordings[int(self.recording[idx[w]])]
        sample = int(self.start[idx[w]]) + t
        raise MyostreamError(
            f"Recording {rec.source or rec.name!r} has a NaN or infinite value at sample {sample}, channel {c}; "
            "read it with nonfinite='drop' or 'interpolate' (CLI: --nonfinite, experiments: [data] nonfinite)."
        )

    @property
    def x(self) -> np.ndarray:
        """All windows materialised as float32 ``[N, length, n_channels]`` (use :meth:`data` for batches)."""
        return self.data()

    def subset(self, indices: np.ndarray | Sequence[int]) -> WindowSet:
        """The chosen windows, sharing the recordings."""
        idx = np.asarray(indices, np.int64)
        return replace(
            self,
            recording=self.recording[idx],
            start=self.start[idx],
            y=self.y[idx],
            repetition=self.repetition[idx],
            segment=self.segment[idx],
        )

    def with_channels(self, n_channels: int) -> WindowSet:
        """The same windows cut or zero-padded to ``n_channels`` channels."""
        if n_channels < 1:
            raise MyostreamError(f"A window set needs at least one channel, not {n_channels}.")
        return replace(self, n_channels=int(n_channels))


def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts (with the end appended) and labels of the maximal runs of equal labels."""
    change = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate(([0], change, [len(labels)]))
    return bounds, labels[bounds[:-1]]


def _block_repetition(rep: np.ndarray | None, n: int) -> np.ndarray:
    """Repetition in force at each sample: rest (0) inherits the previous movement's number."""
    if rep is None:
        return np.zeros(n, np.int16)
    rep = np.asarray(rep)
    nz = np.flatnonzero(rep > 0)
    if len(nz) == 0:
        return np.zeros(n, np.int16)
    last = np.maximum.accumulate(np.where(rep > 0, np.arange(n), -1))
    last[last < 0] = nz[0]  # leading rest belongs to the first repetition
    return rep[last].astype(np.int16)


def _majority(starts: np.ndarray, length: int, bounds: np.ndarray, run_labels: np.ndarray) -> np.ndarray:
    """Majority label of windows ``[s, s+length)`` over runs; ties go to the later label."""
    ends = starts + length
    j0 = np.searchsorted(bounds, starts, side="right") - 1
    j1 = np.searchsorted(bounds, ends - 1, side="right") - 1
    out = run_labels[j0].astype(np.int64)
    two = j1 == j0 + 1
    first = bounds[j0[two] + 1] - starts[two]
    second = ends[two] - bounds[j1[two]]
    out[two] = np.where(first > second, run_labels[j0[two]], run_labels[j1[two]])
    for w in np.flatnonzero(j1 > j0 + 1):  # windows over three or more runs: rare, count them out
        counts: dict[int, int] = {}
        for j in range(j0[w], j1[w] + 1):
            lo, hi = max(bounds[j], starts[w]), min(bounds[j + 1], ends[w])
            counts[int(run_labels[j])] = counts.get(int(run_labels[j]), 0) + int(hi - lo)
        best = max(counts.values())
        out[w] = next(int(run_labels[j]) for j in range(j1[w], j0[w] - 1, -1) if counts[int(run_labels[j])] == best)
    return out


def extract_windows(
    recordings: Sequence[Recording],
    window_ms: float,
    hop_ms: float,
    label: LabelMode = "majority",
    rest: bool = True,
    classes: Sequence[str] | None = None,
    channels: ChannelMode = "error",
) -> WindowSet:
    """Cut recordings into labelled windows of ``window_ms`` every ``hop_ms``.

    ``rest=False`` drops rest windows; ``classes`` keeps only windows of those class ids,
    in that order (default: every class met, in order of appearance). Recordings must
    share a rate; differing channel counts are an error unless ``channels="select"``
    (keep the first channels all recordings have) or ``"pad"`` (zero-pad to the largest).
    """
    if not recordings:
        raise MyostreamError("No recordings to window; read a dataset first.")
    if label not in ("majority", "onset"):
        raise MyostreamError(f"Window label mode must be 'majority' or 'onset', not {label!r}.")
    rate = recordings[0].rate
    for r in recordings:
        if r.rate != rate:
            raise MyostreamError(
                f"Recording {r.name!r} is sampled at {r.rate:g} Hz but {recordings[0].name!r} at {rate:g} Hz; "
                "window recordings of one rate together (resample first)."
            )
    length = int(round(window_ms * rate / 1000.0))
    hop = int(round(hop_ms * rate / 1000.0))
    if length < 1 or hop < 1:
        raise MyostreamError(
            f"Windows of {window_ms} ms every {hop_ms} ms are shorter than one sample at {rate:g} Hz; lengthen them."
        )
    longest = max(recordings, key=lambda r: r.n_samples)
    if length > longest.n_samples:
        raise MyostreamError(
            f"Windows of {window_ms:g} ms are longer than every recording (the longest, {longest.name!r}, lasts "
            f"{longest.duration:.2f} s); shorten window_ms or use longer recordings."
        )
    n_channels = _reconcile([r.n_channels for r in recordings], channels, [r.name for r in recordings])

    if classes is None:
        seen = dict.fromkeys(n for r in recordings for n in r.label_names)
        class_ids = tuple(c for c in seen if rest or c != "rest")
    else:
        class_ids = tuple(classes)
        if not rest and "rest" in class_ids:
            class_ids = tuple(c for c in class_ids if c != "rest")
    class_index = {c: i for i, c in enumerate(class_ids)}

    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("recording", "start", "y", "repetition", "segment")}
    segment_offset = 0
    for ri, rec in enumerate(recordings):
        labels = np.asarray(rec.labels, np.int64)
        bounds, run_labels = _runs(labels)
        if label == "majority":
            starts = np.arange(0, rec.n_samples - length + 1, hop, dtype=np.int64)
            y_local = _majority(starts, length, bounds, run_labels)
        else:
            starts_list = [
                np.arange(a, b - length + 1, hop, dtype=np.int64)
                for a, b, lab in zip(bounds[:-1], bounds[1:], run_labels)
                if lab >= 0 and b - a >= length
            ]
            starts = np.concatenate(starts_list) if starts_list else np.empty(0, np.int64)
            y_local = labels[starts]
        # map the recording's label indices to the set's class ids (-1: dropped)
        lut = np.array([class_index.get(n, -1) for n in rec.label_names] + [-1], np.int64)
        y = lut[y_local]  # y_local == -1 picks the trailing -1
        keep = y >= 0
        centres = starts[keep] + length // 2
        parts["recording"].append(np.full(int(keep.sum()), ri, np.int32))
        parts["start"].append(starts[keep])
        parts["y"].append(y[keep])
        parts["repetition"].append(_block_repetition(rec.repetition, rec.n_samples)[centres])
        parts["segment"].append(np.searchsorted(bounds, centres, side="right") - 1 + segment_offset)
        segment_offset += len(run_labels)
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    return WindowSet(
        recordings=list(recordings),
        recording=arrays["recording"],
        start=arrays["start"],
        y=arrays["y"],
        repetition=arrays["repetition"].astype(np.int16),
        segment=arrays["segment"].astype(np.int64),
        class_ids=class_ids,
        length=length,
        rate=rate,
        n_channels=n_channels,
    )


def _reconcile(counts: Sequence[int], mode: ChannelMode, names: Sequence[str]) -> int:
    """The channel count windows get, by the explicit ``mode`` (``error``/``select``/``pad``)."""
    if mode == "select":
        return min(counts)
    if mode == "pad":
        return max(counts)
    if mode != "error":
        raise MyostreamError(f"channels must be 'error', 'select' or 'pad', not {mode!r}.")
    if len(set(counts)) > 1:
        lo, hi = int(np.argmin(counts)), int(np.argmax(counts))
        raise MyostreamError(
            f"Recordings have different channel counts ({names[lo]!r}: {counts[lo]}, {names[hi]!r}: {counts[hi]}); "
            "pass channels='select' to keep the first common channels or channels='pad' to zero-pad."
        )
    return counts[0]
