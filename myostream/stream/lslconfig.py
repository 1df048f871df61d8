"""LSL configuration, applied before any other LSL call.

liblsl's default configuration multicasts stream announcements to the local network.
myostream keeps LSL on this machine unless told otherwise: on first use it gives
liblsl the loopback configuration below. A user who wants network discovery points
the standard ``LSLAPICFG`` environment variable at their own ``lsl_api.cfg`` (liblsl's
own convention), and that file is used instead.

The ``[log]`` level keeps liblsl's INFO lines ("Configuration loaded ...") off the
terminal; its errors still show. Import pylsl only through :func:`pylsl_module` so the
configuration always comes first.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

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

_lock = threading.Lock()
_configured: str | None = None


def pylsl_module() -> ModuleType:
    """Return ``pylsl`` after making sure liblsl got its configuration."""
    global _configured
    with _lock:
        import pylsl

        if _configured is None:
            if os.environ.get("LSLAPICFG"):
                _configured = f"file {os.environ['LSLAPICFG']}"
            else:
                pylsl.set_config_content(LOOPBACK_CONFIG)
                _configured = "loopback (ResolveScope = machine)"
        return pylsl


def lsl_scope() -> str:
    """How LSL was configured in this process (for status lines and `myostream devices`)."""
    pylsl_module()
    assert _configured is not None
    return _configured
