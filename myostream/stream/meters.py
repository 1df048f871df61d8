"""Numbers for status lines that describe *now*: the recent sample rate, silence, recent latency.

An average since a stream was opened hides what a user needs to see: an outage shows
as a slow drift of the mean (650-780 Hz for minutes after a 1000 Hz stream paused) and
start-up effects (a backlog in the first read, a model warming up) linger for minutes.
Both meters here look at the last few seconds only. One thread adds, any thread reads:
appends and copies of a ``deque`` are atomic, so neither side takes a lock.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import numpy as np

Clock = Callable[[], float]

#: Seconds without samples after which status lines report an outage ("no samples for 3.2 s").
SILENCE_S = 1.0


class RateMeter:
    """Samples per second of wall time over the last ``window_s``, and seconds since the last sample.

    The first chunk only starts the clock: it may hold a backlog that built up before the
    stream was read (an LSL outlet's buffer), which would otherwise read as a burst of
    1.5x the real rate.
    """

    def __init__(self, window_s: float = 3.0, clock: Clock = time.monotonic) -> None:
        self.window_s = float(window_s)
        self._clock = clock
        self._marks: deque[tuple[float, int]] = deque(maxlen=8192)  # (arrival time, samples counted after it)
        self.total = 0
        self._opened = clock()

    def add(self, n: int, now: float | None = None) -> None:
        """Count ``n`` samples that arrived at ``now``."""
        if n <= 0:
            return
        now = self._clock() if now is None else now
        self.total += n
        self._marks.append((now, self.total))
        # Keep one mark older than the window: the count the window starts from.
        while len(self._marks) > 2 and self._marks[1][0] <= now - self.window_s:
            self._marks.popleft()

    def rate(self, now: float | None = None) -> float:
        """Samples per second over the last ``window_s`` (0 before two chunks arrived, and during silence)."""
        now = self._clock() if now is None else now
        marks = list(self._marks)
        if len(marks) < 2:
            return 0.0
        start = now - self.window_s
        base_t, base_n = marks[0]
        for t, n in marks:
            if t > start:
                break
            base_t, base_n = t, n
        span = now - max(base_t, start)
        return (self.total - base_n) / span if span > 0 else 0.0

    def silent_s(self, now: float | None = None) -> float:
        """Seconds since the last sample arrived (since opening when none has)."""
        now = self._clock() if now is None else now
        last = self._marks[-1][0] if self._marks else self._opened
        return max(0.0, now - last)


class RecentValues:
    """Percentiles of the values added in the last ``window_s`` seconds (e.g. latencies)."""

    def __init__(self, window_s: float = 10.0, clock: Clock = time.monotonic, maxlen: int = 16384) -> None:
        self.window_s = float(window_s)
        self._clock = clock
        self._values: deque[tuple[float, float]] = deque(maxlen=maxlen)

    def add(self, value: float, now: float | None = None) -> None:
        self._values.append((self._clock() if now is None else now, float(value)))

    def percentile(self, q: float, now: float | None = None) -> float:
        """The ``q``-th percentile of the recent values; NaN when there are none."""
        now = self._clock() if now is None else now
        recent = [v for t, v in list(self._values) if t > now - self.window_s]
        return float(np.percentile(recent, q)) if recent else math.nan
