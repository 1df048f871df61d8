"""Calibration protocols, their trial schedule, cue-driven labelling and signal checks.

A protocol (``calibration/*.toml``) lists gestures by class id, how often and how long
each is held, the rest between holds and the order. :func:`trial_schedule` turns it
into timed :class:`Trial` s; :class:`CalibrationRun` walks through them in real time
(with pause, redo and abort) and emits :class:`CueEvent` s; :func:`labels_from_cues`
turns the cue events into per-sample labels. Everything here is pure logic (no Qt, no
files besides the protocol), so the recorder app, the session files and the tests
share one definition of what a cue means.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import numpy as np
from annotated_types import MinLen

from myostream.errors import MyostreamError
from myostream.records import CueEvent
from myostream.resources import resource_dir
from myostream.schema import Count, NonNegativeNumber, PositiveNumber, Table, Text, Whole, read_toml, validate
from myostream.text.catalog import Catalog, load_catalogs

Order = Literal["blocked", "interleaved", "random"]
ORDERS: tuple[Order, ...] = get_args(Order)
REST = "rest"
#: Fastest cue timing a recording may run at (demos, tests); faster leaves holds too short to record.
MAX_SPEED = 20.0


@dataclass(frozen=True)
class Cue:
    """What the participant is shown: a short label, a description of the gesture (the
    catalog's canonical one when known) and the protocol's own instruction, if any."""

    label: str
    text: str
    instruction: str = ""


@dataclass(frozen=True)
class Protocol:
    """One calibration protocol. Times in seconds; ``order`` is one of :data:`ORDERS`."""

    name: str
    gestures: tuple[str, ...]
    repetitions: int
    hold_s: float
    rest_s: float
    lead_in_s: float = 3.0
    order: Order = "interleaved"
    seed: int = 0
    description: str = ""
    cues: dict[str, Cue] = field(default_factory=dict)
    path: Path | None = None

    @property
    def label_names(self) -> tuple[str, ...]:
        """Class ids of the session's labels: ``rest`` first (label 0), then the gestures."""
        return (REST, *(g for g in self.gestures if g != REST))

    @property
    def duration_s(self) -> float:
        return self.lead_in_s + len(self.gestures) * self.repetitions * (self.hold_s + self.rest_s)

    def at_speed(self, speed: float) -> Protocol:
        """The same protocol with every time divided by ``speed`` (for demos and tests, at most ``MAX_SPEED``)."""
        if not 0 < speed <= MAX_SPEED:
            raise MyostreamError(
                f"Calibration speed {speed!r} is out of range; use a factor above 0 and at most {MAX_SPEED:g} "
                "(1 = real time; faster cues leave holds too short to record)."
            )
        return dataclasses.replace(
            self, hold_s=self.hold_s / speed, rest_s=self.rest_s / speed, lead_in_s=self.lead_in_s / speed
        )

    def cue(self, gesture: str) -> Cue:
        """The gesture's cue: label and canonical description from the description catalogs
        when they know the class (with the protocol's text as the instruction), else the
        protocol's own cue."""
        known, own = catalog_cue(gesture), self.cues.get(gesture)
        if known is None:
            assert own is not None  # checked when the protocol was loaded
            return own
        return dataclasses.replace(known, instruction=own.text if own else "")


@dataclass(frozen=True)
class Trial:
    """One held repetition: hold ``gesture`` from ``start_s`` for ``hold_s``, then rest ``rest_s``."""

    gesture: str
    repetition: int
    start_s: float
    hold_s: float
    rest_s: float
    cue: Cue

    @property
    def end_s(self) -> float:
        return self.start_s + self.hold_s + self.rest_s


def catalog_cue(gesture: str) -> Cue | None:
    """Label (T0) and canonical description (T2) of a class from the description catalogs."""
    catalog = _catalogs()
    if gesture not in catalog:
        return None
    entry = catalog[gesture]
    return Cue(entry.t0[:1].upper() + entry.t0[1:], entry.t2)


@functools.cache
def _catalogs() -> Catalog:
    return load_catalogs()


def protocol_dir() -> Path:
    return resource_dir("calibration")


def list_protocols() -> list[str]:
    """Names of the shipped protocols."""
    return sorted(p.stem for p in protocol_dir().glob("*.toml"))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """Load a shipped protocol by name (``"quick"``) or any protocol ``.toml`` file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = protocol_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            raise MyostreamError(
                f"Unknown calibration protocol {str(name_or_path)!r}; choose one of "
                f"{', '.join(list_protocols())} or give a path to a protocol .toml."
            )
    return _protocol_from_dict(read_toml(path, "Calibration protocol"), path)


class CueTable(Table):
    label: str | None = None
    text: str = ""


class ProtocolFile(Table):
    """A calibration protocol file (see ``calibration/quick.toml``); unset keys keep :class:`Protocol`'s defaults."""

    name: str | None = None
    description: str | None = None
    gestures: Annotated[list[Text], MinLen(1)]
    repetitions: Count
    hold_s: PositiveNumber
    rest_s: NonNegativeNumber
    lead_in_s: NonNegativeNumber | None = None
    order: Order | None = None
    seed: Whole | None = None
    cues: dict[str, CueTable] = {}


def _protocol_from_dict(raw: dict[str, Any], path: Path) -> Protocol:
    where = f"Calibration protocol {str(path)!r}"
    file = validate(ProtocolFile, raw, where, example="calibration/quick.toml")
    gestures = file.gestures
    repeated = sorted({g for g in gestures if gestures.count(g) > 1})
    if repeated:
        raise MyostreamError(f"{where}: 'gestures' lists {repeated[0]!r} twice; list each class id once.")
    cues: dict[str, Cue] = {}
    for gesture, cue in file.cues.items():
        if gesture not in gestures:
            raise MyostreamError(
                f"{where}: 'cues.{gesture}' names a gesture that is not in 'gestures'; remove or add it."
            )
        cues[gesture] = Cue(cue.label if cue.label is not None else _pretty(gesture), cue.text)
    for gesture in gestures:
        if gesture not in cues:
            if catalog_cue(gesture) is None:
                raise MyostreamError(
                    f"{where}: gesture {gesture!r} has no 'cues.{gesture}' entry and no description catalog knows it; "
                    "add a cue text."
                )
    settings = file.given().keys() & {"description", "lead_in_s", "order", "seed"}
    return Protocol(
        name=file.name or path.stem,
        gestures=tuple(gestures),
        repetitions=file.repetitions,
        hold_s=file.hold_s,
        rest_s=file.rest_s,
        cues=cues,
        path=path,
        **{k: getattr(file, k) for k in settings},
    )


def _pretty(class_id: str) -> str:
    return class_id.replace("_", " ").capitalize()


def trial_schedule(protocol: Protocol, seed: int | None = None) -> list[Trial]:
    """The protocol's trials in order, timed from the start of the recording.

    ``blocked`` holds each gesture ``repetitions`` times in a row (NinaPro style);
    ``interleaved`` runs one round over all gestures per repetition; ``random`` shuffles
    every round with ``seed`` (default: the protocol's), so each repetition still holds
    every gesture once.
    """
    gestures, reps = protocol.gestures, protocol.repetitions
    if protocol.order == "blocked":
        order = [(g, r) for g in gestures for r in range(1, reps + 1)]
    elif protocol.order == "interleaved":
        order = [(g, r) for r in range(1, reps + 1) for g in gestures]
    else:
        rng = np.random.default_rng(protocol.seed if seed is None else seed)
        order = [(gestures[i], r) for r in range(1, reps + 1) for i in rng.permutation(len(gestures))]
    trials, t = [], protocol.lead_in_s
    for gesture, rep in order:
        trials.append(Trial(gesture, rep, t, protocol.hold_s, protocol.rest_s, protocol.cue(gesture)))
        t += protocol.hold_s + protocol.rest_s
    return trials


# ---------------------------------------------------------------------------- cue events


def labels_from_cues(
    timestamps: np.ndarray, events: Sequence[CueEvent], label_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample ``(labels int16, repetition int16)`` implied by the cue events.

    A sample is labelled with the gesture of the ``hold`` it falls in and rest (label 0,
    repetition 0) otherwise. Samples before ``start``, between ``pause`` and ``resume``,
    and of a hold that never completed (cut short by ``pause``, ``abort``, or discarded
    by a later ``redo``, up to that event) are unlabelled (-1, repetition 0): they
    would teach a model the wrong thing. Works on any suffix of a recording.
    """
    index = {name: i for i, name in enumerate(label_names)}
    times: list[float] = []
    values: list[tuple[int, int]] = []
    discards: list[tuple[float, float]] = []
    open_hold: float | None = None  # start time of the hold currently held
    last_hold: float | None = None  # start time of the most recent hold, completed or not

    def change(t: float, label: int, rep: int) -> None:
        times.append(t)
        values.append((label, rep))

    ts = np.asarray(timestamps, np.float64)
    ordered = sorted(events, key=lambda e: e.time)
    if len(ts):
        # Events before the last start/hold at or before the first sample cannot change
        # these samples' labels: skip them (the recorder labels each chunk as it arrives).
        first = float(ts.min())
        anchors = [i for i, e in enumerate(ordered) if e.kind in ("start", "hold") and e.time <= first]
        ordered = ordered[anchors[-1] :] if anchors else ordered
    for ev in ordered:
        if ev.kind == "hold":
            if ev.gesture not in index:
                raise MyostreamError(
                    f"Cue event at {ev.time:.3f} s holds {ev.gesture!r}, which is not a session label."
                )
            change(ev.time, index[ev.gesture], ev.repetition)
            open_hold = last_hold = ev.time
        elif ev.kind in ("start", "rest", "resume", "end"):
            change(ev.time, 0, 0)
            open_hold = None
        elif ev.kind in ("pause", "abort"):
            if open_hold is not None:
                discards.append((open_hold, ev.time))
            change(ev.time, -1, 0)
            open_hold = None
        elif ev.kind == "redo":
            if last_hold is not None:
                discards.append((last_hold, ev.time))
            change(ev.time, 0, 0)
            open_hold = last_hold = None

    table = np.array([(-1, 0), *values], np.int16)
    at = np.searchsorted(np.asarray(times, np.float64), ts, side="right")
    labels, repetition = table[at, 0].copy(), table[at, 1].copy()
    for t0, t1 in discards:
        inside = (ts >= t0) & (ts < t1)
        labels[inside], repetition[inside] = -1, 0
    return labels, repetition


# ------------------------------------------------------------------------ real-time run

PHASES = ("idle", "ready", "hold", "rest", "paused", "done")


@dataclass(frozen=True)
class RunState:
    """Where a run stands: ``phase`` (one of :data:`PHASES`), the trial it concerns
    (the one being held, or the next one while ready/resting), seconds left in the
    phase, and how many trials are complete."""

    phase: str
    trial: Trial | None
    remaining_s: float
    completed: int
    total: int
    aborted: bool = False


class CalibrationRun:
    """Steps through a trial schedule in real time; the caller supplies the clock.

    Call :meth:`start`, then :meth:`advance` regularly (e.g. every 20 ms) with the
    current time; every method returns the :class:`CueEvent` s that happened, which the
    recorder writes and uses to cue the participant (and a simulated armband).
    """

    def __init__(self, trials: Sequence[Trial], lead_in_s: float, ready_s: float | None = None) -> None:
        if not trials:
            raise MyostreamError("A calibration run needs at least one trial.")
        self.trials = list(trials)
        self.lead_in_s = lead_in_s
        #: get-ready time before a trial is repeated after pause or redo
        self.ready_s = ready_s if ready_s is not None else max(trials[0].rest_s, min(lead_in_s, 2.0))
        self._phase = "idle"
        self._index = 0  # trial being held, or the next one
        self._last_held: int | None = None  # trial whose hold started last (what redo repeats)
        self._phase_end = 0.0
        self._left = 0.0  # time left when paused
        self._paused_from = ""
        self._aborted = False

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def finished(self) -> bool:
        return self._phase == "done"

    def state(self, now: float) -> RunState:
        trial = self.trials[self._index] if self._index < len(self.trials) else None
        if self._phase == "paused":
            left = self._left
        elif self._phase in ("ready", "hold", "rest"):
            left = max(0.0, self._phase_end - now)
        else:
            left = 0.0
        done = self._index + (1 if self._phase == "rest" else 0)
        return RunState(self._phase, trial, left, min(done, len(self.trials)), len(self.trials), self._aborted)

    def start(self, now: float) -> list[CueEvent]:
        if self._phase != "idle":
            raise MyostreamError("This calibration run has already started.")
        self._enter("ready", now, self.lead_in_s)
        return [CueEvent(now, "start")]

    def advance(self, now: float) -> list[CueEvent]:
        """Move through every phase boundary up to ``now``; events are stamped ``now``,
        the moment the participant sees the new cue."""
        events: list[CueEvent] = []
        while self._phase in ("ready", "hold", "rest") and now >= self._phase_end:
            trial = self.trials[self._index]
            if self._phase == "ready":
                self._hold(now, trial, events)
            elif self._phase == "hold":
                self._enter("rest", now, trial.rest_s)
                events.append(CueEvent(now, "rest", trial.gesture, trial.repetition))
            else:
                self._index += 1
                if self._index == len(self.trials):
                    self._phase = "done"
                    events.append(CueEvent(now, "end"))
                else:
                    self._hold(now, self.trials[self._index], events)
        return events

    def pause(self, now: float) -> list[CueEvent]:
        if self._phase not in ("ready", "hold", "rest"):
            return []
        events = self.advance(now)
        if self._phase not in ("ready", "hold", "rest"):
            return events
        self._paused_from = self._phase
        self._left = max(0.0, self._phase_end - now)
        self._phase = "paused"
        return [*events, CueEvent(now, "pause")]

    def resume(self, now: float) -> list[CueEvent]:
        """Continue after a get-ready phase; a hold cut short by the pause is held again."""
        if self._phase != "paused":
            return []
        if self._paused_from == "rest":
            self._index += 1
            if self._index == len(self.trials):
                self._phase = "done"
                return [CueEvent(now, "resume"), CueEvent(now, "end")]
        self._enter("ready", now, self.ready_s)
        return [CueEvent(now, "resume")]

    @property
    def can_redo(self) -> bool:
        return self._phase in ("ready", "hold", "rest") and self._last_held is not None

    def redo(self, now: float) -> list[CueEvent]:
        """Discard the last hold (the current one, or the one just finished) and hold it again."""
        events = self.advance(now)
        if not self.can_redo:
            return events
        assert self._last_held is not None
        self._index, self._last_held = self._last_held, None
        trial = self.trials[self._index]
        self._enter("ready", now, self.ready_s)
        return [*events, CueEvent(now, "redo", trial.gesture, trial.repetition)]

    def abort(self, now: float) -> list[CueEvent]:
        if self._phase in ("idle", "done"):
            return []
        self._phase = "done"
        self._aborted = True
        return [CueEvent(now, "abort")]

    def _hold(self, now: float, trial: Trial, events: list[CueEvent]) -> None:
        self._enter("hold", now, trial.hold_s)
        self._last_held = self._index
        events.append(CueEvent(now, "hold", trial.gesture, trial.repetition))

    def _enter(self, phase: str, now: float, seconds: float) -> None:
        self._phase = phase
        self._phase_end = now + seconds


# ----------------------------------------------------------------------- signal checks

QUALITY = ("ok", "flat", "saturated", "mains", "noisy")


def channel_quality(data: np.ndarray, rate: float) -> list[str]:
    """A verdict per channel on the last second or so of raw signal, one of :data:`QUALITY`.

    - ``flat``: (almost) no variation — a lifted electrode, a dead channel.
    - ``saturated``: more than 1 % of samples sit exactly at the channel's extremes
      (clipping at the amplifier's or converter's range).
    - ``mains``: over three quarters of the power lie within 2 Hz of 50/60 Hz and harmonics
      (poor skin contact picks up the mains).
    - ``noisy``: more than half the power lies below 10 Hz, where surface EMG has almost
      none: movement artefacts, cable sway, a loose electrode.
    """
    x = np.asarray(data, np.float64)
    n, n_ch = x.shape
    if n < 8:
        return ["ok"] * n_ch
    centred = x - x.mean(axis=0)
    rms = np.sqrt(np.mean(centred**2, axis=0))
    typical = float(np.median(rms))
    hi, lo = x.max(axis=0), x.min(axis=0)
    at_edge = (np.sum(x >= hi, axis=0) + np.sum(x <= lo, axis=0)) / n
    power, freqs = _spectrum(centred, rate)
    total = power.sum(axis=0) + 1e-30
    mains = np.zeros(n_ch)
    for f0 in (50.0, 60.0):
        harmonics = np.arange(f0, rate / 2, f0)
        if len(harmonics):
            near = np.any(np.abs(freqs[:, None] - harmonics[None, :]) <= 2.0, axis=1)
            mains = np.maximum(mains, power[near].sum(axis=0) / total)
    slow = power[freqs < 10.0].sum(axis=0) / total
    verdict = []
    for c in range(n_ch):
        if rms[c] <= 1e-9 * max(1.0, abs(hi[c]), abs(lo[c])) or rms[c] < 1e-3 * typical:
            verdict.append("flat")
        elif at_edge[c] > 0.01:
            verdict.append("saturated")
        elif mains[c] > 0.75:
            verdict.append("mains")
        elif slow[c] > 0.5:
            verdict.append("noisy")
        else:
            verdict.append("ok")
    return verdict


def _spectrum(centred: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Power per frequency bin (Hann window), DC bin dropped, and the bin frequencies."""
    n = len(centred)
    power = np.abs(np.fft.rfft(centred * np.hanning(n)[:, None], axis=0)) ** 2
    return power[1:], np.fft.rfftfreq(n, 1.0 / rate)[1:]
