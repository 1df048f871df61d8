"""The session recorder's engine, without Qt: cue a protocol, record a crash-safe session file.

:class:`SessionRecorder` owns one thread that reads a :class:`~myostream.records.Source`,
runs the protocol's cue clock (:class:`~myostream.calibrate.CalibrationRun`), labels each sample
from the cue events (:func:`~myostream.calibrate.labels_from_cues`) and appends it to the
session file (:class:`~myostream.data.session.SessionWriter`, flushed several times a second),
while a ring buffer keeps the last seconds for whoever draws them. A simulated participant
(the simulated armband, a cued replay) performs each cue as it comes, so the whole loop runs
without hardware. From a script::

    recorder = SessionRecorder(recording_source("simulated", [protocol]))
    recorder.open()                                   # the source streams; raises MyostreamError
    path = recorder.start(protocol, "sessions", subject="S01")
    recorder.wait()                                   # until the session file is closed
    recorder.close()

The GUI apps (``myostream record``, calibration in ``myostream live``) wrap the same engine:
``pause``/``resume``/``redo``/``abort`` may be called from any thread, ``state()``,
``progress()`` and ``quality()`` read where it stands, and the callbacks ``on_ready``,
``on_failed`` and ``on_closed`` are called on the recorder's thread.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from myostream.calibrate import (
    REST,
    CalibrationRun,
    Protocol,
    RunState,
    channel_quality,
    labels_from_cues,
    trial_schedule,
)
from myostream.data.session import SessionWriter, session_filename
from myostream.errors import MyostreamError
from myostream.paths import output_dir
from myostream.records import Chunk, CueEvent, Source, StreamInfo
from myostream.stream.lslconfig import pylsl_module
from myostream.stream.ring import RingBuffer

#: Events after which samples already written may need new labels (a discarded hold).
RETROACTIVE = ("pause", "redo", "abort")
#: Longest wait for the samples up to the last cue before the session file is closed anyway.
FINISH_WAIT_S = 1.0

log = logging.getLogger(__name__)


def recording_source(spec: str, protocols: Sequence[Protocol]) -> Source:
    """The source named by ``spec``; a simulated armband is built cue-driven (manual
    schedule) and knows every gesture of ``protocols``."""
    from myostream.sources import make_source, spec_kind
    from myostream.stream.devices import load_profile

    if spec_kind(spec)[0] == "profile" and load_profile(spec).transport == "simulated":
        gestures = list(dict.fromkeys(g for p in protocols for g in p.gestures if g != REST))
        return make_source(spec, schedule="manual", gestures=tuple(gestures))
    return make_source(spec)


@dataclass(frozen=True)
class Progress:
    """How far a session is: trials complete of all, and the seconds of cues left."""

    completed: int
    total: int
    seconds_left: float


class SessionRecorder:
    """Streams ``source`` and, while a session runs, cues its protocol and records it.

    ``cue_target`` is what performs the cues when it can (``set_gesture``): the source itself
    by default, or the device behind a tap on another reader's stream. A simulated armband
    running its own schedule is switched to following the cues for the session and back after.
    ``close_source``: close the source when the recorder closes (False for a tap on a stream
    someone else owns). ``runs_clock``: the recorder's thread advances the cue clock; a GUI
    passes False and calls :meth:`advance` from its redraw timer instead, so a cue is stamped
    at the moment it is shown.
    """

    def __init__(
        self,
        source: Source,
        *,
        display_seconds: float = 10.0,
        cue_target: Any = None,
        close_source: bool = True,
        runs_clock: bool = True,
    ) -> None:
        self.source = source
        self.cue_target = source if cue_target is None else cue_target
        self.close_source = close_source
        self.display_seconds = display_seconds
        self.runs_clock = runs_clock
        self.info: StreamInfo | None = None
        #: the last ``display_seconds`` of raw samples (for drawing and signal checks)
        self.ring: RingBuffer | None = None
        self.samples_read = 0
        self.samples_lost = 0
        self.samples_written = 0
        #: the cue clock of the current (or last) session; None before the first
        self.run: CalibrationRun | None = None
        self.protocol: Protocol | None = None
        self.session_path: Path | None = None
        #: the sentence that stopped the stream, if one did
        self.error: str | None = None
        self.on_ready: Callable[[StreamInfo], None] | None = None
        self.on_failed: Callable[[str, bool], None] | None = None
        self.on_closed: Callable[[Path], None] | None = None

        self._lock = threading.Lock()
        self._pending: list[CueEvent] = []
        self._begin: tuple[SessionWriter, tuple[str, ...]] | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._closed = threading.Event()
        self._closed.set()
        self._thread: threading.Thread | None = None
        self._writer: SessionWriter | None = None
        self._events: list[CueEvent] = []
        self._label_names: tuple[str, ...] = ()
        self._t_begin = 0.0
        self._finish_at: float | None = None
        self._finish_deadline = 0.0
        self._last_ts = -math.inf
        self._schedule_before: str | None = None

    # -- stream ---------------------------------------------------------------------------

    def open(self, wait: bool = True, timeout: float | None = 60.0) -> StreamInfo | None:
        """Start the recorder's thread, which opens the source; ``wait`` until it streams
        (raises the source's :class:`MyostreamError`), else return at once (``on_ready`` says when)."""
        if self._thread is not None:
            raise MyostreamError("This recorder is already open; make a new SessionRecorder to open another source.")
        self._thread = threading.Thread(target=self._loop, name="myostream-recorder", daemon=True)
        _OPEN.add(self)
        self._thread.start()
        if not wait:
            return None
        if not self._ready.wait(timeout):
            raise MyostreamError(f"The source did not start streaming within {timeout:g} s.")
        if self.info is None:
            raise MyostreamError(self.error or "The source could not be opened.")
        return self.info

    @property
    def streaming(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.info is not None

    def close(self) -> None:
        """Abort a running session (what was recorded is kept, the file closed complete), stop
        the thread and close the source. Safe to call twice."""
        self.abort()
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        _OPEN.discard(self)

    # -- session --------------------------------------------------------------------------

    def start(
        self,
        protocol: Protocol,
        out_dir: str | Path,
        *,
        subject: str,
        session: str = "1",
        device: str = "",
        speed: float = 1.0,
        meta: dict[str, Any] | None = None,
    ) -> Path:
        """Create the session file in ``out_dir`` and start cueing ``protocol`` (at ``speed``);
        returns the file's path. Raises :class:`MyostreamError` (no file, no cues) when the
        folder is not writable, the stream is not running or a session is still running."""
        if not subject.strip():
            raise MyostreamError("A session needs a subject: its file is named after them.")
        timed = protocol.at_speed(speed)
        trials = trial_schedule(timed)
        if not self.streaming:
            raise MyostreamError(self.error or "The source is not streaming yet; wait until it is, then start.")
        if (self.run is not None and not self.run.finished) or self._writer is not None or self._begin is not None:
            raise MyostreamError("A session is still being recorded; abort it or wait until its file is closed.")
        folder = output_dir(out_dir, "the session file")  # before the first cue: a run without a file loses it
        path = folder / session_filename(subject, session, protocol.name)
        assert self.info is not None
        toml = protocol.path.read_text(encoding="utf-8") if protocol.path else ""
        try:
            writer = SessionWriter(
                path,
                rate=self.info.rate,
                channel_names=self.info.channel_names,
                unit=self.info.unit,
                source_label_names=self.info.label_names,
                label_names=timed.label_names,
                subject=subject,
                session=session,
                device=device,
                protocol=protocol.name,
                protocol_toml=toml,
                meta={"speed": speed, "schedule_seed": protocol.seed, **(meta or {})},
            )
        except OSError as exc:
            raise MyostreamError(f"Could not create the session file {str(path)!r}: {exc}") from None
        run = CalibrationRun(trials, timed.lead_in_s)
        with self._lock:
            self._closed.clear()
            self._begin = (writer, timed.label_names)
            self.protocol, self.run, self.session_path = timed, run, path
            self._pending.extend(run.start(_now()))
        return path

    def advance(self) -> None:
        """Move the cue clock to now (the recorder's thread does it unless ``runs_clock`` is False)."""
        self._control(lambda run, now: run.advance(now))

    def pause(self) -> None:
        self._control(lambda run, now: run.pause(now))

    def resume(self) -> None:
        self._control(lambda run, now: run.resume(now))

    def toggle_pause(self) -> None:
        self._control(lambda run, now: run.resume(now) if run.phase == "paused" else run.pause(now))

    def redo(self) -> None:
        """Discard the last hold (the current one, or the one just finished) and hold it again."""
        self._control(lambda run, now: run.redo(now))

    def abort(self) -> None:
        """End the session now; the samples recorded so far are kept (an unfinished hold unlabelled)."""
        self._control(lambda run, now: run.abort(now))

    def _control(self, step: Callable[[CalibrationRun, float], list[CueEvent]]) -> None:
        with self._lock:
            # after the stream failed the file is closed as it was: no cue may be added to it
            if self.run is not None and not self.run.finished and self.error is None:
                self._pending.extend(step(self.run, _now()))

    def state(self) -> RunState | None:
        """Where the current session stands (phase, trial and its cue, seconds left in the phase)."""
        with self._lock:
            return None if self.run is None else self.run.state(_now())

    def progress(self) -> Progress | None:
        """Trials complete and the seconds of cues left in the current session."""
        with self._lock:
            if self.run is None:
                return None
            state = self.run.state(_now())
            later = sum(t.hold_s + t.rest_s for t in self.run.trials[state.completed + 1 :])
            return Progress(state.completed, state.total, 0.0 if self.run.finished else state.remaining_s + later)

    @property
    def recording(self) -> bool:
        """A session is running or its file is not closed yet."""
        return not self._closed.is_set()

    def wait(self, timeout: float | None = None) -> Path | None:
        """Wait until the session file is closed (the protocol ended, was aborted, or the source
        failed); returns its path, None on timeout."""
        return self.session_path if self._closed.wait(timeout) else None

    def quality(self, seconds: float = 1.0) -> list[str] | None:
        """A verdict per channel on the last ``seconds`` (see :func:`~myostream.calibrate.channel_quality`);
        None until half of that has streamed."""
        ring, info = self.ring, self.info
        if ring is None or info is None:
            return None
        span = ring.latest(int(seconds * info.rate))
        if len(span) < seconds * info.rate / 2:
            return None
        return channel_quality(span.data, info.rate)

    # -- the recorder's thread ------------------------------------------------------------

    def _loop(self) -> None:
        try:
            self.source.open()
            info = self.source.info
        except Exception as exc:  # any driver error must reach the user, not kill the thread silently
            self._fail(str(exc) if isinstance(exc, MyostreamError) else f"Could not open the source: {exc!r}", True)
            self._ready.set()
            return
        self.ring = RingBuffer.for_seconds(self.display_seconds, info.rate, info.n_channels)
        self.info = info
        self._ready.set()
        if self.on_ready is not None:
            self.on_ready(info)
        try:
            while not self._stop.is_set():
                chunk = self.source.read(timeout=0.02)
                self._step()
                if len(chunk):
                    self._consume(chunk)
                else:  # a source whose read() does not wait must not spin the CPU
                    self._stop.wait(0.002)
                self._maybe_close()
        except Exception as exc:
            self._fail(str(exc) if isinstance(exc, MyostreamError) else f"Recording stopped: {exc!r}", True)
        finally:
            with self._lock:
                self._step_locked(advance=False)  # e.g. the abort posted by closing the window
            self._finish(self._close_writer())
            if self.close_source:
                self.source.close()

    def _fail(self, message: str, stopped: bool) -> None:
        self.error = message
        log.info("%s", message)  # the host says it (a GUI banner, a script's exception): not twice on stderr
        if self.on_failed is not None:
            self.on_failed(message, stopped)

    def _step(self) -> None:
        with self._lock:
            self._step_locked(advance=True)

    def _step_locked(self, advance: bool) -> None:
        if self._begin is not None:
            (self._writer, self._label_names), self._begin = self._begin, None
            self._events, self._finish_at, self.samples_written = [], None, 0
            self._t_begin = self._pending[0].time if self._pending else _now()
            self._follow_cues(True)
        if advance and self.runs_clock and self.run is not None and not self.run.finished:
            self._pending.extend(self.run.advance(_now()))
        events, self._pending = self._pending, []
        for event in events:
            self._event(event)
        if events and self.run is not None and self.run.finished and self._finish_at is None:
            self._finish_at = events[-1].time
            self._finish_deadline = time.monotonic() + FINISH_WAIT_S

    def _event(self, event: CueEvent) -> None:
        self._cue(event)
        if self._writer is None:
            return
        self._events.append(event)
        self._writer.add_event(event)
        if event.kind in RETROACTIVE:
            holds = [e.time for e in self._events if e.kind == "hold"]
            if holds:
                start, ts = self._writer.timestamps_from(holds[-1])
                labels, repetition = labels_from_cues(ts, self._events, self._label_names)
                self._writer.write_labels(start, labels, repetition)

    def _follow_cues(self, on: bool) -> None:
        """Switch a simulated participant that runs its own schedule to following the cues, and back."""
        target = self.cue_target
        switch = getattr(target, "set_schedule", None)
        if switch is None:
            return
        schedule = getattr(target, "schedule", "manual")
        if on and schedule != "manual":
            self._schedule_before = schedule
            switch("manual")
        elif not on and self._schedule_before is not None:
            switch(self._schedule_before)
            self._schedule_before = None

    def _cue(self, event: CueEvent) -> None:
        target = self.cue_target
        set_gesture = getattr(target, "set_gesture", None)
        if set_gesture is None or getattr(target, "schedule", "manual") != "manual" or event.kind == "gap":
            return
        try:
            set_gesture(event.gesture if event.kind == "hold" else REST)
        except MyostreamError:
            set_gesture(REST)  # a gesture this simulated person does not know: stay relaxed

    def _consume(self, chunk: Chunk) -> None:
        assert self.ring is not None
        self.ring.write(chunk.data, chunk.timestamps, chunk.labels)
        self.samples_read += len(chunk)
        self.samples_lost += chunk.lost
        self._last_ts = float(chunk.timestamps[-1])
        writer = self._writer
        if writer is None:
            return
        keep = chunk.timestamps >= self._t_begin
        if not keep.any():
            return
        data, ts = chunk.data[keep], chunk.timestamps[keep]
        truth = None if chunk.labels is None else chunk.labels[keep].astype(np.int16)
        if chunk.lost and writer.n_samples:
            event = CueEvent(float(ts[0]), "gap", value=int(chunk.lost))
            self._events.append(event)
            writer.add_event(event)
        labels, repetition = labels_from_cues(ts, self._events, self._label_names)
        writer.append(data, ts, labels, repetition, truth)
        self.samples_written = writer.n_samples

    def _maybe_close(self) -> None:
        if self._writer is None or self._finish_at is None:
            return
        if self._last_ts >= self._finish_at or time.monotonic() > self._finish_deadline:
            self._finish(self._close_writer())

    def _close_writer(self) -> Path | None:
        writer, self._writer = self._writer, None
        self._finish_at = None
        if writer is None:
            return None
        self._follow_cues(False)
        return writer.close()

    def _finish(self, path: Path | None) -> None:
        with self._lock:
            if self._begin is not None:  # started but never begun (the stream ended first): no cues ran
                self._begin[0].close()
                self._begin = None
        self._closed.set()
        if path is not None and self.on_closed is not None:
            self.on_closed(path)


def _now() -> float:
    return pylsl_module().local_clock()


#: recorders whose thread may still run; closed when the program exits (see :func:`_close_open_recorders`)
_OPEN: weakref.WeakSet[SessionRecorder] = weakref.WeakSet()


@atexit.register
def _close_open_recorders() -> None:
    """A program that exits with a recorder still open gets its session closed complete: the thread
    is a daemon (it must never keep a program alive), and a daemon frozen at exit in the middle of
    an HDF5 write would leave the file incomplete and hold h5py's lock, deadlocking the exit."""
    for recorder in list(_OPEN):
        try:
            recorder.close()
        except Exception as exc:  # noqa: BLE001 - exiting: report, and close the others
            log.warning("Could not close a session recorder at exit: %s", exc)
