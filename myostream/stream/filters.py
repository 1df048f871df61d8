"""Causal, stateful IIR filtering: the same output whether a signal arrives at once or in chunks.

Each stage is a chain of second-order sections (high-pass or band-pass Butterworth, mains
notches with harmonics, optional rectification + low-pass envelope) with a per-channel
state ``zi`` carried from chunk to chunk. Edges at or above Nyquist are clipped (a
band-pass whose upper edge does not fit becomes a high-pass) rather than rejected,
because one profile serves devices with different rates.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from myostream.errors import MyostreamError
from myostream.preprocess import FilterSpec
from myostream.stream.devices import DeviceProfile

try:  # scipy's C kernel without sosfilt's per-call validation: ~12x cheaper on 10-sample chunks
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_kernel
except ImportError:  # pragma: no cover - a future scipy may move it; the public path is equal
    _sosfilt_kernel = None

#: Edges above this fraction of Nyquist are dropped (a Butterworth edge there is meaningless).
_MAX_EDGE = 0.95


def design_sos(rate: float, spec: FilterSpec) -> np.ndarray:
    """Second-order sections of the band-pass/high-pass + notch part of ``spec`` (no envelope)."""
    nyq = rate / 2.0
    sections: list[np.ndarray] = []
    low = spec.highpass if spec.highpass and spec.highpass > 0 else None
    high = spec.lowpass if spec.lowpass and spec.lowpass < _MAX_EDGE * nyq else None
    if low is not None and low >= _MAX_EDGE * nyq:
        raise MyostreamError(
            f"High-pass edge {low} Hz is at or above Nyquist ({nyq} Hz) for a {rate} Hz stream; lower it."
        )
    if low and high:
        if low >= high:
            raise MyostreamError(f"Band-pass edges {low}-{high} Hz are inverted; the high-pass edge must be lower.")
        sections.append(signal.butter(spec.order, [low, high], btype="bandpass", fs=rate, output="sos"))
    elif low:
        sections.append(signal.butter(spec.order, low, btype="highpass", fs=rate, output="sos"))
    elif high:
        sections.append(signal.butter(spec.order, high, btype="lowpass", fs=rate, output="sos"))
    if spec.notch:
        for k in range(1, max(1, spec.harmonics) + 1):
            f0 = spec.notch * k
            if f0 >= _MAX_EDGE * nyq:
                break
            b, a = signal.iirnotch(f0, spec.notch_q, fs=rate)
            sections.append(signal.tf2sos(b, a))
    if not sections:
        return np.zeros((0, 6))
    return np.concatenate(sections, axis=0)


def _sosfilt_channels_first(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """Filter ``x`` float64[C, n] (C-contiguous, overwritten) along time; ``zi`` [C, sections, 2] is updated."""
    if _sosfilt_kernel is not None:
        _sosfilt_kernel(sos, x, zi)
        return x
    y, zf = signal.sosfilt(sos, x, axis=-1, zi=zi.transpose(1, 0, 2))
    zi[...] = zf.transpose(1, 0, 2)
    return y


def _steady_state(sos: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Initial state [C, sections, 2] as if each channel had been at its first value forever."""
    return np.ascontiguousarray(signal.sosfilt_zi(sos)[None, :, :] * first[:, None, None])


class FilterStage:
    """Filters ``float32[n, C]`` chunks causally; state persists between calls."""

    def __init__(self, rate: float, n_channels: int, spec: FilterSpec | None = None) -> None:
        self.rate = float(rate)
        self.n_channels = int(n_channels)
        self.spec = spec or FilterSpec()
        self.sos = np.ascontiguousarray(design_sos(self.rate, self.spec), dtype=np.float64)
        self.envelope_sos = (
            signal.butter(
                2, min(self.spec.envelope, _MAX_EDGE * self.rate / 2), btype="lowpass", fs=self.rate, output="sos"
            )
            if self.spec.envelope
            else None
        )
        self._zi: np.ndarray | None = None
        self._env_zi: np.ndarray | None = None

    @classmethod
    def from_profile(cls, profile: DeviceProfile, rate: float | None = None) -> FilterStage:
        return cls(rate or profile.rate, profile.n_channels, profile.filter)

    @property
    def is_identity(self) -> bool:
        return len(self.sos) == 0 and self.envelope_sos is None

    def reset(self) -> None:
        """Forget the state (after a gap in the stream the old state no longer applies)."""
        self._zi = None
        self._env_zi = None

    def process(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.n_channels:
            raise MyostreamError(
                f"The filter was built for {self.n_channels} channels but got a chunk of shape {x.shape}."
            )
        if len(x) == 0 or self.is_identity:
            return x.astype(np.float32, copy=False)
        # Channels-first float64 for the kernel; one copy in, one out per chunk.
        y = np.ascontiguousarray(x.T, dtype=np.float64)
        if len(self.sos):
            if self._zi is None:
                # Start in steady state for the first sample, so a DC offset (e.g. raw Myo
                # counts) does not ring through the high-pass at start-up.
                self._zi = _steady_state(self.sos, y[:, 0])
            y = _sosfilt_channels_first(self.sos, y, self._zi)
        if self.envelope_sos is not None:
            np.abs(y, out=y)
            if self._env_zi is None:
                self._env_zi = _steady_state(self.envelope_sos, y[:, 0])
            y = _sosfilt_channels_first(self.envelope_sos, y, self._env_zi)
        return np.ascontiguousarray(y.T, dtype=np.float32)
