"""emg2pose ``.hdf5`` session files read lazily into :class:`Recording`.

Layout (Salter et al., emg2pose, 2024): group ``emg2pose`` holds the compound dataset
``timeseries`` with fields ``time`` (float64, s), ``emg`` (float32, 16 channels, 2 kHz)
and ``joint_angles`` (float64, 20); the group's attributes name the ``session``,
``stage``, ``user``, ``side``, ``sample_rate``, ``num_channels``, ``start`` and ``end``.
A ``metadata.csv`` next to the files lists ``user, session, stage, side, moving_hand,
held_out_user, held_out_stage, split, generalization, filename`` per file.

Files are large, so ``Recording.emg`` and ``Recording.pose`` are :class:`LazyField`
views: indexing reads only the rows asked for. The class of a file is its stage
(``emg2pose.<stage>``), the same for every sample.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from myostream.errors import MyostreamError
from myostream.records import NonFinite, Recording, default_channel_names
from myostream.stream.devices import load_profile

GROUP = "emg2pose"
TIMESERIES = "timeseries"
FIELDS = ("time", "emg", "joint_angles")
METADATA = "metadata.csv"


class LazyField:
    """One field of an HDF5 compound dataset as a read-on-index float32 ``[n, k]`` array.

    Holds the path, not an open handle, so it pickles (DataLoader workers) and each
    process opens the file on first use.
    """

    def __init__(self, path: Path, dataset: str, field: str, shape: tuple[int, int]) -> None:
        self.path = path
        self.dataset = dataset
        self.field = field
        self.shape = shape
        self.dtype = np.dtype(np.float32)
        self._ds: Any = None

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        if self._ds is None:
            import h5py

            self._ds = h5py.File(self.path, "r")[self.dataset].fields(self.field)
        try:
            return np.asarray(self._ds[index], np.float32)
        except OSError as exc:
            raise MyostreamError(f"emg2pose file {str(self.path)!r} could not be read at {index!r} ({exc}).") from None

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self[:] if dtype is None else self[:].astype(dtype)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_ds": None}


def _metadata_row(path: Path) -> dict[str, str]:
    table = path.parent / METADATA
    if not table.is_file():
        return {}
    for row in read_metadata(table):
        if row.get("filename") in (path.name, path.stem):
            return row
    return {}


def read_metadata(table: str | Path) -> list[dict[str, str]]:
    """The rows of an emg2pose ``metadata.csv``."""
    table = Path(table)
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and "filename" not in rows[0]:
        raise MyostreamError(f"emg2pose metadata {str(table)!r} has no 'filename' column; it is not emg2pose metadata.")
    return rows


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_emg2pose(
    path: str | Path, metadata: dict[str, str] | None = None, nonfinite: NonFinite = "error"
) -> Recording:
    """Open one session file lazily; ``metadata`` is its ``metadata.csv`` row (looked up if omitted).

    Lazy samples are checked for NaN when windows read them; ``nonfinite="drop"`` or
    ``"interpolate"`` reads the EMG into memory to repair it now.
    """
    import h5py

    path = Path(path)
    where = f"emg2pose file {str(path)!r}"
    if not path.is_file():
        raise MyostreamError(f"{where} does not exist.")
    try:
        with h5py.File(path, "r") as f:
            if GROUP not in f or TIMESERIES not in f[GROUP]:
                raise MyostreamError(f"{where} has no '{GROUP}/{TIMESERIES}' dataset; it is not an emg2pose session.")
            ds = f[GROUP][TIMESERIES]
            fields = ds.dtype.fields or {}
            missing = [k for k in FIELDS if k not in fields]
            if missing:
                raise MyostreamError(f"{where}: '{GROUP}/{TIMESERIES}' lacks the fields {missing}.")
            attrs = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in f[GROUP].attrs.items()}
            n = len(ds)
            if n == 0:
                raise MyostreamError(f"{where} holds no samples.")
            ds[n - 1 : n]  # reading the last row finds truncated files now, not mid-training
            n_ch = fields["emg"][0].shape[0] if fields["emg"][0].shape else 1
            n_joints = fields["joint_angles"][0].shape[0] if fields["joint_angles"][0].shape else 1
    except MyostreamError:
        raise
    except Exception as exc:  # h5py raises OSError/KeyError/ValueError for damaged files
        raise MyostreamError(f"{where} is not a readable HDF5 file (truncated or corrupted: {exc}).") from None
    if "stage" not in attrs:
        raise MyostreamError(f"{where}: group '{GROUP}' has no 'stage' attribute, so its class is unknown.")
    profile = load_profile("emg2pose")
    rate = float(attrs.get("sample_rate", profile.rate))
    meta = {**attrs, **(metadata if metadata is not None else _metadata_row(path))}
    dataset = f"{GROUP}/{TIMESERIES}"
    emg: Any = LazyField(path, dataset, "emg", (n, n_ch))
    if nonfinite != "error":
        emg = np.asarray(emg[:], np.float32)
    return Recording(
        emg=emg,
        rate=rate,
        labels=np.zeros(n, np.int16),
        label_names=(f"emg2pose.{attrs['stage']}",),
        channel_names=profile.channel_names if n_ch == profile.n_channels else default_channel_names(n_ch),
        subject=str(attrs.get("user", meta.get("user", ""))),
        session=str(attrs.get("session", meta.get("session", path.stem))),
        exercise=str(attrs["stage"]),
        dataset="emg2pose",
        unit=profile.unit,
        pose=LazyField(path, dataset, "joint_angles", (n, n_joints)),
        source=str(path),
        meta=meta,
        nonfinite=nonfinite,
    )


def read_emg2pose_folder(
    folder: str | Path, split: str | None = None, nonfinite: NonFinite = "error"
) -> list[Recording]:
    """Every session listed in ``folder/metadata.csv`` (or every ``.hdf5`` file without one).

    ``split`` (``"train"``, ``"val"``, ``"test"``) keeps the files of that official split.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MyostreamError(f"emg2pose folder {str(folder)!r} does not exist.")
    table = folder / METADATA
    if table.is_file():
        rows = read_metadata(table)
        if split is not None:
            rows = [r for r in rows if r.get("split") == split]
        paths = [folder / (r["filename"] if r["filename"].endswith(".hdf5") else r["filename"] + ".hdf5") for r in rows]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise MyostreamError(
                f"emg2pose folder {str(folder)!r}: metadata.csv lists {len(missing)} files that are absent "
                f"(e.g. {missing[0]}); download them or remove their rows."
            )
        listed = tqdm(list(zip(paths, rows)), desc="emg2pose files", unit="file", disable=None, leave=False)
        recordings = [read_emg2pose(p, metadata=r, nonfinite=nonfinite) for p, r in listed]
    else:
        if split is not None:
            raise MyostreamError(f"emg2pose folder {str(folder)!r} has no metadata.csv, so split={split!r} is unknown.")
        recordings = [read_emg2pose(p, metadata={}, nonfinite=nonfinite) for p in sorted(folder.glob("*.hdf5"))]
    if not recordings:
        raise MyostreamError(
            f"emg2pose folder {str(folder)!r} holds no sessions{f' in split {split!r}' if split else ''}."
        )
    return recordings
