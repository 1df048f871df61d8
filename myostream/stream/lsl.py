"""Lab Streaming Layer: read EMG streams (:class:`LSLSource`) and publish them (:class:`LSLOutlet`).

Channel labels, units and types travel in the stream's XML description under
``desc/channels/channel/{label,unit,type}``, the layout LabRecorder, mne-lsl and
most device bridges use, so streams published here read back with their names.
pylsl is imported only through :func:`~myostream.stream.lslconfig.pylsl_module`,
which keeps LSL on this machine unless ``LSLAPICFG`` says otherwise.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from myostream.errors import MyostreamError
from myostream.records import (
    UNKNOWN_LABEL,
    Chunk,
    Source,
    StreamInfo,
    check_finite,
    default_channel_names,
    opened,
)
from myostream.stream.devices import DeviceProfile
from myostream.stream.gaps import GapCounter
from myostream.stream.lslconfig import new_outlet, pylsl_module

log = logging.getLogger(__name__)

#: ``LSLSource(markers=AUTO_MARKERS)``: also read the stream's own ``NAME-markers`` when one exists.
AUTO_MARKERS = "auto"
#: Seconds an optional marker stream is looked for (it appears with its data stream, see :func:`publish`).
MARKER_WAIT_S = 1.0

#: liblsl channel formats (pylsl's cf_* constants) by name
_FORMATS = {1: "float32", 2: "double64", 3: "string", 4: "int32", 5: "int16", 6: "int8", 7: "int64"}


@dataclass(frozen=True)
class LSLStreamSummary:
    """One stream visible on the network, as the source picker and `myostream devices` show it."""

    name: str
    type: str
    n_channels: int
    rate: float
    channel_format: str
    source_id: str
    hostname: str

    def __str__(self) -> str:
        rate = f"{self.rate:g} Hz" if self.rate > 0 else "irregular rate"
        sid = f", source_id {self.source_id!r}" if self.source_id else ""
        return f"{self.name!r} ({self.type or 'no type'}, {self.n_channels} ch, {rate}, {self.channel_format}{sid}, on {self.hostname})"


def _summary(info: Any) -> LSLStreamSummary:
    return LSLStreamSummary(
        name=info.name(),
        type=info.type(),
        n_channels=info.channel_count(),
        rate=info.nominal_srate(),
        channel_format=_FORMATS.get(info.channel_format(), str(info.channel_format())),
        source_id=info.source_id(),
        hostname=info.hostname(),
    )


def find_stream(query: dict[str, str], timeout: float, first: bool = True) -> tuple[Any | None, list[Any]]:
    """The first stream whose ``name``/``type``/``source_id`` equal ``query``'s, and every stream seen.

    Waits at most ``timeout`` seconds (the whole time when ``first`` is False, to list them
    all). A continuous resolver is polled instead of liblsl's one-shot resolve, which can
    return 5 s later than asked (liblsl 1.18: ``resolve_streams(0.5)`` took 5.5 s in about
    half the calls, so ``--timeout 5`` for a missing stream took 10 s).
    """
    pylsl = pylsl_module()
    resolver = pylsl.ContinuousResolver(forget_after=max(5.0, timeout))
    deadline = time.monotonic() + timeout
    try:
        while True:
            seen = resolver.results()
            if first:
                match = next((s for s in seen if all(getattr(s, k)() == v for k, v in query.items())), None)
                if match is not None:
                    return match, seen
            if time.monotonic() >= deadline:
                return None, seen
            time.sleep(0.02)
    finally:
        del resolver


def list_streams(timeout: float = 1.0) -> list[LSLStreamSummary]:
    """Every LSL stream that answers within ``timeout`` seconds, sorted by name."""
    _, seen = find_stream({}, timeout, first=False)
    return sorted((_summary(i) for i in seen), key=lambda s: (s.name, s.source_id))


def _visible(seen: list[Any]) -> str:
    streams = sorted((_summary(i) for i in seen), key=lambda s: (s.name, s.source_id))
    if not streams:
        return "no LSL streams are visible at all (is the device's LSL app running, on this machine or reachable per LSLAPICFG?)"
    return "visible streams: " + "; ".join(str(s) for s in streams)


def _channels_from_desc(info: Any, n: int) -> tuple[tuple[str, ...] | None, str | None]:
    """Channel labels and the (first) unit from ``desc/channels/channel``, when the stream gives them."""
    labels: list[str] = []
    units: list[str] = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        labels.append(ch.child_value("label"))
        units.append(ch.child_value("unit"))
        ch = ch.next_sibling("channel")
    names = tuple(labels) if len(labels) == n and all(labels) else None
    unit = next((u for u in units if u), None)
    return names, unit


def _clock_flags(pylsl: Any, header: Any) -> int:
    """Clock synchronisation for a stream from another machine; none for this machine's own streams,
    whose stamps are already in this clock: each inlet's offset estimate is noisy under load, and a data
    stream and its marker stream must keep sharing one clock."""
    return 0 if header.hostname() == socket.gethostname() else pylsl.proc_clocksync


def _connect(inlet: Any, timeout: float) -> Any:
    """Connect an inlet; return the stream's full info (with its description).

    Both the full info and the first clock offset are fetched now, while the outlet is
    surely there: liblsl fetches them lazily otherwise, and an inlet whose outlet has
    already vanished then blocks forever in its first pull (recovery waits for the
    info) or fails on the clock offset. A short replay closed before the reader's first
    read is exactly that case.
    """
    full = inlet.info(timeout)
    inlet.open_stream(timeout)
    inlet.time_correction(timeout)
    return full


def lsl_name(name: str, what: str = "LSL stream name") -> str:
    """``name`` if LSL can carry it (valid UTF-8, not empty), else one sentence."""
    if not name.strip():
        raise MyostreamError(f"The {what} is empty; give a name (e.g. --lsl MyEMG).")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise MyostreamError(
            f"The {what} {name!r} is not valid UTF-8 text, which LSL requires (a file name with other bytes?); "
            "give another name (e.g. --lsl MyEMG)."
        ) from None
    return name


def valid_utf8(text: str) -> str:
    """An identifier made from a file name, with bytes that are not UTF-8 shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _classes_from_desc(info: Any) -> tuple[str, ...]:
    """The class ids a marker stream lists under ``desc/classes/class`` (what :func:`publish` writes)."""
    classes = []
    node = info.desc().child("classes").child("class")
    while not node.empty():
        classes.append(node.child_value())
        node = node.next_sibling("class")
    return tuple(c for c in classes if c)


def _pull_markers(inlet: Any) -> list[tuple[float, str]]:
    texts, stamps = inlet.pull_chunk(timeout=0.0)
    return [(float(t), str(v[0])) for v, t in zip(texts, stamps)]


class LSLSource:
    """An LSL inlet as a :class:`~myostream.records.Source`.

    The stream is found by any combination of ``name``, ``type`` and ``source_id``
    within ``timeout`` seconds when :meth:`open` is called. Timestamps are LSL times
    mapped into this machine's clock (``proc_clocksync``, for streams of other machines). Dejittering is left off on
    purpose: it refits timestamps to a regular grid, which would smear a dropout over
    the following samples and hide it from the ``lost`` count.

    With ``recover=True`` (the default) a stream whose outlet disappears and comes back
    with the same ``source_id`` keeps being read; the samples missed meanwhile are
    counted in the next chunk's ``lost``. Rows with NaN or infinite values are dropped
    (and counted as lost the same way) so they never reach a stateful filter.
    ``markers`` names a string stream (e.g. ``f"{name}-markers"`` from :func:`publish`)
    whose events are attached to chunks as :attr:`Chunk.markers`; ``AUTO_MARKERS`` reads
    the stream's own ``NAME-markers`` when it exists and goes on without it otherwise.
    When the marker stream lists its class ids (``desc/classes/class``, as :func:`publish`
    writes them), they become ``info.label_names`` and every chunk carries per-sample
    labels: the class of the newest marker at or before each sample. ``expect_channels``
    refuses a stream with another channel count; ``max_buflen`` is how many seconds
    liblsl keeps for a reader that falls behind (older samples are dropped, and counted).
    """

    def __init__(
        self,
        name: str | None = None,
        type: str | None = None,
        source_id: str | None = None,
        timeout: float = 5.0,
        expect_channels: int | None = None,
        recover: bool = True,
        markers: str | None = None,
        max_buflen: int = 60,
    ) -> None:
        self.query = {k: v for k, v in (("name", name), ("type", type), ("source_id", source_id)) if v}
        if not self.query:
            raise MyostreamError("LSLSource needs a stream name, type or source_id to look for (e.g. name='MyoEMG').")
        if not timeout > 0:
            raise MyostreamError(f"LSLSource timeout must be positive seconds, not {timeout!r}.")
        self.timeout = float(timeout)
        if expect_channels is not None and expect_channels < 1:
            raise MyostreamError(
                f"LSLSource expect_channels must be a positive channel count, not {expect_channels!r}."
            )
        self.expect_channels = expect_channels
        self.recover = recover
        self.markers = markers
        self.max_buflen = int(max_buflen)
        self._info: StreamInfo | None = None
        self._inlet: Any = None
        self._marker_inlet: Any = None
        self._label_index: dict[str, int] = {}
        self._current_label = UNKNOWN_LABEL
        self._pending_labels: list[tuple[float, int]] = []
        self._buf: np.ndarray | None = None
        self._gaps: GapCounter | None = None
        self._warned_nonfinite = False

    @classmethod
    def from_profile(cls, profile: DeviceProfile, **overrides: Any) -> LSLSource:
        """The stream a profile's ``[lsl]`` table names, checked against the profile's channel count."""
        opts = {
            k: v for k, v in profile.options.get("lsl", {}).items() if k in ("name", "type", "source_id", "timeout")
        }
        return cls(**{"expect_channels": profile.n_channels, **opts, **overrides})

    @property
    def predicate(self) -> str:
        """The query as words for messages (``name='MyoEMG'``)."""
        return " and ".join(f"{k}={str(v)!r}" for k, v in self.query.items())

    @property
    def info(self) -> StreamInfo:
        if self._info is None:
            raise MyostreamError(
                f"LSL stream {self.predicate} is not open yet; call open() first (it resolves the stream)."
            )
        return self._info

    def open(self) -> None:
        if self._inlet is not None:
            return
        pylsl = pylsl_module()
        header, seen = find_stream(self.query, self.timeout)
        if header is None:
            raise MyostreamError(
                f"No LSL stream with {self.predicate} appeared within {self.timeout:g} s; {_visible(seen)}."
            )
        what = f"LSL stream {header.name()!r}"
        if header.channel_format() == pylsl.cf_string:
            raise MyostreamError(f"{what} carries strings (a marker stream?), not EMG samples; pick a numeric stream.")
        if not header.nominal_srate() > 0:
            raise MyostreamError(
                f"{what} has an irregular rate (nominal rate 0); myostream needs a regularly sampled EMG stream with a nominal rate."
            )
        n = header.channel_count()
        if self.expect_channels is not None and n != self.expect_channels:
            raise MyostreamError(
                f"{what} has {n} channels but {self.expect_channels} were expected; pick the matching stream or device profile."
            )
        inlet = pylsl.StreamInlet(
            header, max_buflen=self.max_buflen, recover=self.recover, processing_flags=_clock_flags(pylsl, header)
        )
        try:
            full = _connect(inlet, self.timeout)
        except Exception as exc:  # pylsl raises TimeoutError / LostError / RuntimeError here
            inlet.close_stream()
            raise MyostreamError(
                f"{what} was found but could not be opened within {self.timeout:g} s ({exc})."
            ) from None
        names, unit = _channels_from_desc(full, n)
        rate = full.nominal_srate()
        # One second of samples per read is plenty; more stays queued in liblsl for the next read.
        self._buf = np.empty((max(1024, math.ceil(rate)), n), dtype=inlet.np_dtype)
        self._gaps = GapCounter(rate)
        self._inlet = inlet
        classes: tuple[str, ...] = ()
        if self.markers:
            classes = self._open_markers(pylsl, full.name())
        self._label_index = {c: i for i, c in enumerate(classes)}
        self._info = StreamInfo(
            name=full.name(),
            rate=rate,
            channel_names=names or default_channel_names(n),
            unit=unit or "a.u.",
            source_id=full.source_id(),
            kind=full.type() or "EMG",
            label_names=classes,
        )

    def _open_markers(self, pylsl: Any, data_name: str) -> tuple[str, ...]:
        """Connect the marker stream; return the class ids it lists (empty when it lists none)."""
        optional = self.markers == AUTO_MARKERS
        name = f"{data_name}-markers" if optional else str(self.markers)
        wait = min(self.timeout, MARKER_WAIT_S) if optional else self.timeout
        header, seen = find_stream({"name": name}, wait)
        if header is None:
            if optional:
                return ()
            self.close()
            raise MyostreamError(
                f"No LSL marker stream named {name!r} appeared within {self.timeout:g} s; {_visible(seen)}."
            )
        inlet = pylsl.StreamInlet(header, recover=self.recover, processing_flags=_clock_flags(pylsl, header))
        try:
            full = _connect(inlet, wait)
        except Exception as exc:  # as in open()
            inlet.close_stream()
            if optional:
                log.warning(
                    "LSL marker stream %r could not be opened (%s); reading %r without labels.", name, exc, data_name
                )
                return ()
            self.close()
            raise MyostreamError(f"LSL marker stream {name!r} was found but could not be opened ({exc}).") from None
        self._marker_inlet = inlet
        return _classes_from_desc(full)

    def read(self, timeout: float = 0.0) -> Chunk:
        if self._inlet is None or self._buf is None or self._gaps is None:
            raise MyostreamError(f"LSL stream {self.predicate} is not open; call open() first.")
        try:
            ts = self._pull(self._buf, timeout)
            markers = [] if self._marker_inlet is None else _pull_markers(self._marker_inlet)
        except RuntimeError as exc:  # pylsl's LostError (its module moved between pylsl versions)
            if type(exc).__name__ != "LostError":
                raise
            raise MyostreamError(
                f"LSL stream {self.info.name!r} was lost (its outlet closed); reopen it, or give the outlet a source_id so it can be recovered."
            ) from None
        data = self._buf[: len(ts)].astype(np.float32)
        finite = np.isfinite(data).all(axis=1)
        if not finite.all():
            if not self._warned_nonfinite:
                log.warning(
                    "LSL stream %r sent NaN/infinite samples; they are dropped and counted as lost.", self.info.name
                )
                self._warned_nonfinite = True
            data, ts = data[finite], ts[finite]
        labels = self._labels(ts, markers) if self._label_index else None
        return Chunk(data, ts, labels, lost=self._gaps.count(ts), markers=markers)

    def _labels(self, ts: np.ndarray, markers: list[tuple[float, str]]) -> np.ndarray:
        """Per-sample class: the newest class marker at or before each sample (markers of later
        samples wait for them; markers that are not class ids leave the label as it was)."""
        self._pending_labels.extend((t, self._label_index[text]) for t, text in markers if text in self._label_index)
        self._pending_labels.sort()
        labels = np.full(len(ts), self._current_label, np.int16)
        while self._pending_labels and len(ts) and self._pending_labels[0][0] <= ts[-1]:
            t, k = self._pending_labels.pop(0)
            labels[ts >= t] = k
            self._current_label = k
        return labels

    def _pull(self, buf: np.ndarray, timeout: float) -> np.ndarray:
        """Fill the preallocated ``buf``: what is there now, else wait for one sample and take what followed it."""
        inlet = self._inlet
        _, ts = inlet.pull_chunk(timeout=0.0, max_samples=len(buf), dest_obj=buf)
        if len(ts) == 0 and timeout > 0:
            _, ts = inlet.pull_chunk(timeout=timeout, max_samples=1, dest_obj=buf)
            if len(ts):
                _, more = inlet.pull_chunk(timeout=0.0, max_samples=len(buf) - 1, dest_obj=buf[1:])
                ts = [*ts, *more]
        return np.asarray(ts, dtype=np.float64)

    def close(self) -> None:
        for inlet in (self._inlet, self._marker_inlet):
            if inlet is not None:
                inlet.close_stream()
        self._inlet = self._marker_inlet = None
        self._current_label, self._pending_labels = UNKNOWN_LABEL, []


#: Seconds a closing outlet waits so samples pushed just before reach connected readers:
#: liblsl drops whatever is still queued for a reader when the outlet is destroyed.
CLOSE_LINGER_S = 0.1


def _release(outlet: Any) -> None:
    if outlet is not None and outlet.have_consumers():
        time.sleep(CLOSE_LINGER_S)


class LSLOutlet:
    """Publishes chunks as a float32 LSL stream of type ``info.kind`` with labelled channels."""

    def __init__(self, info: StreamInfo, name: str | None = None, source_id: str = "", chunk_size: int = 0) -> None:
        pylsl = pylsl_module()
        self.info = info
        self.name = lsl_name(info.name if name is None else name)
        # A source_id lets readers recover the stream if this outlet restarts.
        self.source_id = valid_utf8(source_id or info.source_id or self.name)
        lsl_info = pylsl.StreamInfo(self.name, info.kind, info.n_channels, info.rate, pylsl.cf_float32, self.source_id)
        channels = lsl_info.desc().append_child("channels")
        for label in info.channel_names:
            ch = channels.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", info.unit)
            ch.append_child_value("type", info.kind)
        lsl_info.desc().append_child("acquisition").append_child_value("manufacturer", "myostream")
        self._outlet: Any = new_outlet(lsl_info, chunk_size)

    def push(self, chunk: Chunk) -> None:
        """Push samples with their own timestamps (LSL clock)."""
        if self._outlet is None:
            raise MyostreamError(f"LSL outlet {self.name!r} is closed; create a new one to push more samples.")
        if chunk.data.shape[1] != self.info.n_channels:
            raise MyostreamError(
                f"LSL outlet {self.name!r} has {self.info.n_channels} channels but got a chunk with {chunk.data.shape[1]}; push matching chunks."
            )
        if len(chunk) == 0:
            return
        check_finite(chunk.data, f"The chunk pushed to LSL outlet {self.name!r}")
        self._outlet.push_chunk(np.ascontiguousarray(chunk.data), chunk.timestamps.tolist())

    def wait_for_consumers(self, timeout: float) -> bool:
        """Whether a reader connected within ``timeout`` seconds (samples pushed before that reach nobody)."""
        return self._outlet is not None and bool(self._outlet.wait_for_consumers(timeout))

    def close(self) -> None:
        _release(self._outlet)
        self._outlet = None


class LSLMarkerOutlet:
    """An irregular-rate, one-channel string stream for events (class ids, cues)."""

    def __init__(self, name: str, source_id: str = "", type: str = "Markers", classes: tuple[str, ...] = ()) -> None:
        pylsl = pylsl_module()
        self.name = lsl_name(name, "LSL marker stream name")
        self._pylsl = pylsl
        info = pylsl.StreamInfo(name, type, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, valid_utf8(source_id or name))
        if classes:  # readers turn class markers into per-sample labels (LSLSource)
            node = info.desc().append_child("classes")
            for class_id in classes:
                node.append_child_value("class", class_id)
        self._outlet: Any = new_outlet(info)

    def push(self, text: str, timestamp: float | None = None) -> None:
        if self._outlet is None:
            raise MyostreamError(f"LSL marker outlet {self.name!r} is closed; create a new one to push more markers.")
        self._outlet.push_sample([text], self._pylsl.local_clock() if timestamp is None else timestamp)

    def wait_for_consumers(self, timeout: float) -> bool:
        return self._outlet is not None and bool(self._outlet.wait_for_consumers(timeout))

    def close(self) -> None:
        _release(self._outlet)
        self._outlet = None


def publish(
    source: Source,
    name: str,
    duration: float | None = None,
    stop: threading.Event | None = None,
    markers: bool = True,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> int:
    """Open ``source``, push everything it reads to an LSL stream ``name``, close it; return the samples pushed.

    The loop runs at the source's pace (its ``read`` waits for samples) until
    ``duration`` seconds of samples were pushed, ``stop`` is set, or forever. When
    the source's chunks carry labels, each label change goes out as its class id on
    the string stream ``f"{name}-markers"``, stamped with the sample it applies to;
    chunk markers go out there too.
    """
    if duration is not None and not duration > 0:
        raise MyostreamError(f"publish duration must be positive seconds (or None for no limit), not {duration!r}.")
    pushed = 0
    with opened(source):
        info = source.info
        limit = None if duration is None else int(round(duration * info.rate))
        outlet = LSLOutlet(info, name=name)
        marker_name, marker_id = f"{name}-markers", f"{outlet.source_id}-markers"
        # Created up front for a labelled source so readers can find it before the first change.
        marker_outlet = None
        if markers and info.label_names:
            marker_outlet = LSLMarkerOutlet(marker_name, marker_id, classes=info.label_names)
        last_label = -2  # no label yet: the first sample's label counts as a change
        try:
            while (stop is None or not stop.is_set()) and (limit is None or pushed < limit):
                chunk = source.read(timeout=0.1)
                if len(chunk) == 0:
                    continue
                if limit is not None and pushed + len(chunk) > limit:
                    chunk = _head(chunk, limit - pushed)
                outlet.push(chunk)
                pushed += len(chunk)
                events = list(chunk.markers)
                if chunk.labels is not None and info.label_names:
                    previous = np.concatenate(([last_label], chunk.labels[:-1]))
                    for i in np.flatnonzero(chunk.labels != previous):
                        k = int(chunk.labels[i])
                        if 0 <= k < len(info.label_names):
                            events.append((float(chunk.timestamps[i]), info.label_names[k]))
                    last_label = int(chunk.labels[-1])
                if markers and events:
                    if marker_outlet is None:
                        marker_outlet = LSLMarkerOutlet(marker_name, marker_id)
                    for t, text in sorted(events):
                        marker_outlet.push(text, t)
                if on_chunk is not None:
                    on_chunk(chunk)
        finally:
            outlet.close()
            if marker_outlet is not None:
                marker_outlet.close()
    return pushed


def _head(chunk: Chunk, n: int) -> Chunk:
    """The first ``n`` samples of a chunk, with the markers that fall among them."""
    end = chunk.timestamps[n - 1]
    labels = None if chunk.labels is None else chunk.labels[:n]
    return Chunk(chunk.data[:n], chunk.timestamps[:n], labels, chunk.lost, [m for m in chunk.markers if m[0] <= end])
