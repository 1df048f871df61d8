"""``myostream replay``: publish a recording as a live LSL stream with its labels as markers."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from myostream.errors import MyostreamError
from myostream.records import Chunk

#: Seconds to keep the outlets up after the last sample, so readers receive it.
LINGER_S = 1.0


def replay_command(
    path: str,
    lsl: str | None = None,
    speed: float = 1.0,
    loop: bool = False,
    start: float = 0.0,
    database: str | None = None,
    duration: float | None = None,
    spin_ms: float | None = None,
    stream: str | None = None,
    nonfinite: str = "error",
) -> int:
    from myostream.sources import replay_file
    from myostream.stream.lsl import lsl_name, publish, valid_utf8

    if duration is not None and not duration > 0:
        raise MyostreamError(f"--duration must be positive seconds, not {duration!r}.")
    if lsl is not None:
        lsl_name(lsl)  # before reading a large file
    pacing = {} if spin_ms is None else {"spin_ms": spin_ms}
    source = replay_file(
        Path(path), database=database, stream=stream, nonfinite=nonfinite, speed=speed, loop=loop, start=start, **pacing
    )
    rec, info = source.recording, source.info
    # A file name need not be valid UTF-8, an LSL name must: the default name shows bad bytes as U+FFFD.
    name = lsl_name(lsl if lsl is not None else valid_utf8(rec.name))
    pace = "unthrottled" if speed == 0 else f"{speed:g}x real time"
    print(
        f"replaying {path} ({rec.duration:.1f} s, {info.n_channels} ch, {info.rate:g} Hz, {pace}{', looping' if loop else ''}) "
        f"as LSL stream {name!r} with labels on {name + '-markers'!r}; Ctrl-C stops",
        file=sys.stderr,
    )
    stop = threading.Event()
    tty = sys.stdout.isatty()
    every = 0.5 if tty else 1.0
    t_start = time.monotonic()
    next_print = [t_start + every]

    def on_chunk(chunk: Chunk) -> None:
        now = time.monotonic()
        if source.exhausted:
            threading.Timer(LINGER_S, stop.set).start()
        elif duration is not None and now - t_start >= duration:
            stop.set()
        if now >= next_print[0] or stop.is_set() or source.exhausted:
            label = (
                info.label_names[int(chunk.labels[-1])] if chunk.labels is not None and chunk.labels[-1] >= 0 else "-"
            )
            position = rec.duration if source.exhausted else source.position
            line = (
                f"t {position:8.2f}/{rec.duration:.2f} s | samples {source.emitted} | "
                f"wall {now - t_start:7.1f} s | label {label}"
            )
            print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
            next_print[0] = now + every

    try:
        pushed = publish(source, name, stop=stop, markers=True, on_chunk=on_chunk)
    except KeyboardInterrupt:
        pushed = source.emitted
    if tty:
        print()
    print(
        f"published {pushed} samples ({pushed / info.rate:.1f} s of recording) on LSL stream {name!r}", file=sys.stderr
    )
    return 0
