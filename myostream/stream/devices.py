"""Device profiles: ``devices/*.toml`` read into :class:`DeviceProfile`.

A profile says how to reach a device (``transport``), its nominal rate, channels, unit
and default causal filter. Recording setups of public datasets (NinaPro, emg2pose) are
profiles too, with ``transport = "replay"``: they say how their files were recorded.
"""

from __future__ import annotations

import importlib.util
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from myostream.errors import MyostreamError
from myostream.preprocess import FilterSpec
from myostream.records import default_channel_names
from myostream.resources import resource_dir
from myostream.schema import Count, PositiveNumber, Table, read_toml, validate

Transport = Literal["simulated", "lsl", "brainflow", "replay"]
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)


@dataclass(frozen=True)
class DeviceProfile:
    """One device or recording setup, as described by its TOML profile."""

    name: str
    description: str
    transport: Transport
    rate: float
    channel_names: tuple[str, ...]
    unit: str
    filter: FilterSpec = field(default_factory=FilterSpec)
    #: transport-specific settings: ``[brainflow]`` (board, params), ``[lsl]`` (name, type,
    #: source_id), ``[simulated]`` (generator options), ``[replay]`` (format).
    options: dict[str, Any] = field(default_factory=dict)
    #: operating systems whose driver supports the device (empty: all).
    platforms: tuple[str, ...] = ()
    #: the electrodes form a ring around the forearm in channel order (an armband can sit rotated or flipped)
    ring: bool = False
    path: Path | None = None

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)


def profile_dir() -> Path:
    return resource_dir("devices")


def list_profiles() -> list[DeviceProfile]:
    """All shipped device profiles, sorted by name."""
    return sorted((load_profile(p) for p in profile_dir().glob("*.toml")), key=lambda p: p.name)


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """Load a profile by name (``"simulated"``) or from a ``.toml`` path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = profile_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            names = sorted(p.stem for p in profile_dir().glob("*.toml"))
            raise MyostreamError(
                f"Unknown device {str(name_or_path)!r}; choose one of {', '.join(names)} "
                "(see `myostream devices`) or give a path to a profile .toml."
            )
    return _profile_from_dict(read_toml(path, "Device profile"), path)


class DeviceFile(Table):
    """A device profile file (see ``devices/simulated.toml``)."""

    name: str | None = None
    description: str = ""
    transport: Transport
    rate: PositiveNumber
    channels: Count
    channel_names: list[str] | None = None
    unit: str
    filter: dict[str, Any] = {}
    platforms: list[str] = []
    ring: bool = False
    #: settings of each transport, in a table named after it (DeviceProfile.options)
    brainflow: dict[str, Any] | None = None
    lsl: dict[str, Any] | None = None
    simulated: dict[str, Any] | None = None
    replay: dict[str, Any] | None = None


def _profile_from_dict(raw: dict[str, Any], path: Path) -> DeviceProfile:
    where = f"Device profile {str(path)!r}"
    profile = validate(DeviceFile, raw, where, example="devices/simulated.toml")
    names = tuple(profile.channel_names or default_channel_names(profile.channels))
    if len(names) != profile.channels:
        raise MyostreamError(f"{where} declares {profile.channels} channels but names {len(names)}; make them agree.")
    return DeviceProfile(
        name=profile.name or path.stem,
        description=profile.description,
        transport=profile.transport,
        rate=profile.rate,
        channel_names=names,
        unit=profile.unit,
        filter=FilterSpec.from_dict(profile.filter, where, at=("filter",)),
        options={t: getattr(profile, t) for t in TRANSPORTS if getattr(profile, t) is not None},
        platforms=tuple(profile.platforms),
        ring=profile.ring,
        path=path,
    )


def runs_here(profile: DeviceProfile) -> tuple[bool, str]:
    """Whether this machine can open the device now, and why not.

    Cheap and side-effect free: it checks the OS, installed drivers and the transport,
    not whether the hardware is plugged in (that needs opening it).
    """
    system = platform.system()
    if profile.platforms and system not in profile.platforms:
        return False, f"driver not available on {system} (BrainFlow ships it for {', '.join(profile.platforms)} only)"
    if profile.transport == "simulated":
        return True, "built in"
    if profile.transport == "replay":
        return True, "replays recorded files (myostream replay FILE)"
    if profile.transport == "lsl":
        return True, "needs an LSL stream on the network; resolved when opened"
    if profile.transport == "brainflow":
        if importlib.util.find_spec("brainflow") is None:
            return False, "needs the [brainflow] extra: pip install 'myostream[brainflow]'"
        board = profile.options.get("brainflow", {}).get("board", "")
        if board in ("SYNTHETIC_BOARD", "PLAYBACK_FILE_BOARD"):
            return True, "software board"
        return True, "hardware: needs the device connected (serial port / Bluetooth in [brainflow.params])"
    return False, f"unknown transport {profile.transport!r}"
