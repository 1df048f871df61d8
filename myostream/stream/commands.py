"""``myostream devices`` and ``myostream stream``."""

from __future__ import annotations

import sys
import time

import numpy as np

from myostream.errors import MyostreamError
from myostream.stream.devices import list_profiles, load_profile, runs_here
from myostream.stream.factory import make_source
from myostream.stream.filters import FilterStage
from myostream.stream.ring import RingBuffer
from myostream.stream.source import Source, opened


def devices_command(lsl_wait: float = 1.0) -> int:
    rows = []
    for p in list_profiles():
        ok, why = runs_here(p)
        rows.append((p.name, p.transport, f"{p.rate:g} Hz", f"{p.n_channels} ch", p.unit, "yes" if ok else "no", why))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    header = ("device", "transport", "rate", "channels", "unit", "here")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  why")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[6])
    print("\nUse one with `myostream stream --device NAME`; profiles live in devices/*.toml.")
    from myostream.stream.lsl import list_streams
    from myostream.stream.lslconfig import lsl_scope

    streams = list_streams(timeout=lsl_wait)
    print(f"\nLSL streams visible now ({lsl_scope()}): {len(streams) or 'none'}")
    for s in streams:
        print(f"  {s}  (use --lsl {s.name})")
    return 0


class StreamStats:
    """Running numbers for a status line: measured rate, lost samples, per-channel RMS."""

    def __init__(self, nominal_rate: float) -> None:
        self.nominal_rate = nominal_rate
        self.samples = 0
        self.lost = 0
        self._t0 = time.monotonic()

    def add(self, n: int, lost: int) -> None:
        self.samples += n
        self.lost += lost

    @property
    def measured_rate(self) -> float:
        """Samples per second of wall time since the stream was opened."""
        elapsed = time.monotonic() - self._t0
        return self.samples / elapsed if elapsed > 0 else 0.0


def status_line(stats: StreamStats, n_channels: int, rms: np.ndarray, unit: str) -> str:
    rms_text = " ".join(f"{v:.3g}" for v in rms)
    return (
        f"rate {stats.measured_rate:7.1f}/{stats.nominal_rate:g} Hz | {n_channels} ch | "
        f"samples {stats.samples} | lost {stats.lost} | RMS [{unit}] {rms_text}"
    )


def stream_command(
    device: str | None = None,
    lsl: str | None = None,
    brainflow: str | None = None,
    publish: str | None = None,
    duration: float | None = None,
    seed: int = 0,
    timeout: float = 5.0,
) -> int:
    if lsl:
        source: Source = make_source(f"lsl:{lsl}", timeout=timeout)
        spec = None
    elif brainflow:
        source = make_source(f"brainflow:{brainflow}")
        spec = None
    else:
        name = device or "simulated"
        profile = load_profile(name)
        overrides = {"seed": seed} if profile.transport == "simulated" else {}
        source = make_source(name, **overrides)
        spec = profile.filter
    with opened(source):
        info = source.info
        filt = FilterStage(info.rate, info.n_channels, spec)
        # Band-passed samples of the last 200 ms, for the per-channel RMS of the status line.
        recent = RingBuffer.for_seconds(0.2, info.rate, info.n_channels)
        outlet = None
        if publish:
            from myostream.stream.lsl import LSLOutlet

            outlet = LSLOutlet(info, name=publish)
            print(f"publishing as LSL stream {publish!r} ({info.n_channels} ch, {info.rate:g} Hz)", file=sys.stderr)
        stats = StreamStats(info.rate)
        tty = sys.stdout.isatty()
        t_start = time.monotonic()
        next_print = t_start + (0.5 if tty else 1.0)
        try:
            while duration is None or time.monotonic() - t_start < duration:
                chunk = source.read(timeout=0.05)
                if len(chunk):
                    recent.write(filt.process(chunk.data), chunk.timestamps)
                    stats.add(len(chunk), chunk.lost)
                    if outlet is not None:
                        outlet.push(chunk)
                if time.monotonic() >= next_print:
                    window = recent.latest(recent.capacity).data.astype(np.float64)
                    rms = np.sqrt(np.mean(window**2, axis=0)) if len(window) else np.zeros(info.n_channels)
                    line = status_line(stats, info.n_channels, rms, info.unit)
                    print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
                    next_print += 0.5 if tty else 1.0
        except KeyboardInterrupt:
            pass
        finally:
            if outlet is not None:
                outlet.close()
            if tty:
                print()
    if stats.samples == 0:
        raise MyostreamError(f"No samples arrived from {info.name!r}; check that the device is on and streaming.")
    return 0
