"""LSL configuration, applied before any other LSL call: nothing listens beyond this machine.

liblsl's default configuration announces streams to the local network and lets every
outlet listen on all interfaces. Unless the user chooses network sharing, myostream
keeps both on this machine:

- discovery: liblsl gets the loopback configuration below (``ResolveScope = machine``);
- outlets: their TCP data and UDP service ports are bound to 127.0.0.1
  (:func:`new_outlet`, see :mod:`myostream.stream.loopback` for why liblsl needs help).

Network sharing is the user's explicit choice: ``myostream --lsl-network ...`` (which
sets ``MYOSTREAM_LSL_NETWORK=1``), or their own ``lsl_api.cfg`` named by the standard
``LSLAPICFG`` variable with a ``ResolveScope`` wider than ``machine`` (liblsl's own
convention). An ``LSLAPICFG`` file that keeps ``ResolveScope = machine`` stays local, outlets
included. The ``[log]`` level keeps liblsl's INFO lines ("Configuration loaded ...") off
the terminal; its errors still show. Import pylsl only through :func:`pylsl_module` so
the configuration always comes first.
"""

from __future__ import annotations

import configparser
import os
import threading
from types import ModuleType
from typing import Any

#: Set (to anything but "" or "0") to share LSL streams on the network (``--lsl-network``).
NETWORK_ENV = "MYOSTREAM_LSL_NETWORK"

LOOPBACK_CONFIG = """\
[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
MachineAddresses = {127.0.0.1}
Interfaces = {127.0.0.1}
ListenAddress = 127.0.0.1
[lab]
KnownPeers = {}
[log]
level = -2
"""

#: liblsl's own defaults (network discovery) with its log lines kept off the terminal.
QUIET_CONFIG = "[log]\nlevel = -2\n"

_lock = threading.Lock()
_configured: str | None = None
_local = True


def _file_scope(path: str) -> str:
    """``ResolveScope`` of an ``lsl_api.cfg`` (liblsl's default, ``site``, when it says none)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(open(path, encoding="utf-8", errors="replace").read())
    except (OSError, configparser.Error):
        return "site"
    return parser.get("multicast", "ResolveScope", fallback="site").strip().lower()


def pylsl_module() -> ModuleType:
    """Return ``pylsl`` after making sure liblsl got its configuration."""
    global _configured, _local
    with _lock:
        import pylsl

        if _configured is None:
            user_file = os.environ.get("LSLAPICFG")
            if os.environ.get(NETWORK_ENV, "") not in ("", "0"):
                _local = False
                _configured = f"network (--lsl-network{f', file {user_file}' if user_file else ''})"
                if not user_file:
                    pylsl.set_config_content(QUIET_CONFIG)  # liblsl's network defaults, without its INFO lines
            elif user_file:
                scope = _file_scope(user_file)
                _local = scope == "machine"
                _configured = f"file {user_file} (ResolveScope = {scope})"
            else:
                pylsl.set_config_content(LOOPBACK_CONFIG)
                _configured = "loopback (ResolveScope = machine)"
        return pylsl


def outlets_local() -> bool:
    """Whether outlets must listen on loopback only (no network sharing was chosen)."""
    pylsl_module()
    return _local


def new_outlet(info: Any, chunk_size: int = 0) -> Any:
    """A ``pylsl.StreamOutlet`` whose ports listen on 127.0.0.1 unless network sharing was chosen."""
    from myostream.stream.loopback import loopback_binds

    pylsl = pylsl_module()
    if not _local:
        return pylsl.StreamOutlet(info, chunk_size)
    with loopback_binds(pylsl):
        return pylsl.StreamOutlet(info, chunk_size)


def lsl_scope() -> str:
    """How LSL was configured in this process (for status lines and `myostream devices`)."""
    from myostream.stream.loopback import unavailable

    pylsl = pylsl_module()
    assert _configured is not None
    if not _local:
        return _configured
    why_not = unavailable(pylsl)
    return f"{_configured}; outlets listen on " + (f"all interfaces: {why_not}" if why_not else "127.0.0.1 only")
