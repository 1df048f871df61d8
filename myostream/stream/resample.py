"""Causal, stateful polyphase resampling: the same output whether a signal arrives at once or in chunks.

The two rates' ratio becomes up/down factors ``L/M`` (:class:`fractions.Fraction`). The
anti-aliasing low-pass is scipy's ``resample_poly`` design (:func:`design_taps`): ``firwin``
with a Kaiser window, cut-off at the lower of the two Nyquist frequencies,
``2 * half_width * max(L, M) + 1`` taps. It runs causally: output ``m`` is the filtered,
``L``-fold upsampled signal at upsampled index ``m * M``, computed as soon as input sample
``floor(m * M / L)`` has arrived, from the ``K = ceil(taps / L)`` inputs up to it (one
polyphase branch). Those last ``K - 1`` inputs are the only state, so chunking never
changes the output. The first input is taken as held since forever (steady state), as the
IIR filters do.

The filter is linear-phase: every frequency is delayed by the same
``delay_s = half_width / min(rate_in, rate_out)`` (50 ms at 200 Hz with the default
``half_width = 10``). :meth:`Resampler.process_chunk` stamps each output sample with the
input-clock time of the content it carries (its grid time minus ``delay_s``, interpolated
between the input timestamps) and the label of the input sample at or just before that
time, so windows downstream keep their true class.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy import signal

from myostream.errors import MyostreamError
from myostream.records import UNKNOWN_LABEL, Chunk, check_finite

#: Largest up or down factor accepted: beyond it the ratio is not one of small integers.
MAX_FACTOR = 1000
#: How far ``L/M`` may be from the requested ratio (relative): 10 ppm, below a crystal's tolerance.
RATIO_TOLERANCE = 1e-5
#: Inputs processed per internal step: bounds the temporary ``[C, rows, K]`` copies of a long call.
_BLOCK = 512
#: Room for new inputs after the history; the history moves to the front only when it fills up.
_SPAN = 8 * _BLOCK


def resampling_factors(rate_in: float, rate_out: float, max_factor: int = MAX_FACTOR) -> tuple[int, int]:
    """Up and down factors ``(L, M)`` with ``rate_in * L / M == rate_out`` (to 10 ppm)."""
    for name, rate in (("input", rate_in), ("output", rate_out)):
        try:
            ok = math.isfinite(float(rate)) and float(rate) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise MyostreamError(f"The resampler's {name} rate is {rate!r}; give a positive sampling rate in Hz.")
    rate_in, rate_out = float(rate_in), float(rate_out)
    ratio = rate_out / rate_in
    frac = Fraction(ratio).limit_denominator(max_factor)
    up, down = frac.numerator, frac.denominator
    if up > max_factor or abs(up / down - ratio) > RATIO_TOLERANCE * ratio:
        raise MyostreamError(
            f"Resampling {rate_in:g} Hz to {rate_out:g} Hz needs up/down factors above {max_factor} "
            f"(the nearest allowed ratio {up}/{down} is off by {abs(up / down - ratio) / ratio:.1e}); "
            "choose rates in a ratio of small integers."
        )
    return up, down


def design_taps(up: int, down: int, half_width: int = 10, beta: float = 5.0) -> np.ndarray:
    """The anti-aliasing low-pass of resampling by ``up/down``, at the upsampled rate.

    scipy's ``resample_poly`` design (``2 * half_width * max(up, down) + 1`` taps, Kaiser
    window, cut-off at the lower Nyquist, gain ``up``), with each polyphase branch scaled to
    unit gain at DC: the design leaves them 0.1 % apart, which would turn a constant offset
    (raw counts) into a tone at the input rate.
    """
    if up == down:
        return np.ones(1)
    half_len = half_width * max(up, down)
    taps = signal.firwin(2 * half_len + 1, 1.0 / max(up, down), window=("kaiser", float(beta))) * up
    for phase in range(up):
        taps[phase::up] /= taps[phase::up].sum()
    return taps


class Resampler:
    """Resamples ``float32[n, C]`` chunks from ``rate_in`` to ``rate_out`` Hz; state persists between calls.

    ``half_width`` is half the filter length in periods of the lower rate (scipy's
    ``resample_poly`` uses 10): it sets the delay (``half_width / min(rate)``) and the
    transition band's width (about ``3.3 / half_width`` of the lower Nyquist for ``beta = 5``).
    ``beta`` is the Kaiser window's shape (5: about 55 dB stop-band attenuation).
    Equal rates make the stage an exact pass-through with no delay.
    """

    def __init__(
        self,
        rate_in: float,
        rate_out: float,
        n_channels: int,
        half_width: int = 10,
        beta: float = 5.0,
        max_factor: int = MAX_FACTOR,
    ) -> None:
        if not isinstance(n_channels, (int, np.integer)) or n_channels < 1:
            raise MyostreamError(f"The resampler needs at least one channel, got n_channels={n_channels!r}.")
        if not isinstance(half_width, (int, np.integer)) or half_width < 1:
            raise MyostreamError(f"half_width = {half_width!r} must be a whole number of periods, at least 1.")
        self.up, self.down = resampling_factors(rate_in, rate_out, max_factor)
        self.rate_in, self.rate_out = float(rate_in), float(rate_out)
        self.n_channels = int(n_channels)
        self.half_width = int(half_width)
        L, M = self.up, self.down
        #: the filter has 2 * half_len + 1 taps at the upsampled rate and delays by half_len of them
        self._half_len = 0 if self.is_identity else self.half_width * max(L, M)
        #: the anti-aliasing filter at the upsampled rate ``L * rate_in`` (one tap of 1 for equal rates)
        self.taps = design_taps(L, M, self.half_width, beta)
        self.delay_s = self._half_len / (L * self.rate_in)
        self._k = K = -(-len(self.taps) // L)
        # branch φ holds taps φ, φ + L, ...; reversed so that a dot product with K
        # consecutive inputs in time order (newest last) applies tap 0 to the newest
        branches = np.zeros(K * L)
        branches[: len(self.taps)] = self.taps
        self._branches = np.ascontiguousarray(branches.reshape(K, L).T[:, ::-1])
        # Past inputs kept: K - 1 for the filter, and enough timestamps to place the content
        # time (half_len upsampled samples back) of every output between two known stamps.
        self._hist = max(K - 1, -(-self._half_len // L) + 2)
        size = self._hist + _SPAN
        self._buf = np.zeros((self.n_channels, size))  # channels first: rows of one channel are contiguous
        self._ts = np.zeros(size)
        self._labels = np.full(size, UNKNOWN_LABEL, np.int16)
        # _rows[c, r] = _buf[c, r : r + K]: the K inputs ending at buffer index r + K - 1
        s_c, s_t = self._buf.strides
        self._rows = np.lib.stride_tricks.as_strided(self._buf, (self.n_channels, size - K + 1, K), (s_c, s_t, s_t))
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self.reset()

    @property
    def is_identity(self) -> bool:
        return self.up == self.down

    def reset(self) -> None:
        """Forget the history (after a gap in the stream the old samples no longer apply)."""
        self._end = -1  # buffer index just past the newest input (-1: nothing yet)
        self._n_in = 0  # inputs since reset
        self._n_out = 0  # outputs since reset (index of the next one)
        self._stamped = -1  # inputs whose timestamps the history holds (-1: none)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Resample one chunk ``float32[n, C]`` -> ``float32[m, C]`` (m may be 0)."""
        self._check(x)
        if self.is_identity:
            return x.astype(np.float32, copy=False)
        return self._run(x, None, None)[0]

    def process_chunk(self, data: np.ndarray, timestamps: np.ndarray, labels: np.ndarray | None = None) -> Chunk:
        """Resample samples with their timestamps (and labels) -> a :class:`Chunk` at ``rate_out``.

        Each output's timestamp is the input-clock time of the content it carries (its grid
        time minus :attr:`delay_s`, interpolated between input timestamps); its label is the
        label of the input sample at or just before that time.
        """
        self._check(data)
        timestamps = np.asarray(timestamps, np.float64)
        if timestamps.shape != (len(data),) or (labels is not None and np.shape(labels) != (len(data),)):
            raise MyostreamError(
                f"The resampler got {len(data)} samples with {len(timestamps)} timestamps"
                + ("" if labels is None else f" and {len(labels)} labels")
                + "; give one per sample."
            )
        if self.is_identity:
            return Chunk(data, timestamps, labels)
        y, ts, lab = self._run(data, timestamps, labels)
        return Chunk(y, ts, None if labels is None else lab)

    # -- internals ----------------------------------------------------------------------

    def _check(self, x: np.ndarray) -> None:
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != self.n_channels:
            raise MyostreamError(
                f"The resampler was built for {self.n_channels} channels but got a chunk of shape "
                f"{getattr(x, 'shape', type(x).__name__)}; give float32[samples, {self.n_channels}]."
            )

    def _outputs_until(self, n_in: int) -> int:
        """Outputs computable once ``n_in`` inputs have arrived: those with ``m * M < n_in * L``."""
        return -(-n_in * self.up // self.down)

    def _run(
        self, x: np.ndarray, timestamps: np.ndarray | None, labels: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Outputs (and their stamps and labels when ``timestamps`` is given) for new inputs ``x``."""
        n = len(x)
        # one cheap sum per chunk; the exact (slower) test only when the sum is not finite
        if n and not math.isfinite(float(np.add.reduce(x, None))):
            check_finite(x, "The chunk given to the resampler")
        count = self._outputs_until(self._n_in + n) - self._n_out
        y = np.empty((self.n_channels, count))
        ts = np.empty(count if timestamps is not None else 0)
        lab = np.empty(len(ts), np.int16)
        if n == 0:
            return y.T.astype(np.float32), ts, lab
        h = self._hist
        if self._end < 0:
            # Start in steady state, as if the first sample had always been there (so a DC
            # offset, e.g. raw Myo counts, does not step through the filter at start-up).
            self._buf[:, :h] = np.asarray(x[0], np.float64)[:, None]
            self._end = h
        if timestamps is not None and self._stamped != self._n_in:
            # No stamps for this stream position (first chunk, or process() ran before):
            # extrapolate back from the first one at the nominal rate.
            self._ts[self._end - h : self._end] = timestamps[0] + np.arange(-h, 0) / self.rate_in
            self._labels[self._end - h : self._end] = UNKNOWN_LABEL if labels is None else labels[0]
        done = 0
        for a in range(0, n, _BLOCK):
            b = min(n, a + _BLOCK)
            done += self._block(x[a:b], y[:, done:], timestamps, labels, a, b, ts[done:], lab[done:])
        if timestamps is not None:
            self._stamped = self._n_in
        return np.ascontiguousarray(y.T, dtype=np.float32), ts, lab

    def _block(
        self,
        x: np.ndarray,
        out: np.ndarray,
        timestamps: np.ndarray | None,
        labels: np.ndarray | None,
        a: int,
        b: int,
        ts_out: np.ndarray,
        lab_out: np.ndarray,
    ) -> int:
        """Take up to ``_BLOCK`` new inputs (``x`` = rows ``a:b`` of the call); fill ``out[:, :count]``."""
        L, M, h, n = self.up, self.down, self._hist, len(x)
        if self._end + n > len(self._ts):  # full: move the history to the front
            keep = slice(self._end - h, self._end)
            self._buf[:, :h], self._ts[:h], self._labels[:h] = self._buf[:, keep], self._ts[keep], self._labels[keep]
            self._end = h
        e = self._end
        self._buf[:, e : e + n] = x.T
        if timestamps is not None:
            self._ts[e : e + n] = timestamps[a:b]
            self._labels[e : e + n] = UNKNOWN_LABEL if labels is None else labels[a:b]
        n0, m0 = self._n_in, self._n_out
        m1 = self._outputs_until(n0 + n)
        count = m1 - m0
        if count:
            # output m0 + t is upsampled index n0 * L + q + t * M (0 <= q < M): the tables
            # of q give each output's newest input and branch, and its content position
            q = m0 * M - n0 * L
            k_rel, branch, idx_rel, frac = self._table(q)
            row0 = e - (self._k - 1)  # row whose window ends at input n0
            if L == 1:  # decimation: one branch, every M-th input
                rows = self._rows[:, row0 + q : row0 + q + (count - 1) * M + 1 : M]
                np.matmul(rows, self._branches[0], out=out[:, :count])
            elif M == 1:  # integer upsampling: every branch for every input, in order
                out[:, :count] = (self._rows[:, row0 : row0 + n] @ self._branches.T).reshape(self.n_channels, count)
            else:
                rows = self._rows[:, row0 + k_rel[:count]]
                np.einsum("crk,rk->cr", rows, self._branches[branch[:count]], out=out[:, :count])
            if timestamps is not None:
                j = e + idx_rel[:count]
                t0 = self._ts[j]
                ts_out[:count] = t0 + frac[:count] * (self._ts[j + 1] - t0)
                lab_out[:count] = self._labels[j]
        self._end = e + n
        self._n_in, self._n_out = n0 + n, m1
        return count

    def _table(self, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For a block whose first output lies ``q`` upsampled samples after its first input:
        per output, its newest input and filter branch, and the input at or before its content
        time with the fraction of a period after it (inputs counted from the block's first)."""
        table = self._tables.get(q)
        if table is None:
            pos = q + np.arange(-(-_BLOCK * self.up // self.down) + 1, dtype=np.int64) * self.down
            k_rel = pos // self.up
            content = pos - self._half_len
            idx_rel = content // self.up
            table = (k_rel, pos - k_rel * self.up, idx_rel, (content - idx_rel * self.up) / self.up)
            self._tables[q] = table
        return table
