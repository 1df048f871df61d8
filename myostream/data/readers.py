"""One entry point for every recording format: :func:`read_recording` and :func:`read_dataset`.

Formats and their readers (imported only when used):

- ``ninapro``: NinaPro ``.mat`` exercise files (:mod:`myostream.data.ninapro`);
- ``emg2pose``: ``.hdf5`` files with an ``emg2pose`` group (:mod:`myostream.data.emg2pose`);
- ``myo-dat``: Côté-Allard ``classe_<i>.dat`` files, and ``myo-session`` for a session
  folder of them played back to back (:mod:`myostream.data.myo`);
- ``session``: the project's own calibration sessions, HDF5 files without an ``emg2pose``
  group, read by ``myostream.data.session.read_session(path) -> Recording``, which the
  calibration recorder provides (a folder of them: :func:`read_session_folder`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from myostream.data.recording import Recording
from myostream.errors import MyostreamError

#: format -> (reader of one file or session folder, reader of a dataset folder)
FORMATS: dict[str, tuple[str, str]] = {
    "ninapro": ("myostream.data.ninapro:read_ninapro", "myostream.data.ninapro:read_ninapro_folder"),
    "emg2pose": ("myostream.data.emg2pose:read_emg2pose", "myostream.data.emg2pose:read_emg2pose_folder"),
    "myo-dat": ("myostream.data.myo:read_myo_dat", "myostream.data.myo:read_myo_folder"),
    "myo-session": ("myostream.data.myo:read_myo_session", "myostream.data.myo:read_myo_folder"),
    "session": ("myostream.data.session:read_session", "myostream.data.readers:read_session_folder"),
}


def _function(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def detect_format(path: str | Path) -> str:
    """The format of a file (by suffix, and for HDF5 by content) or of a Myo session folder."""
    path = Path(path)
    if path.is_dir():
        if any(path.glob("classe_*.dat")):
            return "myo-session"
        raise MyostreamError(
            f"{str(path)!r} is a folder, not a recording; read a whole dataset with read_dataset(), "
            "or give one file (or a Myo session folder of classe_<i>.dat files)."
        )
    if not path.is_file():
        raise MyostreamError(f"Recording {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return "ninapro"
    if suffix == ".dat":
        return "myo-dat"
    if suffix in (".hdf5", ".h5"):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                return "emg2pose" if "emg2pose" in f else "session"
        except OSError as exc:
            raise MyostreamError(f"Recording {str(path)!r} is not a readable HDF5 file (truncated or corrupted: {exc}).") from None
    raise MyostreamError(
        f"Recording {str(path)!r} has an unknown format {suffix or '(no suffix)'}; myostream reads NinaPro .mat, "
        "emg2pose .hdf5, Myo armband .dat and calibration session .h5 files."
    )


def _call(fn: Callable[..., Any], target: Path, fmt: str, kw: dict[str, Any]) -> Any:
    accepted = inspect.signature(fn).parameters
    unknown = sorted(k for k in kw if k not in accepted)
    if unknown:
        raise MyostreamError(f"{str(target)!r} is a {fmt} recording, which takes no option {', '.join(unknown)}.")
    return fn(target, **kw)


def read_recording(path: str | Path, format: str | None = None, **kw: Any) -> Recording:
    """Read one recording in any supported format (``format`` detected when omitted).

    Options go to the format's reader, e.g. ``database="db2"`` or ``labels="stimulus"``
    for NinaPro.
    """
    path = Path(path)
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise MyostreamError(f"Unknown recording format {fmt!r}; use one of {', '.join(FORMATS)}.")
    return _call(_function(FORMATS[fmt][0]), path, fmt, kw)


def read_dataset(folder: str | Path, format: str | None = None, **kw: Any) -> list[Recording]:
    """Read every recording of a dataset folder (NinaPro, emg2pose, Myo armband, sessions).

    The format is detected from the files inside when omitted; options go to the
    folder reader (e.g. ``subjects=[1, 2]`` for NinaPro, ``split="train"`` for emg2pose).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MyostreamError(f"Dataset folder {str(folder)!r} does not exist.")
    if format is None:
        if next(folder.rglob("*.mat"), None):
            format = "ninapro"
        elif next(folder.rglob("classe_*.dat"), None):
            format = "myo-dat"
        elif (folder / "metadata.csv").is_file() or next(folder.glob("*.hdf5"), None):
            format = "emg2pose"
        elif next(folder.glob("*.h5"), None):
            format = "session"
        else:
            raise MyostreamError(
                f"Dataset folder {str(folder)!r} holds no NinaPro .mat, emg2pose .hdf5, Myo classe_<i>.dat or session .h5 files."
            )
    if format not in FORMATS:
        raise MyostreamError(f"Unknown recording format {format!r}; use one of {', '.join(FORMATS)}.")
    return _call(_function(FORMATS[format][1]), folder, format, kw)


def read_session_folder(folder: str | Path) -> list[Recording]:
    """Every calibration session file (``*.h5``) in ``folder``, sorted by name."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.h5"))
    if not paths:
        raise MyostreamError(f"Session folder {str(folder)!r} holds no .h5 session files.")
    return [read_recording(p, format="session") for p in paths]
