"""``myostream devices`` and ``myostream stream``."""

from __future__ import annotations

import sys
import time

import numpy as np

from myostream.errors import MyostreamError
from myostream.records import Source, opened
from myostream.sources import make_source, spec_kind
from myostream.stream.devices import list_profiles, load_profile, runs_here
from myostream.stream.filters import FilterStage
from myostream.stream.meters import SILENCE_S, RateMeter
from myostream.stream.ring import RingBuffer


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
    print("\nUse one with `myostream stream --source NAME`; profiles live in devices/*.toml.")
    from myostream.stream.lsl import list_streams
    from myostream.stream.lslconfig import lsl_scope

    streams = list_streams(timeout=lsl_wait)
    print(f"\nLSL streams visible now ({lsl_scope()}): {len(streams) or 'none'}")
    for s in streams:
        print(f"  {s}  (use --source lsl:{s.name})")
    return 0


def status_line(meter: RateMeter, nominal_rate: float, n_channels: int, lost: int, rms: np.ndarray, unit: str) -> str:
    """Rate over the last seconds (an outage shows at once), channels, totals and per-channel RMS."""
    silent = meter.silent_s()
    rms_text = " ".join(f"{v:.3g}" for v in rms)
    state = f" | no samples for {silent:.1f} s" if silent >= SILENCE_S else ""
    return (
        f"rate {meter.rate():7.1f}/{nominal_rate:g} Hz{state} | {n_channels} ch | "
        f"samples {meter.total} | lost {lost} | RMS [{unit}] {rms_text}"
    )


def stream_command(
    source: str = "simulated",
    publish: str | None = None,
    duration: float | None = None,
    seed: int = 0,
    timeout: float = 5.0,
) -> int:
    """``myostream stream --source SPEC``: open any source and print what arrives."""
    kind, _ = spec_kind(source)
    profile = load_profile(source) if kind == "profile" else None
    overrides: dict[str, object] = {}
    if profile is not None and profile.transport == "simulated":
        overrides["seed"] = seed
    if kind == "lsl" or (profile is not None and profile.transport == "lsl"):
        overrides["timeout"] = timeout
    src: Source = make_source(source, **overrides)
    spec = profile.filter if profile is not None else None
    with opened(src):
        info = src.info
        filt = FilterStage(info.rate, info.n_channels, spec)
        # Band-passed samples of the last 200 ms, for the per-channel RMS of the status line.
        recent = RingBuffer.for_seconds(0.2, info.rate, info.n_channels)
        outlet = None
        if publish is not None:
            from myostream.stream.lsl import LSLOutlet

            outlet = LSLOutlet(info, name=publish)
            print(f"publishing as LSL stream {publish!r} ({info.n_channels} ch, {info.rate:g} Hz)", file=sys.stderr)
        meter = RateMeter()
        lost = 0
        tty = sys.stdout.isatty()
        t_start = time.monotonic()
        next_print = t_start + (0.5 if tty else 1.0)
        try:
            while duration is None or time.monotonic() - t_start < duration:
                chunk = src.read(timeout=0.05)
                if len(chunk):
                    recent.write(filt.process(chunk.data), chunk.timestamps)
                    meter.add(len(chunk))
                    lost += chunk.lost
                    if outlet is not None:
                        outlet.push(chunk)
                if time.monotonic() >= next_print:
                    window = recent.latest(recent.capacity).data.astype(np.float64)
                    rms = np.sqrt(np.mean(window**2, axis=0)) if len(window) else np.zeros(info.n_channels)
                    line = status_line(meter, info.rate, info.n_channels, lost, rms, info.unit)
                    print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
                    next_print += 0.5 if tty else 1.0
        except KeyboardInterrupt:
            pass
        finally:
            if outlet is not None:
                outlet.close()
            if tty:
                print()
    if meter.total == 0:
        raise MyostreamError(f"No samples arrived from {info.name!r}; check that the device is on and streaming.")
    return 0
