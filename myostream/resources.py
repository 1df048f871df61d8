"""Where the shipped folders (devices/, models/, calibration/, apps/) live.

The repository keeps them at the top level; ``pyproject.toml`` maps them into the
package as ``myostream.devices`` etc., so the same lookup works from a checkout
(editable install) and after a plain ``pip install .``. Never read them relative to
the current directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_FOLDERS = {
    "devices": "myostream.devices",
    "models": "myostream.models",
    "calibration": "myostream.calibration",
    "apps": "myostream.apps",
}


def resource_dir(name: str) -> Path:
    """Return the folder of shipped resources called ``name`` (e.g. ``"devices"``)."""
    if name not in _FOLDERS:
        raise ValueError(f"unknown resource folder {name!r}; expected one of {sorted(_FOLDERS)}")
    return Path(str(resources.files(_FOLDERS[name])))
