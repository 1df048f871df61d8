"""Device profiles: ``devices/*.toml`` read into :class:`DeviceProfile`.

A profile says how to reach a device (``transport``), its nominal rate, channels, unit
and default causal filter. Recording setups of public datasets (NinaPro, emg2pose) are
profiles too, with ``transport = "replay"``: they say how their files were recorded.
"""

from __future__ import annotations

import platform
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from myostream.checks import check_fields
from myostream.errors import MyostreamError
from myostream.preprocess import FilterSpec
from myostream.resources import resource_dir
from myostream.stream.source import default_channel_names

TRANSPORTS = ("simulated", "lsl", "brainflow", "replay")


@dataclass(frozen=True)
class DeviceProfile:
    """One device or recording setup, as described by its TOML profile."""

    name: str
    description: str
    transport: str
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
    if not path.is_file():
        raise MyostreamError(f"Device profile {str(path)!r} does not exist.")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise MyostreamError(f"Device profile {str(path)!r} is not valid TOML: {exc}.") from None
    return _profile_from_dict(raw, path)


def _profile_from_dict(raw: dict[str, Any], path: Path) -> DeviceProfile:
    where = f"Device profile {str(path)!r}"
    for key in ("transport", "rate", "channels", "unit"):
        if key not in raw:
            raise MyostreamError(f"{where} lacks the key {key!r}; add it (see devices/simulated.toml).")
    transport = raw["transport"]
    if transport not in TRANSPORTS:
        raise MyostreamError(f"{where} has transport {transport!r}; use one of {', '.join(TRANSPORTS)}.")
    check_fields(DeviceProfile, {k: raw[k] for k in ("name", "description", "rate", "unit") if k in raw}, where)
    n = raw["channels"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or not raw["rate"] > 0:
        raise MyostreamError(
            f"{where} needs channels = a whole number >= 1 and rate > 0 Hz, got {n!r} and {raw['rate']!r}."
        )
    names = tuple(raw.get("channel_names") or default_channel_names(n))
    if len(names) != n:
        raise MyostreamError(f"{where} declares {n} channels but names {len(names)}; make them agree.")
    options = {k: v for k, v in raw.items() if isinstance(v, dict) and k != "filter"}
    ring = raw.get("ring", False)
    if not isinstance(ring, bool):
        raise MyostreamError(f"{where}: ring must be true or false, got {ring!r}.")
    return DeviceProfile(
        name=raw.get("name", path.stem),
        description=raw.get("description", ""),
        transport=transport,
        rate=float(raw["rate"]),
        channel_names=names,
        unit=raw["unit"],
        filter=FilterSpec.from_dict(raw.get("filter", {}), where=f"{where} [filter]"),
        options=options,
        platforms=tuple(raw.get("platforms", ())),
        ring=ring,
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
        board = profile.options.get("brainflow", {}).get("board", "")
        if board in ("SYNTHETIC_BOARD", "PLAYBACK_FILE_BOARD"):
            return True, "software board"
        return True, "hardware: needs the device connected (serial port / Bluetooth in [brainflow.params])"
    return False, f"unknown transport {profile.transport!r}"
