"""The built-in simulated armband: surface EMG from virtual forearm muscles.

Twelve forearm muscles sit at angles (and depths) around the forearm; a ring of
electrodes sees each through a spatial weight that falls off with angular distance,
more broadly and more weakly for deep muscles. A gesture is an activation level per
muscle, reached and left through smooth 150-300 ms ramps, and effort drifts slowly
within a hold. Each muscle's signal is band-limited Gaussian noise whose
amplitude follows its activation (signal-dependent noise, like the sum of many motor-unit
action potentials), shaped by a MUAP-like filter whose power lies mostly in 20-250 Hz
(the classic sEMG spectrum model of Shwedyk et al.). Electrodes add amplifier noise and,
optionally, mains hum. Values are in mV: tens of µV at rest, up to about 1 mV in a
strong contraction.

``seed`` and ``user`` give a person's anatomy (armband rotation, channel gains, muscle
strengths and spreads, their own way of doing each gesture); ``session`` adds the small
drift of putting the band on again (rotation, gain, impedance, hum). Everything is a
function of the sample count, never of the wall clock, so one set of constructor
arguments gives the same samples read live, offline, or in any chunk size.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal

from myostream.errors import MyostreamError
from myostream.records import Chunk, StreamInfo, default_channel_names
from myostream.stream.lslconfig import pylsl_module

ARMBAND_GESTURES = (
    "fist",
    "open_hand",
    "wrist_flexion",
    "wrist_extension",
    "radial_deviation",
    "ulnar_deviation",
    "pinch",
    "point",
)
SCHEDULES = ("cycle", "random", "manual")


@dataclass(frozen=True)
class Muscle:
    """A virtual muscle: where it lies under the armband and how strong its EMG is.

    ``angle`` in degrees around the forearm from the dorsal midline (palm down), positive
    toward the thumb; ``depth`` from 0 (superficial) to 1 (deep); ``strength`` the mV RMS
    an electrode right above it sees at full activation.
    """

    name: str
    angle: float
    depth: float
    strength: float


#: Cross-section of a right forearm at the proximal third, where armbands sit.
FOREARM_MUSCLES: tuple[Muscle, ...] = (
    Muscle("extensor_digitorum", 0.0, 0.0, 0.9),
    Muscle("abductor_pollicis_longus", 30.0, 0.7, 0.6),
    Muscle("extensor_carpi_radialis", 55.0, 0.0, 1.0),
    Muscle("brachioradialis", 95.0, 0.0, 0.8),
    Muscle("pronator_teres", 125.0, 0.3, 0.7),
    Muscle("flexor_pollicis_longus", 140.0, 0.8, 0.6),
    Muscle("flexor_carpi_radialis", 155.0, 0.0, 0.9),
    Muscle("flexor_digitorum_superficialis", 180.0, 0.4, 1.0),
    Muscle("flexor_digitorum_profundus", -150.0, 0.7, 0.9),
    Muscle("flexor_carpi_ulnaris", -115.0, 0.0, 1.0),
    Muscle("extensor_carpi_ulnaris", -55.0, 0.0, 0.8),
    Muscle("extensor_indicis", -20.0, 0.8, 0.5),
)

#: Activation (0..1) per muscle for each armband gesture; muscles not listed co-activate
#: at :data:`CO_ACTIVATION`.
GESTURE_PATTERNS: dict[str, dict[str, float]] = {
    "fist": {
        "flexor_digitorum_superficialis": 0.9,
        "flexor_digitorum_profundus": 0.9,
        "flexor_pollicis_longus": 0.6,
        "flexor_carpi_radialis": 0.4,
        "flexor_carpi_ulnaris": 0.4,
        "extensor_carpi_radialis": 0.5,
        "extensor_carpi_ulnaris": 0.4,
        "extensor_digitorum": 0.3,
        "brachioradialis": 0.2,
        "abductor_pollicis_longus": 0.2,
    },
    "open_hand": {
        "extensor_digitorum": 0.85,
        "extensor_indicis": 0.6,
        "abductor_pollicis_longus": 0.5,
        "extensor_carpi_radialis": 0.3,
        "extensor_carpi_ulnaris": 0.3,
    },
    "wrist_flexion": {
        "flexor_carpi_radialis": 0.8,
        "flexor_carpi_ulnaris": 0.8,
        "flexor_digitorum_superficialis": 0.4,
        "flexor_digitorum_profundus": 0.2,
        "pronator_teres": 0.15,
    },
    "wrist_extension": {
        "extensor_carpi_radialis": 0.85,
        "extensor_carpi_ulnaris": 0.7,
        "extensor_digitorum": 0.5,
        "extensor_indicis": 0.2,
        "brachioradialis": 0.15,
    },
    "radial_deviation": {
        "extensor_carpi_radialis": 0.8,
        "flexor_carpi_radialis": 0.6,
        "abductor_pollicis_longus": 0.6,
        "brachioradialis": 0.35,
        "flexor_pollicis_longus": 0.2,
    },
    "ulnar_deviation": {
        "extensor_carpi_ulnaris": 0.85,
        "flexor_carpi_ulnaris": 0.8,
        "flexor_digitorum_profundus": 0.1,
    },
    "pinch": {
        "flexor_pollicis_longus": 0.75,
        "flexor_digitorum_profundus": 0.5,
        "flexor_digitorum_superficialis": 0.4,
        "abductor_pollicis_longus": 0.3,
        "flexor_carpi_radialis": 0.2,
        "extensor_digitorum": 0.15,
    },
    "point": {
        "extensor_indicis": 0.8,
        "flexor_digitorum_superficialis": 0.55,
        "flexor_digitorum_profundus": 0.45,
        "extensor_digitorum": 0.35,
        "flexor_pollicis_longus": 0.3,
        "flexor_carpi_ulnaris": 0.15,
    },
}
CO_ACTIVATION = 0.03
#: Resting muscle tone: what keeps a relaxed forearm at tens of µV rather than silent.
REST_TONE = 0.02


def gesture_pattern(class_id: str) -> np.ndarray:
    """Activation per muscle of :data:`FOREARM_MUSCLES` for a gesture.

    Class ids without a physiological pattern get a fixed pseudo-random one (three
    leading muscles), derived from the id itself so it is the same in every process.
    """
    names = [m.name for m in FOREARM_MUSCLES]
    if class_id in GESTURE_PATTERNS:
        levels = np.full(len(names), CO_ACTIVATION)
        for name, level in GESTURE_PATTERNS[class_id].items():
            levels[names.index(name)] = level
        return levels
    rng = np.random.default_rng(zlib.crc32(class_id.encode("utf-8")))
    levels = rng.uniform(0.0, 0.1, len(names))
    levels[rng.choice(len(names), 3, replace=False)] = rng.uniform(0.4, 0.9, 3)
    return levels


# Independent random streams of one simulated person and session.
_USER, _SESSION, _NOISE, _SEGMENT, _ORDER, _DRIFT = range(6)
# Effort is never perfectly steady: it wanders by about 8 % between random levels 0.4 s apart.
_DRIFT_RMS = 0.08
_DRIFT_KNOT_S = 0.4
_KNOTS_PER_BLOCK = 256


@dataclass(frozen=True)
class _Body:
    """Everything fixed for one user and session: mixing, gains, patterns, noise, filters."""

    mixing: np.ndarray  # [muscles, channels] spatial weight x muscle strength, mV
    patterns: np.ndarray  # [classes, muscles] activation per class (row 0 = rest)
    amp_noise: np.ndarray  # [channels] amplifier noise, mV RMS
    hum_mixing: np.ndarray  # [4, channels] mV of sin/cos of the mains and its 3rd harmonic
    muap_sos: np.ndarray  # MUAP-like spectral shape, unit power gain


def _angle_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * (a[:, None] - b[None, :])))


def _unit_power(sos: np.ndarray, rate: float, slowest_hz: float) -> np.ndarray:
    """Scale a filter so unit-variance white noise leaves it with unit variance."""
    impulse = np.zeros(min(int(rate * 20.0 / slowest_hz) + 64, 400_000))
    impulse[0] = 1.0
    h = signal.sosfilt(sos, impulse)
    out = sos.copy()
    out[0, :3] /= np.sqrt(np.sum(h * h))
    return out


def _muap_filter(rate: float, low_hz: float, high_hz: float) -> np.ndarray:
    """Shwedyk's sEMG spectrum as a filter: H(s) = s wh^2 / ((s + wl)(s + wh)^2)."""
    wl, wh = 2 * np.pi * low_hz, 2 * np.pi * high_hz
    z, p, k = signal.bilinear_zpk([0.0], [-wl, -wh, -wh], wh**2, rate)
    return _unit_power(signal.zpk2sos(z, p, k), rate, low_hz)


def _make_body(
    rate: float, n_channels: int, seed: int, user: int, session: int, gestures: tuple[str, ...], hum: float | None
) -> _Body:
    person = np.random.default_rng([seed, user, _USER])
    visit = np.random.default_rng([seed, user, session, _SESSION])
    muscles = FOREARM_MUSCLES
    n_m = len(muscles)

    # Where the band sits: rotated by up to half a channel per person, a little more
    # each time it is put on again.
    rotation = person.uniform(-0.5, 0.5) + visit.normal(0.0, 0.06)
    electrodes = 2 * np.pi * (np.arange(n_channels) + rotation) / n_channels

    # Anatomy: muscle positions, how broadly the fat layer spreads their fields, strength.
    angles = np.deg2rad([m.angle for m in muscles]) + person.normal(0.0, np.deg2rad(6.0), n_m)
    depth = np.array([m.depth for m in muscles])
    spread = np.exp(person.normal(0.0, 0.15))
    kappa = 3.5 * (1.0 - 0.6 * depth) / spread
    strength = np.array([m.strength for m in muscles]) * np.exp(person.normal(0.0, 0.2, n_m))
    strength *= np.exp(person.normal(0.0, 0.25)) * np.exp(-1.2 * depth)
    weights = np.exp(kappa[:, None] * (np.cos(_angle_diff(angles, electrodes)) - 1.0))
    gains = np.exp(person.normal(0.0, 0.15, n_channels) + visit.normal(0.0, 0.05, n_channels))
    mixing = strength[:, None] * weights * gains[None, :]

    # Each person does each gesture their own way: scaled and shifted muscle levels.
    patterns = [np.full(n_m, REST_TONE)]
    for g in gestures:
        levels = gesture_pattern(g) * np.exp(person.normal(0.0, 0.15, n_m)) + person.normal(0.0, 0.03, n_m)
        patterns.append(np.clip(levels, 0.0, 1.0))

    impedance = np.exp(person.normal(0.0, 0.2, n_channels) + visit.normal(0.0, 0.2, n_channels))
    amp_noise = 0.004 * impedance
    # Mains couples in through the electrode impedance, with its 3rd harmonic where the rate allows.
    hum_amp = 0.012 * impedance * np.exp(visit.normal(0.0, 0.3, n_channels))
    hum_phase = visit.uniform(0.0, 2 * np.pi, n_channels)
    third = 0.3 if hum is not None and 3 * hum < rate / 2 else 0.0
    hum_mixing = np.stack(
        [np.cos(hum_phase), np.sin(hum_phase), third * np.cos(3 * hum_phase), third * np.sin(3 * hum_phase)]
    ) * (hum_amp if hum is not None else 0.0)

    # Conduction velocity and tissue filtering shift the spectrum a little per person.
    shift = np.exp(person.normal(0.0, 0.08))
    muap = _muap_filter(rate, 50.0 * shift, 150.0 * shift)
    return _Body(mixing, np.array(patterns), amp_noise, hum_mixing, muap)


@dataclass
class _Segment:
    """One cue of the schedule: from ``start`` on, activation moves from ``origin`` to
    ``target`` along a smoothstep of ``ramp`` samples; ``stop`` is None while open-ended."""

    index: int
    start: int
    stop: int | None
    label: int
    origin: np.ndarray
    target: np.ndarray
    ramp: int

    def activation(self, k: np.ndarray) -> np.ndarray:
        u = np.clip((k - self.start) / self.ramp, 0.0, 1.0)
        return self.origin + np.outer(u * u * (3.0 - 2.0 * u), self.target - self.origin)


def _check_int(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise MyostreamError(f"The simulated armband's {what} is {value!r}; give an integer >= {minimum}.")
    return int(value)


def _check_positive(value: object, what: str) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = float("nan")
    if not (np.isfinite(v) and v > 0):
        raise MyostreamError(f"The simulated armband's {what} is {value!r}; give a positive number.")
    return v


def _check_gestures(gestures: object) -> tuple[str, ...]:
    if isinstance(gestures, str) or not isinstance(gestures, Sequence) or len(gestures) == 0:
        raise MyostreamError(
            f"The simulated armband's gestures are {gestures!r}; give a non-empty sequence of class ids "
            f"such as {ARMBAND_GESTURES[:3]}."
        )
    for g in gestures:
        if not isinstance(g, str) or not g or g == "rest":
            raise MyostreamError(
                f"The simulated armband's gesture {g!r} is not a usable class id; give non-empty strings other "
                "than 'rest' (rest is always class 0)."
            )
    if len(set(gestures)) != len(gestures):
        dup = sorted({g for g in gestures if gestures.count(g) > 1})
        raise MyostreamError(f"The simulated armband's gestures repeat {dup}; list each class id once.")
    return tuple(gestures)


class SimulatedArmband:
    """A simulated EMG armband (a :class:`~myostream.records.Source`) with true labels.

    ``schedule`` "cycle" cues rest, gesture 1, rest, gesture 2, ... (``rest_s``, then
    ``hold_s`` each); "random" shuffles the gesture order every cycle; "manual" holds
    whatever :meth:`set_gesture` last asked for. With ``realtime=True`` samples become
    due as wall time passes since :meth:`open`, in packets of ``chunk_ms``; with
    ``realtime=False`` each :meth:`read` returns the next ``chunk_ms`` at once.
    ``hum`` is the mains frequency in Hz (``None``: no hum).
    """

    def __init__(
        self,
        rate: float = 1000.0,
        n_channels: int = 8,
        seed: int = 0,
        user: int = 0,
        session: int = 0,
        schedule: str = "cycle",
        gestures: Sequence[str] = ARMBAND_GESTURES,
        hold_s: float = 3.0,
        rest_s: float = 2.0,
        hum: float | None = 50.0,
        realtime: bool = True,
        chunk_ms: float = 20,
    ) -> None:
        self.rate = _check_positive(rate, "rate (Hz)")
        self.n_channels = _check_int(n_channels, "channel count", 1)
        self.seed = _check_int(seed, "seed", 0)
        self.user = _check_int(user, "user", 0)
        self.session = _check_int(session, "session", 0)
        if schedule not in SCHEDULES:
            raise MyostreamError(f"The simulated armband's schedule is {schedule!r}; use one of {SCHEDULES}.")
        self.schedule = schedule
        self.gestures = _check_gestures(gestures)
        self.hold_s = _check_positive(hold_s, "hold time hold_s (s)")
        self.rest_s = _check_positive(rest_s, "rest time rest_s (s)")
        if hum is not None:
            hum = _check_positive(hum, "mains hum frequency (Hz)")
            if hum >= self.rate / 2:
                raise MyostreamError(
                    f"The simulated armband's hum of {hum} Hz is not below half the rate ({self.rate} Hz); "
                    "use 50 or 60 Hz with a higher rate, or hum=None."
                )
        self.hum = hum
        self.realtime = bool(realtime)
        self.chunk_ms = _check_positive(chunk_ms, "chunk length chunk_ms (ms)")

        self._info = StreamInfo(
            name="simulated",
            rate=self.rate,
            channel_names=default_channel_names(self.n_channels),
            unit="mV",
            source_id=f"myostream-simulated-seed{self.seed}-user{self.user}-session{self.session}",
            kind="EMG",
            label_names=("rest", *self.gestures),
        )
        self._body = _make_body(self.rate, self.n_channels, self.seed, self.user, self.session, self.gestures, hum)
        self._chunk_n = max(1, round(self.chunk_ms * self.rate / 1000.0))
        self._hold_n = max(1, round(self.hold_s * self.rate))
        self._rest_n = max(1, round(self.rest_s * self.rate))
        self._knot_n = max(1, round(_DRIFT_KNOT_S * self.rate))
        self._knot_cache: dict[int, np.ndarray] = {}
        # Per sample: common noise per muscle, each channel's own share of it, amplifier noise.
        self._n_noise = len(FOREARM_MUSCLES) + 2 * self.n_channels
        self._lock = threading.Lock()
        self._pending: int | None = None
        self._opened = False
        self._t0 = 0.0
        self._reset()

    @property
    def info(self) -> StreamInfo:
        return self._info

    @property
    def current_gesture(self) -> str:
        """Class id being performed: the one asked for last (manual) or of the last sample produced."""
        with self._lock:
            label = self._pending if self._pending is not None else self._last_label
            return self._info.label_names[label]

    def set_gesture(self, class_id: str) -> None:
        """Cue a gesture (``schedule="manual"``); it starts at the next sample produced. Thread-safe."""
        if self.schedule != "manual":
            raise MyostreamError(
                f"set_gesture needs schedule='manual'; this simulated armband runs the {self.schedule!r} schedule."
            )
        names = self._info.label_names
        if class_id not in names:
            raise MyostreamError(f"Unknown gesture {class_id!r} for the simulated armband; use one of {names}.")
        with self._lock:
            self._pending = names.index(class_id)

    def set_schedule(self, schedule: str) -> None:
        """Switch between following :meth:`set_gesture` (``"manual"``) and a schedule of its own, from
        the next sample produced: a calibration cues a simulated person who was running a schedule,
        then lets them go on with it. Thread-safe."""
        if schedule not in SCHEDULES:
            raise MyostreamError(f"The simulated armband's schedule is {schedule!r}; use one of {SCHEDULES}.")
        with self._lock:
            if schedule != self.schedule:
                self.schedule = schedule
                self._switch = True

    def open(self) -> None:
        """Start the signal from its first sample; timestamps count from the LSL clock now."""
        with self._lock:
            self._reset()
            self._t0 = pylsl_module().local_clock()
            self._opened = True

    def close(self) -> None:
        self._opened = False

    def read(self, timeout: float = 0.0) -> Chunk:
        """Samples due now (realtime) or the next ``chunk_ms`` (offline); waits at most ``timeout``."""
        if not self._opened:
            raise MyostreamError("The simulated armband is not open; call open() (or use opened(source)) first.")
        if not self.realtime:
            return self._produce(self._chunk_n)
        due = self._due()
        if due == 0 and timeout > 0:
            next_packet = (self._n_done // self._chunk_n + 1) * self._chunk_n
            wait = self._t0 + next_packet / self.rate - pylsl_module().local_clock()
            time.sleep(max(0.0, min(timeout, wait)))
            due = self._due()
        return self._produce(due)

    def generate(self, seconds: float) -> Chunk:
        """The next ``seconds`` of signal at once, for offline use (training data, tests).

        Continues where the last read or generate stopped; timestamps count from
        :meth:`open` (from 0 on a source never opened).
        """
        n = round(_check_positive(seconds, "duration to generate (s)") * self.rate)
        return self._produce(n)

    def _due(self) -> int:
        elapsed = pylsl_module().local_clock() - self._t0
        packets = int(elapsed * self.rate) // self._chunk_n
        return max(0, packets * self._chunk_n - self._n_done)

    def _reset(self) -> None:
        n_c = self.n_channels
        self._rng = np.random.default_rng([self.seed, self.user, self.session, _NOISE])
        self._muap_zi = np.zeros((len(self._body.muap_sos), 2, n_c))
        rest = self._body.patterns[0]
        first_stop = None if self.schedule == "manual" else self._rest_n
        self._segment = _Segment(0, 0, first_stop, 0, rest, rest, 1)
        self._order: tuple[int, np.ndarray] | None = None
        self._n_done = 0
        self._last_label = 0
        self._switch = False

    def _produce(self, n: int) -> Chunk:
        with self._lock:
            k0 = self._n_done
            if self._switch:
                self._switch = False
                self._follow_schedule(k0)
            if self._pending is not None:
                self._cue(self._pending, k0)
                self._pending = None
            data, labels = self._synthesize(k0, n)
            self._n_done = k0 + n
            if n:
                self._last_label = int(labels[-1])
        timestamps = self._t0 + np.arange(k0, k0 + n) / self.rate
        return Chunk(data, timestamps, labels)

    def _synthesize(self, k0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        body, n_m, n_c = self._body, len(FOREARM_MUSCLES), self.n_channels
        labels, activation = self._schedule_block(k0, n)
        # One draw per block, sample-major, so any chunking consumes the same random stream.
        z = self._rng.standard_normal((n, self._n_noise), dtype=np.float32)
        common, own, amp = z[:, :n_m], z[:, n_m : n_m + n_c], z[:, n_m + n_c :]
        activation *= np.maximum(1.0 + self._drift(k0, n), 0.0)

        # A muscle's field is partly shared by neighbouring electrodes (crosstalk) and partly
        # each electrode's own motor units: mix half the power of each.
        drive = (activation * common) @ (np.sqrt(0.5) * body.mixing)
        drive += np.sqrt(0.5 * (activation**2 @ body.mixing**2)) * own
        emg, self._muap_zi = signal.sosfilt(body.muap_sos, drive, axis=0, zi=self._muap_zi)
        emg += amp * body.amp_noise
        if self.hum is not None:
            # sin(wt + phi) = sin(wt) cos(phi) + cos(wt) sin(phi): n sines instead of n x channels.
            phase = 2 * np.pi * ((np.arange(k0, k0 + n) * (self.hum / self.rate)) % 1.0)
            basis = np.stack([np.sin(phase), np.cos(phase), np.sin(3 * phase), np.cos(3 * phase)], axis=1)
            emg += basis @ body.hum_mixing
        return emg.astype(np.float32), labels

    def _drift(self, k0: int, n: int) -> np.ndarray:
        """Relative effort drift per muscle: random knots every 0.4 s, smoothly joined.

        A pure function of the sample index (no filter state), so it costs no random
        draws per sample and is the same for any chunking.
        """
        t = np.arange(k0, k0 + n) / self._knot_n
        j = np.floor(t).astype(np.int64)
        u = t - j
        first = int(j[0]) if n else 0
        knots = self._knots(first, (int(j[-1]) if n else first) + 1)
        left, right = knots[j - first], knots[j - first + 1]
        return left + (right - left) * (u * u * (3.0 - 2.0 * u))[:, None]

    def _knots(self, first: int, last: int) -> np.ndarray:
        blocks = range(first // _KNOTS_PER_BLOCK, last // _KNOTS_PER_BLOCK + 1)
        # Keep only the blocks this call needs: the stream moves forward, so older ones are
        # done with (evicting while filling would drop a block this call still needs).
        for stale in [b for b in self._knot_cache if b not in blocks]:
            del self._knot_cache[stale]
        for b in blocks:
            if b not in self._knot_cache:
                rng = np.random.default_rng([self.seed, self.user, self.session, _DRIFT, b])
                self._knot_cache[b] = _DRIFT_RMS * rng.standard_normal((_KNOTS_PER_BLOCK, len(FOREARM_MUSCLES)))
        knots = np.concatenate([self._knot_cache[b] for b in blocks])
        offset = blocks[0] * _KNOTS_PER_BLOCK
        return knots[first - offset : last - offset + 1]

    def _schedule_block(self, k0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.empty(n, np.int16)
        activation = np.empty((n, len(FOREARM_MUSCLES)))
        pos = 0
        while pos < n:
            seg = self._segment
            if seg.stop is not None and k0 + pos >= seg.stop:
                self._segment = self._next_segment(seg)
                continue
            end = n if seg.stop is None else min(n, seg.stop - k0)
            labels[pos:end] = seg.label
            activation[pos:end] = seg.activation(np.arange(k0 + pos, k0 + end))
            pos = end
        return labels, activation

    def _segment_for(self, index: int, start: int, stop: int | None, label: int, origin: np.ndarray) -> _Segment:
        # Each cue is performed a little differently: its own ramp and effort.
        rng = np.random.default_rng([self.seed, self.user, self.session, _SEGMENT, index])
        ramp = max(1, round(rng.uniform(0.15, 0.30) * self.rate))
        target = self._body.patterns[label]
        if label != 0:
            target = np.clip(target * rng.uniform(0.85, 1.15), 0.0, 1.0)
        return _Segment(index, start, stop, label, origin, target, ramp)

    def _next_segment(self, seg: _Segment) -> _Segment:
        assert seg.stop is not None
        index = seg.index + 1
        period = self._rest_n + self._hold_n
        rep, is_hold = divmod(index, 2)
        start = rep * period + (self._rest_n if is_hold else 0)
        stop = start + (self._hold_n if is_hold else self._rest_n)
        label = self._gesture_of(rep) if is_hold else 0
        return self._segment_for(index, start, stop, label, seg.activation(np.array([seg.stop]))[0])

    def _gesture_of(self, rep: int) -> int:
        cycle, slot = divmod(rep, len(self.gestures))
        if self.schedule == "cycle":
            return 1 + slot
        if self._order is None or self._order[0] != cycle:
            rng = np.random.default_rng([self.seed, self.user, self.session, _ORDER, cycle])
            self._order = (cycle, rng.permutation(len(self.gestures)))
        return 1 + int(self._order[1][slot])

    def _follow_schedule(self, k: int) -> None:
        """From sample ``k`` on: hold the current gesture until cued (manual), or join the schedule's
        segment that holds ``k``, ramping there from the current activation."""
        seg = self._segment
        origin = seg.activation(np.array([k]))[0]
        if self.schedule == "manual":
            self._segment = _Segment(seg.index + 1, k, None, seg.label, origin, origin, 1)
            return
        period = self._rest_n + self._hold_n
        rep, offset = divmod(k, period)
        is_hold = offset >= self._rest_n
        stop = rep * period + (period if is_hold else self._rest_n)
        label = self._gesture_of(rep) if is_hold else 0
        self._segment = self._segment_for(2 * rep + is_hold, k, stop, label, origin)

    def _cue(self, label: int, k: int) -> None:
        seg = self._segment
        if label != seg.label:
            origin = seg.activation(np.array([k]))[0]
            self._segment = self._segment_for(seg.index + 1, k, None, label, origin)
