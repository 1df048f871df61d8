"""One entry point for every recording format: :func:`read_recording` and :func:`read_dataset`.

Formats and their readers (imported only when used):

- ``ninapro``: NinaPro ``.mat`` exercise files (:mod:`myostream.data.ninapro`);
- ``emg2pose``: ``.hdf5`` files with an ``emg2pose`` group (:mod:`myostream.data.emg2pose`);
- ``myo-dat``: Côté-Allard ``classe_<i>.dat`` files, and ``myo-session`` for a session
  folder of them played back to back (:mod:`myostream.data.myo`);
- ``session``: the project's own calibration sessions, HDF5 files without an ``emg2pose``
  group, read by ``myostream.data.session.read_session(path) -> Recording``, which the
  calibration recorder provides (a folder of them: :func:`read_session_folder`);
- ``xdf``: LabRecorder ``.xdf`` files, one recording per EMG stream (:mod:`myostream.data.xdf`);
- ``table``: CSV/TSV/text and ``.npy``/``.npz`` tables described by a ``dataset.toml``
  (:mod:`myostream.data.tables`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from myostream.errors import MyostreamError
from myostream.records import NonFinite, Recording

#: format -> (reader of one file or session folder, reader of a dataset folder)
FORMATS: dict[str, tuple[str, str]] = {
    "ninapro": ("myostream.data.ninapro:read_ninapro", "myostream.data.ninapro:read_ninapro_folder"),
    "emg2pose": ("myostream.data.emg2pose:read_emg2pose", "myostream.data.emg2pose:read_emg2pose_folder"),
    "myo-dat": ("myostream.data.myo:read_myo_dat", "myostream.data.myo:read_myo_folder"),
    "myo-session": ("myostream.data.myo:read_myo_session", "myostream.data.myo:read_myo_folder"),
    "session": ("myostream.data.session:read_session", "myostream.data.readers:read_session_folder"),
    "xdf": ("myostream.data.xdf:read_xdf_recording", "myostream.data.xdf:read_xdf_folder"),
    "table": ("myostream.data.tables:read_table", "myostream.data.tables:read_table_folder"),
}
_XDF = (".xdf", ".xdfz")
_TABLES = (".csv", ".tsv", ".txt", ".npy", ".npz")
_KNOWN = (
    "NinaPro .mat, emg2pose .hdf5, Myo armband .dat, calibration session .h5, LabRecorder .xdf "
    "and table (.csv .tsv .txt .npy .npz with a dataset.toml) files"
)


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
        from myostream.data.session import open_hdf5

        with open_hdf5(path) as f:  # also a session whose recorder was killed
            return "emg2pose" if "emg2pose" in f else "session"
    if suffix in _XDF:
        return "xdf"
    if suffix in _TABLES:
        return "table"
    raise MyostreamError(
        f"Recording {str(path)!r} has an unknown format {suffix or '(no suffix)'}; myostream reads {_KNOWN}."
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
    for NinaPro; every reader takes ``nonfinite`` (``"error"``, ``"drop"``, ``"interpolate"``).
    """
    path = Path(path)
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise MyostreamError(f"Unknown recording format {fmt!r}; use one of {', '.join(FORMATS)}.")
    return _call(_function(FORMATS[fmt][0]), path, fmt, kw)


def detect_dataset_format(folder: str | Path) -> str | None:
    """The format of a dataset folder's recordings, from the files inside; None when it holds none."""
    folder = Path(folder)
    if next(folder.rglob("*.mat"), None):
        return "ninapro"
    if next(folder.rglob("classe_*.dat"), None):
        return "myo-dat"
    if (folder / "metadata.csv").is_file() or next(folder.glob("*.hdf5"), None):
        return "emg2pose"
    if next(folder.glob("*.h5"), None):
        return "session"
    if any(next(folder.rglob(f"*{suffix}"), None) for suffix in _XDF):
        return "xdf"
    if (folder / "dataset.toml").is_file():
        return "table"
    return None


def read_dataset(folder: str | Path, format: str | None = None, **kw: Any) -> list[Recording]:
    """Read every recording of a dataset folder (NinaPro, emg2pose, Myo armband, sessions, XDF, tables).

    The format is detected from the files inside when omitted; options go to the
    folder reader (e.g. ``subjects=[1, 2]`` for NinaPro, ``split="train"`` for emg2pose).
    """
    folder = Path(folder)
    if folder.is_file():
        raise MyostreamError(
            f"{str(folder)!r} is a file, not a dataset folder; read one recording with read_recording(), "
            "or give its folder."
        )
    if not folder.is_dir():
        raise MyostreamError(f"Dataset folder {str(folder)!r} does not exist.")
    if format is None:
        format = detect_dataset_format(folder)
        if format is None:
            raise MyostreamError(f"Dataset folder {str(folder)!r} holds none of the {_KNOWN} myostream reads.")
    if format not in FORMATS:
        raise MyostreamError(f"Unknown recording format {format!r}; use one of {', '.join(FORMATS)}.")
    return _call(_function(FORMATS[format][1]), folder, format, kw)


def read_session_folder(folder: str | Path, nonfinite: NonFinite = "error") -> list[Recording]:
    """Every calibration session file (``*.h5``) in ``folder``, sorted by name."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.h5"))
    if not paths:
        raise MyostreamError(f"Session folder {str(folder)!r} holds no .h5 session files.")
    return [read_recording(p, format="session", nonfinite=nonfinite) for p in paths]
