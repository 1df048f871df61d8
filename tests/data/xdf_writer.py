"""A small XDF 1.0 writer for tests: pyxdf (the standard reader) cannot write.

Follows the XDF specification (github.com/sccn/xdf, "Specifications") the way
LabRecorder lays a file out: the magic ``XDF:``, a FileHeader chunk, one StreamHeader
per stream, then Samples chunks of every stream interleaved in time with ClockOffset
chunks and a Boundary chunk every second, and a StreamFooter per stream. Each chunk is
``[NumLengthBytes][Length][Tag][Content]`` with a variable-length size (1, 4 or 8
bytes); the Length counts the tag and the content. A sample's timestamp is written
only when it is not the previous one plus the nominal period (the reader deduces it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

FILE_HEADER, STREAM_HEADER, SAMPLES, CLOCK_OFFSET, BOUNDARY, STREAM_FOOTER = 1, 2, 3, 4, 5, 6
#: The UUID that marks a Boundary chunk (readers scan for it to recover from corruption).
BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")
_DTYPES = {"float32": "<f4", "double64": "<f8", "int8": "<i1", "int16": "<i2", "int32": "<i4", "int64": "<i8"}


@dataclass
class XdfStream:
    """One stream as LabRecorder receives it: samples with their timestamps in the sender's clock.

    ``values``: [n, channels] numbers, or a list of strings for a one-channel string
    stream; ``clock_offsets``: (collection time, offset) pairs, offset = recorder clock
    minus sender clock; ``channels``: per-channel ``desc/channels/channel`` fields.
    """

    stream_id: int
    name: str
    type: str
    channel_format: str
    rate: float
    values: np.ndarray | list[str]
    timestamps: np.ndarray
    channels: list[dict[str, str]] = field(default_factory=list)
    clock_offsets: list[tuple[float, float]] = field(default_factory=list)
    source_id: str = ""

    @property
    def channel_count(self) -> int:
        return 1 if self.channel_format == "string" else int(np.asarray(self.values).shape[1])


def _varlen(n: int) -> bytes:
    if n < 2**8:
        return b"\x01" + struct.pack("<B", n)
    if n < 2**32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes) -> bytes:
    body = struct.pack("<H", tag) + content
    return _varlen(len(body)) + body


def _xml(fields: dict[str, str], extra: str = "") -> bytes:
    inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0"?><info>{inner}{extra}</info>'.encode()


def _header(s: XdfStream) -> bytes:
    channels = "".join(
        "<channel>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in ch.items()) + "</channel>" for ch in s.channels
    )
    desc = f"<desc><channels>{channels}</channels></desc>" if s.channels else "<desc />"
    fields = {
        "name": s.name,
        "type": s.type,
        "channel_count": str(s.channel_count),
        "nominal_srate": f"{s.rate:g}",
        "channel_format": s.channel_format,
        "source_id": s.source_id or s.name,
        "version": "1.1000000000000001",
        "created_at": "1234.5",
        "uid": f"uid-{s.stream_id}",
        "session_id": "default",
        "hostname": "testhost",
    }
    return struct.pack("<I", s.stream_id) + _xml(fields, desc)


def _samples(s: XdfStream, a: int, b: int, last: float | None) -> bytes:
    out = [struct.pack("<I", s.stream_id), _varlen(b - a)]
    period = 1.0 / s.rate if s.rate > 0 else 0.0
    for k in range(a, b):
        t = float(s.timestamps[k])
        deduced = last is not None and period > 0 and t == last + period
        out.append(b"\x00" if deduced else b"\x08" + struct.pack("<d", t))
        last = t
        if s.channel_format == "string":
            raw = str(s.values[k]).encode()
            out.append(_varlen(len(raw)) + raw)
        else:
            out.append(np.asarray(s.values[k], _DTYPES[s.channel_format]).tobytes())
    return b"".join(out)


def _footer(s: XdfStream) -> bytes:
    offsets = "".join(f"<offset><time>{t!r}</time><value>{v!r}</value></offset>" for t, v in s.clock_offsets)
    fields = {
        "first_timestamp": repr(float(s.timestamps[0])),
        "last_timestamp": repr(float(s.timestamps[-1])),
        "sample_count": str(len(s.timestamps)),
    }
    return struct.pack("<I", s.stream_id) + _xml(fields, f"<clock_offsets>{offsets}</clock_offsets>")


def write_xdf(path: Path, streams: list[XdfStream], chunk_s: float = 0.1) -> Path:
    """Write ``streams`` to ``path``: samples in chunks of ``chunk_s`` seconds, interleaved in time."""
    events: list[tuple[float, int, bytes]] = []  # (time, order, chunk): sorted into the file's order
    for s in streams:
        t = np.asarray(s.timestamps, np.float64)
        bins = np.floor((t - t[0]) / chunk_s).astype(np.int64)
        starts = np.concatenate(([0], np.flatnonzero(np.diff(bins)) + 1, [len(t)]))
        last = None
        for a, b in zip(starts[:-1], starts[1:]):
            events.append((float(t[b - 1]), 1, _chunk(SAMPLES, _samples(s, int(a), int(b), last))))
            last = float(t[b - 1])
        for when, value in s.clock_offsets:
            events.append((when, 0, _chunk(CLOCK_OFFSET, struct.pack("<Idd", s.stream_id, when, value))))
    first = min(e[0] for e in events)
    last_t = max(e[0] for e in events)
    events += [(first + k + 0.5, 2, _chunk(BOUNDARY, BOUNDARY_UUID)) for k in range(int(last_t - first) + 1)]
    events.sort(key=lambda e: (e[0], e[1]))
    with open(path, "wb") as f:
        f.write(b"XDF:")
        f.write(_chunk(FILE_HEADER, _xml({"version": "1.0", "datetime": "2026-01-01T12:00:00+0000"})))
        for s in streams:
            f.write(_chunk(STREAM_HEADER, _header(s)))
        for _, _, chunk in events:
            f.write(chunk)
        for s in streams:
            f.write(_chunk(STREAM_FOOTER, _footer(s)))
    return path
