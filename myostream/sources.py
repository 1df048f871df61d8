"""Turn a source spec into a :class:`Source`: the one place every command resolves its input.

It sits above ``stream/`` (the sources) and ``data/`` (the readers a replayed file goes
through), so neither of those needs the other.

Specs: a device profile name (``simulated``, ``myo-lsl``, ``brainflow-synthetic`` ...) or
a profile ``.toml`` path, ``lsl:NAME`` (also ``lsl:type=EMG`` / ``lsl:source_id=ID``),
``brainflow:BOARD`` (name or id), ``replay:FILE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from myostream.errors import MyostreamError
from myostream.records import Source
from myostream.stream.devices import DeviceProfile, load_profile

if TYPE_CHECKING:
    from myostream.stream.replay import ReplaySource


def lsl_query(query: str) -> dict[str, str]:
    """``"NAME"`` / ``"type=EMG"`` / ``"source_id=X"`` → keyword arguments of LSLSource."""
    if "=" in query:
        key, value = query.split("=", 1)
        if key not in ("name", "type", "source_id"):
            raise MyostreamError(f"LSL query {query!r}: use name=..., type=... or source_id=....")
        return {key: value}
    return {"name": query}


def source_from_profile(profile: DeviceProfile, **overrides: Any) -> Source:
    opts = profile.options.get(profile.transport, {})
    if profile.transport == "simulated":
        from myostream.stream.simulated import SimulatedArmband

        kw = {"rate": profile.rate, "n_channels": profile.n_channels, **opts, **overrides}
        return SimulatedArmband(**kw)
    if profile.transport == "lsl":
        from myostream.stream.lsl import LSLSource

        kw = {k: v for k, v in opts.items() if k in ("name", "type", "source_id")}
        return LSLSource(**{**kw, **overrides})
    if profile.transport == "brainflow":
        from myostream.stream.brainflow import BrainFlowSource

        return BrainFlowSource.from_profile(profile, **overrides)
    raise MyostreamError(
        f"Device {profile.name!r} is a recording setup ({profile.transport}); play its files with "
        "`myostream replay FILE` or --source replay:FILE."
    )


#: Spec prefixes and what must follow each.
PREFIXES = {
    "lsl": "a stream name (lsl:NAME)",
    "brainflow": "a board (brainflow:SYNTHETIC_BOARD)",
    "replay": "a recording file (replay:FILE)",
}


def spec_kind(spec: str) -> tuple[str, str]:
    """``("lsl", "NAME")`` for ``lsl:NAME``, ``("profile", spec)`` for a device profile; an empty part is an error."""
    if not spec.strip():
        raise MyostreamError(
            "The source is empty; give simulated, a device profile, lsl:NAME, brainflow:BOARD or replay:FILE."
        )
    kind, sep, arg = spec.partition(":")
    if sep and kind in PREFIXES:
        if not arg.strip():
            raise MyostreamError(f"Source {spec!r} names nothing after {kind}:; give {PREFIXES[kind]}.")
        return kind, arg
    return "profile", spec


def make_source(spec: str, **overrides: Any) -> Source:
    """Build (not open) the source a user named on the command line.

    An LSL stream also brings its labels when a ``NAME-markers`` stream with class ids
    goes with it (what ``myostream replay`` and ``stream --publish`` send).
    """
    kind, arg = spec_kind(spec)
    if kind == "lsl":
        from myostream.stream.lsl import AUTO_MARKERS, LSLSource

        return LSLSource(**{"markers": AUTO_MARKERS, **lsl_query(arg), **overrides})
    if kind == "brainflow":
        from myostream.stream.brainflow import BrainFlowSource

        return BrainFlowSource(arg, **overrides)
    if kind == "replay":
        return replay_file(Path(arg), **overrides)
    return source_from_profile(load_profile(spec), **overrides)


#: Keyword arguments of :func:`replay_file` that go to the reader rather than the replay.
_READER_OPTIONS = ("format", "database", "labels", "stream", "nonfinite")


def replay_file(path: str | Path, **kw: Any) -> ReplaySource:
    """Read any supported recording (see :func:`~myostream.data.readers.read_recording`) and replay it.

    ``format``, ``database``, ``labels``, ``stream`` (an XDF file's EMG stream) and
    ``nonfinite`` go to the reader (when not None), the rest to :class:`ReplaySource`.
    """
    from myostream.data.readers import read_recording
    from myostream.stream.replay import ReplaySource

    reader_kw = {k: kw.pop(k) for k in _READER_OPTIONS if k in kw}
    recording = read_recording(path, **{k: v for k, v in reader_kw.items() if v is not None})
    return ReplaySource(recording, **kw)
