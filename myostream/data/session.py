"""Calibration session files: HDF5, written while recording, readable after a crash.

Layout (``format = "myostream-session"``, ``format_version = 1``)::

    /emg           float32 [n, C]  raw samples in the device's unit (chunked, resizable)
    /timestamps    float64 [n]     LSL clock, seconds
    /labels        int16   [n]     index into attrs["label_names"]; -1 = unlabelled
    /repetition    int16   [n]     repetition of the held gesture; 0 = rest / none
    /source_labels int16   [n]     the source's own ground truth (simulator, replay) into
                                   attrs["source_label_names"]; -1 where it has none
    /events        compound [m]    cue events: time f8, kind S8, gesture S64, repetition i2, value i8
    attrs          subject, session, device, protocol, protocol_toml, rate, channel_names,
                   unit, label_names, source_label_names, software_version, start_time
                   (ISO 8601, local wall clock), complete (False until closed cleanly)

The writer keeps the file in HDF5's single-writer/multiple-reader (SWMR) mode and
flushes at least every ``flush_s`` seconds, so a recording killed at any moment (even
SIGKILL) stays readable with at most the last ``flush_s`` of samples lost. Readers read
such a file everywhere (replay, training, review) and log that it was cut short.
Relabelling rewrites ``labels`` and ``repetition`` in place; ``emg`` and ``timestamps``
are never touched after recording.

A full disk must not take the recording with it: the writer stops (and closes the file
cleanly) while ``reserve_bytes`` are still free. Should a write fail anyway (another
program filled the disk, a file-size limit), HDF5 cannot close the file any more and
would crash the process at exit; the writer then points the file's descriptor at
``/dev/null`` so HDF5 finishes in memory, leaving on disk what the last good flush wrote.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from myostream.errors import MyostreamError
from myostream.records import CueEvent, NonFinite, Recording

FORMAT = "myostream-session"
FORMAT_VERSION = 1
EVENT_DTYPE = np.dtype([("time", "<f8"), ("kind", "S8"), ("gesture", "S64"), ("repetition", "<i2"), ("value", "<i8")])
_SAMPLE_DATASETS = ("emg", "timestamps", "labels", "repetition", "source_labels")
#: Free bytes the writer leaves on the disk: enough to close the file cleanly.
RESERVE_BYTES = 8 * 2**20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    """A run of samples ``[start, stop)`` with one label (index into ``label_names``;
    -1 = unlabelled) and repetition. Everything outside segments is rest, repetition 0."""

    start: int
    stop: int
    label: int
    repetition: int


def segments_from_labels(labels: np.ndarray, repetition: np.ndarray) -> list[Segment]:
    """Runs of constant ``(label, repetition)`` other than plain rest ``(0, 0)``."""
    labels = np.asarray(labels)
    repetition = np.asarray(repetition)
    if len(labels) == 0:
        return []
    change = np.flatnonzero((np.diff(labels) != 0) | (np.diff(repetition) != 0)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(labels)]])
    return [
        Segment(int(a), int(b), int(labels[a]), int(repetition[a]))
        for a, b in zip(starts, stops)
        if not (labels[a] == 0 and repetition[a] == 0)
    ]


def labels_from_segments(n: int, segments: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample ``(labels, repetition)``: rest everywhere, each segment painted in order."""
    labels = np.zeros(n, np.int16)
    repetition = np.zeros(n, np.int16)
    for seg in segments:
        a, b = max(0, seg.start), min(n, seg.stop)
        labels[a:b], repetition[a:b] = seg.label, seg.repetition
    return labels, repetition


def safe_name(text: str) -> str:
    """``text`` as a file name part: letters, digits, ``-`` and ``.``; anything else becomes ``-``."""
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text) or "x"


def session_filename(subject: str, session: str, protocol: str, when: _dt.datetime | None = None) -> str:
    """``sub-S01_ses-1_quick_20260101T120000.h5``: sortable, one file per recording."""
    when = when or _dt.datetime.now()
    safe = [safe_name(s) for s in (subject, session, protocol)]
    return f"sub-{safe[0]}_ses-{safe[1]}_{safe[2]}_{when:%Y%m%dT%H%M%S}.h5"


class SessionWriter:
    """Appends samples, labels and cue events to a new session file as they arrive.

    Use from one thread. Samples are gathered in memory and written and flushed to disk
    together once ``flush_s`` has passed since the last flush (a crash loses at most
    that much either way, and one write per flush instead of one per chunk keeps a
    16-channel 2 kHz recording cheap); :meth:`close` marks the file complete.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        rate: float,
        channel_names: Sequence[str],
        label_names: Sequence[str],
        subject: str,
        session: str = "1",
        unit: str = "a.u.",
        device: str = "",
        protocol: str = "",
        protocol_toml: str = "",
        source_label_names: Sequence[str] = (),
        flush_s: float = 0.25,
        meta: dict[str, Any] | None = None,
        reserve_bytes: int = RESERVE_BYTES,
    ) -> None:
        from myostream import __version__
        from myostream.paths import output_dir

        self.path = Path(path)
        if self.path.exists():
            raise MyostreamError(
                f"Session file {str(self.path)!r} already exists; choose a new name, never overwrite a recording."
            )
        output_dir(self.path.parent, "the session file")
        n_ch = len(channel_names)
        self.n_channels = n_ch
        self.rate = float(rate)
        self.flush_s = flush_s
        self.reserve_bytes = int(reserve_bytes)
        self.n_samples = 0  # appended so far (written or pending)
        self._written = 0
        self._pending: list[tuple[np.ndarray, ...]] = []
        try:
            f = h5py.File(self.path, "w", libver="latest")
        except OSError as exc:
            raise MyostreamError(f"Could not create the session file {str(self.path)!r} ({_reason(exc)}).") from None
        self._file = f
        attrs = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "subject": subject,
            "session": session,
            "device": device,
            "protocol": protocol,
            "protocol_toml": protocol_toml,
            "rate": float(rate),
            "channel_names": list(channel_names),
            "unit": unit,
            "label_names": list(label_names),
            "source_label_names": list(source_label_names),
            "software_version": __version__,
            "start_time": _dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "complete": False,
            **(meta or {}),
        }
        for key, value in attrs.items():
            f.attrs[key] = value
        # ~1 s of samples per chunk: cheap appends, and a crash loses at most the unflushed tail.
        rows = int(min(max(256, rate), 65536))
        self._emg = f.create_dataset("emg", (0, n_ch), maxshape=(None, n_ch), dtype="<f4", chunks=(rows, n_ch))
        self._ts = f.create_dataset("timestamps", (0,), maxshape=(None,), dtype="<f8", chunks=(rows,))
        self._labels = f.create_dataset("labels", (0,), maxshape=(None,), dtype="<i2", chunks=(rows,))
        self._rep = f.create_dataset("repetition", (0,), maxshape=(None,), dtype="<i2", chunks=(rows,))
        self._truth = f.create_dataset("source_labels", (0,), maxshape=(None,), dtype="<i2", chunks=(rows,))
        self._events = f.create_dataset("events", (0,), maxshape=(None,), dtype=EVENT_DTYPE, chunks=(64,))
        f.swmr_mode = True
        f.flush()
        self._last_flush = time.monotonic()
        self._last_good = 0  # samples surely on disk (written by a flush that succeeded)

    def append(
        self,
        data: np.ndarray,
        timestamps: np.ndarray,
        labels: np.ndarray,
        repetition: np.ndarray,
        source_labels: np.ndarray | None = None,
    ) -> None:
        n = len(data)
        if n == 0:
            return
        if not self._file.id.valid:
            raise MyostreamError(
                f"Session file {str(self.path)!r} is closed; start a new recording to write more samples."
            )
        if data.ndim != 2 or data.shape[1] != self.n_channels:
            raise MyostreamError(
                f"Session {self.path.name!r} records {self.n_channels} channels but got samples of shape {data.shape}."
            )
        truth = np.full(n, -1, np.int16) if source_labels is None else source_labels
        # Copies: a source may reuse its buffers for the next chunk.
        self._pending.append(
            (
                np.array(data, np.float32),
                np.array(timestamps, np.float64),
                np.array(labels, np.int16),
                np.array(repetition, np.int16),
                np.array(truth, np.int16),
            )
        )
        self.n_samples += n
        self._maybe_flush()

    def _write_pending(self) -> None:
        if not self._pending:
            return
        columns = [np.concatenate(c) for c in zip(*self._pending)]
        self._check_space(sum(c.nbytes for c in columns))
        a, b = self._written, self._written + len(columns[0])
        with self._guard():
            for ds, values in zip((self._emg, self._ts, self._labels, self._rep, self._truth), columns):
                ds.resize(b, axis=0)
                ds[a:b] = values
        self._written = b
        self._pending.clear()

    def _check_space(self, needed: int) -> None:
        """Stop, closing the file cleanly, before the disk (or the process's file-size limit) is too
        full to close it at all."""
        room, where = _room(self.path)
        if room >= needed + self.reserve_bytes:
            return
        self._pending.clear()
        self.close()
        raise MyostreamError(
            f"There is no room left for the session file {str(self.path)!r} ({room / 2**20:.1f} MB left {where}): "
            f"recording stopped, {self._written / self.rate:.1f} s are saved in the file; "
            "free some space and record again."
        )

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a failed HDF5 write into one sentence, without the crash HDF5 would cause at exit."""
        try:
            yield
        except Exception as exc:  # h5py raises RuntimeError or OSError, with the OS error inside the text
            reason = _reason(exc)
            self._abandon()
            raise MyostreamError(
                f"Could not write the session file {str(self.path)!r} ({reason}); recording stopped, the "
                f"{self._last_good / self.rate:.1f} s written before stay readable in it."
            ) from None

    def _abandon(self) -> None:
        """Close a file whose writes fail: HDF5 writes the rest to /dev/null instead of crashing later."""
        self._pending.clear()
        if not self._file.id.valid:
            return
        if os.name == "posix":
            try:
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, self._file.id.get_vfd_handle())
                os.close(null)
            except Exception:  # not the sec2 driver: closing may still fail, but we tried
                pass
        try:
            self._file.close()
        except Exception:
            pass
        _pad_to_stored_end(self.path)

    def add_event(self, event: CueEvent) -> None:
        row = np.array(
            [(event.time, event.kind.encode(), event.gesture.encode("utf-8"), event.repetition, event.value)],
            EVENT_DTYPE,
        )
        m = len(self._events)
        with self._guard():
            self._events.resize(m + 1, axis=0)
            self._events[m:] = row
        self._maybe_flush()

    def timestamps_from(self, t: float) -> tuple[int, np.ndarray]:
        """Index of the first recorded sample at or after time ``t``, and the timestamps from there."""
        self._write_pending()
        n = self.n_samples
        start, step = n, 4096
        while start > 0:  # search backwards in growing blocks: relabelling concerns the recent past
            start = max(0, start - step)
            if self._ts[start] < t:
                break
            step *= 2
        i0 = start + int(np.searchsorted(self._ts[start:n], t, side="left"))
        return i0, self._ts[i0:n]

    def write_labels(self, start: int, labels: np.ndarray, repetition: np.ndarray) -> None:
        """Overwrite labels of already recorded samples from ``start`` on (e.g. a discarded hold)."""
        self._write_pending()
        stop = start + len(labels)
        with self._guard():
            self._labels[start:stop] = labels
            self._rep[start:stop] = repetition
        self._maybe_flush()

    def flush(self) -> None:
        self._write_pending()
        with self._guard():
            self._file.flush()
        self._last_good = self._written
        self._last_flush = time.monotonic()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def close(self) -> Path:
        """Flush and close; the file is then marked complete. Safe to call twice, and after a failure."""
        if self._file.id.valid:
            self.flush()
            with self._guard():
                self._file.close()
                with h5py.File(self.path, "r+") as f:
                    f.attrs["complete"] = True
                    f.attrs["n_samples"] = self._written
        return self.path


def _room(path: Path) -> tuple[int, str]:
    """Bytes that can still be written to ``path``: the disk's free space or the file-size limit, the smaller."""
    room, where = shutil.disk_usage(path.parent).free, "on its disk"
    try:
        import resource  # POSIX only
    except ImportError:
        return room, where
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        size = path.stat().st_size if path.exists() else 0
        if limit - size < room:
            room, where = limit - size, "under this process's file-size limit"
    return max(room, 0), where


def _pad_to_stored_end(path: Path) -> None:
    """After a failed write the file may end before where its header says; extend it (a sparse hole,
    no disk space needed) so the rows written before the failure can be read."""
    try:
        h5py.File(path, "r", swmr=True).close()
        return
    except OSError as exc:
        m = re.search(r"stored_eof = (\d+)", str(exc))
    if m and int(m.group(1)) > path.stat().st_size:
        try:
            os.truncate(path, int(m.group(1)))
        except OSError:
            pass  # e.g. the file-size limit itself: the file stays as it is


def _reason(exc: BaseException) -> str:
    """The OS's words inside an h5py error ("No space left on device"), else the error's own text."""
    text = str(exc)
    m = re.search(r"error message = '([^']+)'", text)
    if m:
        return m.group(1)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return text.splitlines()[0] if text else type(exc).__name__


def open_hdf5(path: Path) -> h5py.File:
    """Open an HDF5 file for reading, also one whose writer was killed (any reader uses this)."""
    if not path.is_file():
        raise MyostreamError(f"Session file {str(path)!r} does not exist.")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        error = exc
        # HDF5 marks (and locks) a file open for writing until it is closed; while it is
        # being recorded, or after the recorder was killed, a SWMR reader may still open
        # it and sees everything flushed.
        if "already open for write" in str(exc) or "unable to lock file" in str(exc):
            try:
                return h5py.File(path, "r", swmr=True)
            except OSError as exc2:
                error = exc2
    raise MyostreamError(f"{str(path)!r} is not a readable HDF5 file ({error}); it is truncated or not HDF5.") from None


def _check_layout(f: h5py.File, path: Path) -> None:
    if f.attrs.get("format") != FORMAT:
        raise MyostreamError(
            f"{str(path)!r} is an HDF5 file but not a myostream session (no format = {FORMAT!r} attribute); "
            "read datasets such as emg2pose with their own reader."
        )
    missing = [k for k in (*_SAMPLE_DATASETS, "events") if k not in f]
    missing += [k for k in ("rate", "channel_names", "label_names") if k not in f.attrs]
    if missing:
        raise MyostreamError(
            f"Session {str(path)!r} lacks {missing[0]!r}; the file is damaged or was not written by myostream."
        )
    version = int(f.attrs.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise MyostreamError(
            f"Session {str(path)!r} has format version {version}, newer than this myostream understands "
            f"({FORMAT_VERSION}); update myostream."
        )


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _attr(value: Any) -> Any:
    """HDF5 attribute → plain Python (lists of str, str, numbers)."""
    if isinstance(value, np.ndarray):
        return [_text(v) if isinstance(v, (bytes, str)) else v.item() for v in value]
    if isinstance(value, bytes):
        return _text(value)
    return value.item() if isinstance(value, np.generic) else value


def read_events(f: h5py.File) -> list[CueEvent]:
    return [
        CueEvent(float(r["time"]), _text(r["kind"]), _text(r["gesture"]), int(r["repetition"]), int(r["value"]))
        for r in f["events"][:]
    ]


def read_session(path: str | Path, nonfinite: NonFinite = "error") -> Recording:
    """Read a session file (also one whose recording was killed) into a :class:`Recording`.

    ``meta`` carries ``timestamps``, ``events`` (:class:`CueEvent` list),
    ``source_labels`` / ``source_label_names``, ``complete`` and the file's attributes.
    """
    path = Path(path)
    with open_hdf5(path) as f:
        _check_layout(f, path)
        # A killed writer may have grown one dataset further than another; keep the common part.
        n = min(len(f[k]) for k in _SAMPLE_DATASETS)
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
        complete = bool(attrs.get("complete", False))
        timestamps = f["timestamps"][:n]
        if not complete:
            n = _surely_written(timestamps)
            timestamps = timestamps[:n]
        emg = f["emg"][:n]
        meta: dict[str, Any] = {
            **attrs,
            "timestamps": timestamps,
            "events": read_events(f),
            "source_labels": f["source_labels"][:n],
            "complete": complete,
        }
        labels = f["labels"][:n].astype(np.int16)
        repetition = f["repetition"][:n].astype(np.int16)
    if not complete:
        log.warning(
            "Session %r was cut short (its recorder stopped without closing it); reading the %.1f s it saved.",
            str(path),
            n / float(attrs["rate"]),
        )
    label_names = tuple(attrs["label_names"])
    if labels.size and (labels.max() >= len(label_names) or labels.min() < -1):
        raise MyostreamError(
            f"Session {str(path)!r} has labels outside its {len(label_names)} label names; the file is damaged."
        )
    return Recording(
        emg=emg,
        rate=float(attrs["rate"]),
        labels=labels,
        label_names=label_names,
        channel_names=tuple(attrs["channel_names"]),
        subject=str(attrs.get("subject", "")),
        session=str(attrs.get("session", "1")),
        exercise=str(attrs.get("protocol", "")),
        dataset="myostream-session",
        unit=str(attrs.get("unit", "a.u.")),
        repetition=repetition,
        source=str(path),
        meta=meta,
        nonfinite=nonfinite,
    )


def _surely_written(timestamps: np.ndarray) -> int:
    """Rows of a cut-short file that were written: a write that failed mid-flush can leave rows the
    file announces but never got, and those read as HDF5's fill value (timestamp 0, never an LSL time)."""
    ts = np.asarray(timestamps, np.float64)
    unwritten = ~np.isfinite(ts)
    unwritten[1:] |= (ts[1:] == 0) & (ts[:-1] != 0)
    first = np.flatnonzero(unwritten)
    return int(first[0]) if len(first) else len(ts)


def is_session_file(path: str | Path) -> bool:
    """Whether ``path`` is a myostream session (cheap: reads the attributes only)."""
    try:
        with open_hdf5(Path(path)) as f:
            return f.attrs.get("format") == FORMAT
    except MyostreamError:
        return False


def save_labels(path: str | Path, labels: np.ndarray, repetition: np.ndarray) -> None:
    """Store edited labels; the raw samples (``emg``, ``timestamps``) are left untouched.

    A session whose recording was killed is first made a normally closed file (its
    datasets copied as they are), because HDF5 refuses to modify it in place.
    """
    path = Path(path)
    with open_hdf5(path) as f:
        _check_layout(f, path)
        n = len(f["labels"])
    if len(labels) != n or len(repetition) != n:
        raise MyostreamError(f"Session {str(path)!r} has {n} samples but {len(labels)} labels were given.")
    if not _opens_for_writing(path):
        recover_session(path)
    with h5py.File(path, "r+") as f:
        f["labels"][:] = np.asarray(labels, np.int16)
        f["repetition"][:] = np.asarray(repetition, np.int16)
        f.attrs["labels_edited"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _opens_for_writing(path: Path) -> bool:
    try:
        h5py.File(path, "r+").close()
        return True
    except OSError:
        return False


def recover_session(path: str | Path) -> None:
    """Turn a session whose recording was killed into a normally closed file.

    Its datasets are copied as they are (cut to their common length) into a new file that
    then replaces the original, which HDF5 still marks as open for writing.
    """
    path = Path(path)
    with open_hdf5(path) as src:
        _check_layout(src, path)
        n = min(len(src[k]) for k in _SAMPLE_DATASETS)
        fd, tmp = tempfile.mkstemp(suffix=".h5", dir=path.parent)
        os.close(fd)
        try:
            with h5py.File(tmp, "w", libver="latest") as dst:
                for key, value in src.attrs.items():
                    dst.attrs[key] = value
                dst.attrs["n_samples"] = n
                dst.attrs["recovered"] = True
                for key in (*_SAMPLE_DATASETS, "events"):
                    ds = src[key]
                    data = ds[:n] if key in _SAMPLE_DATASETS else ds[:]
                    dst.create_dataset(key, data=data, maxshape=ds.maxshape, chunks=ds.chunks)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
