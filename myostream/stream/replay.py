"""Replay a recording as a live :class:`~myostream.records.Source`.

Pacing never drifts: sample ``k`` (counted from :meth:`ReplaySource.open`) is due at
``t0 + k / (rate * speed)`` on the LSL clock, computed from ``k`` itself, so late
wake-ups and slow readers never accumulate and a one-hour replay ends one hour after
it started. Like an armband, samples are released in blocks of ``chunk_ms``: a block
becomes readable when its last sample is due, and carries those due times as
timestamps. ``speed=0`` replays unthrottled: every read returns the next second of the
recording at once, stamped at the nominal rate from ``t0``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np

from myostream.errors import MyostreamError
from myostream.records import Chunk, Recording, StreamInfo, check_finite
from myostream.stream.lslconfig import pylsl_module
from myostream.stream.pacing import DEFAULT_SPIN_S, sleep_until

#: Allowed speed factors (0 = unthrottled).
MIN_SPEED, MAX_SPEED = 0.25, 10.0


class ReplaySource:
    """A :class:`Recording` played back in real time (or ``speed`` times faster).

    ``start`` skips that many seconds of the recording; with ``loop`` playback
    restarts at ``start`` after the last sample and never ends, else :attr:`exhausted`
    turns true and reads return empty chunks. Chunks carry the recording's labels,
    indexing ``info.label_names``. A waiting read sleeps until ``spin_ms`` before the
    next block is due and spins the rest (see :mod:`~myostream.stream.pacing`);
    ``spin_ms=0`` saves that CPU at the cost of the OS's sleep overshoot.
    """

    def __init__(
        self,
        recording: Recording,
        speed: float = 1.0,
        loop: bool = False,
        start: float = 0.0,
        chunk_ms: float = 20.0,
        name: str | None = None,
        spin_ms: float = DEFAULT_SPIN_S * 1000,
    ) -> None:
        where = f"Replay of {recording.name!r}"
        if not (speed == 0 or MIN_SPEED <= speed <= MAX_SPEED):
            raise MyostreamError(
                f"{where}: speed {speed!r} is out of range; use {MIN_SPEED:g} to {MAX_SPEED:g} times real time, or 0 for unthrottled."
            )
        if not 0 <= start < recording.duration:
            raise MyostreamError(
                f"{where}: start {start!r} s is outside the recording (0 to {recording.duration:.2f} s)."
            )
        if not chunk_ms > 0:
            raise MyostreamError(f"{where}: chunk_ms must be positive milliseconds, not {chunk_ms!r}.")
        if not spin_ms >= 0:
            raise MyostreamError(f"{where}: spin_ms must be zero or positive milliseconds, not {spin_ms!r}.")
        self.recording = recording
        self.speed = float(speed)
        self.loop = bool(loop)
        self.block = max(1, round(chunk_ms * recording.rate / 1000.0))
        self.spin = spin_ms / 1000.0
        self.first = int(round(start * recording.rate))
        self.span = recording.n_samples - self.first  # samples played per pass
        self._info = StreamInfo(
            name=name or recording.name,
            rate=recording.rate,
            channel_names=tuple(recording.channel_names),
            unit=recording.unit,
            source_id=f"myostream-replay:{recording.source or recording.name}",
            kind="EMG",
            label_names=tuple(recording.label_names),
        )
        self._clock: Any = None
        self._t0: float | None = None
        self._emitted = 0

    @property
    def info(self) -> StreamInfo:
        return self._info

    @property
    def exhausted(self) -> bool:
        """True once a non-looping replay has delivered its last sample."""
        return not self.loop and self._emitted >= self.span

    @property
    def emitted(self) -> int:
        """Samples delivered since :meth:`open`."""
        return self._emitted

    @property
    def position(self) -> float:
        """Where in the recording the next sample comes from, in seconds."""
        return (self.first + self._emitted % self.span) / self.recording.rate

    @property
    def t0(self) -> float:
        """LSL time at which sample 0 was due (set by :meth:`open`)."""
        if self._t0 is None:
            raise MyostreamError(f"Replay of {self.recording.name!r} is not open; call open() first.")
        return self._t0

    def due_time(self, k: int) -> float:
        """LSL time at which sample ``k`` (counted from :meth:`open`) is due."""
        rate = self.recording.rate * (self.speed or 1.0)
        return self.t0 + k / rate

    def open(self) -> None:
        self._clock = pylsl_module().local_clock
        self._t0 = self._clock()
        self._emitted = 0

    def close(self) -> None:
        self._t0 = None

    def _released(self, now: float) -> int:
        """How many samples have been released by time ``now`` (whole blocks; the last one may be short)."""
        # The epsilon absorbs float rounding of (now - t0) * rate, so a block is never held back at its due time.
        due = math.floor((now - self.t0) * self.recording.rate * self.speed + 1e-6) + 1
        released = (due // self.block) * self.block
        if not self.loop:
            released = self.span if due >= self.span else min(released, self.span)
        return max(released, 0)

    def read(self, timeout: float = 0.0) -> Chunk:
        if self._t0 is None:
            raise MyostreamError(f"Replay of {self.recording.name!r} is not open; call open() first.")
        if self.exhausted:
            time.sleep(timeout)  # like a silent device: wait, then report nothing
            return Chunk.empty(self.info.n_channels, with_labels=True)
        if self.speed == 0:
            n = max(self.block, math.ceil(self.recording.rate))
            if not self.loop:
                n = min(n, self.span - self._emitted)
            return self._take(n)
        released = self._released(self._clock())
        if released <= self._emitted and timeout > 0:
            end = self._emitted + self.block if self.loop else min(self._emitted + self.block, self.span)
            # Build the next block before sleeping: right after a wake-up even small numpy calls
            # run ~10x slower (cold caches), which would add ~0.2 ms to every delivery.
            ready = self._build(self._emitted, end - self._emitted)
            deadline = self._clock() + timeout
            wake = min(deadline, self.due_time(end - 1))
            while released <= self._emitted:
                now = self._clock()
                if now >= deadline:
                    break
                sleep_until(wake, self._clock, self.spin)
                released = self._released(self._clock())
            if released == end:
                self._emitted = end
                return ready
        return self._take(max(released - self._emitted, 0))

    def _take(self, n: int) -> Chunk:
        """The next ``n`` samples, consumed."""
        chunk = self._build(self._emitted, n)
        self._emitted += n
        return chunk

    def _build(self, k0: int, n: int) -> Chunk:
        """Samples ``k0 .. k0 + n`` (counted from :meth:`open`, copies), wrapping around at the end when looping."""
        if n == 0:
            return Chunk.empty(self.info.n_channels, with_labels=True)
        rec = self.recording
        pieces: list[tuple[int, int]] = []
        k = k0
        while k < k0 + n:
            a = self.first + k % self.span
            b = min(rec.n_samples, a + (k0 + n - k))
            pieces.append((a, b))
            k += b - a
        data = np.concatenate([np.asarray(rec.emg[a:b], np.float32) for a, b in pieces])
        labels = np.concatenate([rec.labels[a:b] for a, b in pieces]).astype(np.int16)
        check_finite(data, f"Recording {rec.source or rec.name!r} (from {pieces[0][0] / rec.rate:.2f} s)")
        stamps = self.t0 + np.arange(k0, k0 + n, dtype=np.float64) / (rec.rate * (self.speed or 1.0))
        return Chunk(data, stamps, labels)


class CuedReplaySource(ReplaySource):
    """A recording replayed as a participant who follows cues (a :class:`Source` with ``set_gesture``,
    like the simulated armband's manual schedule).

    The recording's holds are its runs of one label and repetition (e.g. one ``classe_<i>.dat``
    file of the Myo armband dataset each). :meth:`set_gesture` cues a class: from the next block
    on, the replay plays that class's next recorded hold (the first cue of a class its first hold,
    the next cue the next one, cycling), repeating it while the cue lasts; before the first cue it
    plays rest. So a calibration protocol built in the recording's own gesture order replays the
    session as it was recorded, and a redo or a pause still gets a real hold. Paced like
    :class:`ReplaySource` (``speed`` 0.25-10, never unthrottled); chunks carry the recording's labels.
    """

    schedule = "manual"

    def __init__(
        self,
        recording: Recording,
        speed: float = 1.0,
        chunk_ms: float = 20.0,
        name: str | None = None,
        spin_ms: float = DEFAULT_SPIN_S * 1000,
    ) -> None:
        if speed == 0:
            raise MyostreamError(
                f"A cued replay of {recording.name!r} runs in real time or faster (speed > 0), not unthrottled."
            )
        super().__init__(recording, speed=speed, loop=True, chunk_ms=chunk_ms, name=name, spin_ms=spin_ms)
        self._emg = np.asarray(recording.emg[:], np.float32)
        labels = np.asarray(recording.labels)
        reps = np.zeros_like(labels) if recording.repetition is None else np.asarray(recording.repetition)
        change = np.flatnonzero((np.diff(labels) != 0) | (np.diff(reps) != 0)) + 1
        starts, stops = np.concatenate([[0], change]), np.concatenate([change, [len(labels)]])
        self._holds: dict[str, list[tuple[int, int]]] = {}
        for a, b in zip(starts.tolist(), stops.tolist()):
            if labels[a] >= 0:
                self._holds.setdefault(recording.label_names[labels[a]], []).append((a, b - a))
        if not self._holds:
            raise MyostreamError(f"Recording {recording.name!r} has no labelled samples to replay as cued holds.")
        self._played: dict[str, int] = {}
        self._lock = threading.Lock()
        self._cued: tuple[int, int] | None = None
        self._k_start = 0
        first = "rest" if "rest" in self._holds else next(iter(self._holds))
        self._hold = self._next_hold(first)

    @property
    def gestures(self) -> tuple[str, ...]:
        """The classes this replay can perform."""
        return tuple(self._holds)

    def set_gesture(self, class_id: str) -> None:
        """Perform ``class_id`` from the next block on (its next recorded hold). Thread-safe."""
        if class_id not in self._holds:
            raise MyostreamError(
                f"Recording {self.recording.name!r} holds no {class_id!r}; it can perform {', '.join(self._holds)}."
            )
        with self._lock:
            self._cued = self._next_hold(class_id)

    def open(self) -> None:
        super().open()
        with self._lock:
            self._k_start = 0

    def _next_hold(self, class_id: str) -> tuple[int, int]:
        holds = self._holds[class_id]
        n = self._played.get(class_id, 0)
        self._played[class_id] = n + 1
        return holds[n % len(holds)]

    def _build(self, k0: int, n: int) -> Chunk:
        if n == 0:
            return Chunk.empty(self.info.n_channels, with_labels=True)
        with self._lock:
            if self._cued is not None and k0 >= self._k_start:
                self._k_start, self._hold, self._cued = k0, self._cued, None
            k_start, (a, length) = self._k_start, self._hold
        idx = a + (np.arange(k0, k0 + n) - k_start) % length
        data = self._emg[idx]
        rec = self.recording
        check_finite(data, f"Recording {rec.source or rec.name!r} (from {a / rec.rate:.2f} s)")
        stamps = self.t0 + np.arange(k0, k0 + n, dtype=np.float64) / (rec.rate * self.speed)
        return Chunk(data, stamps, rec.labels[idx].astype(np.int16))
