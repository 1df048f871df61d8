"""Writers of small files in the exact published layouts (NinaPro DB2/DB3/DB5 .mat, MAT v7.3, emg2pose .hdf5).

DB2, DB3, DB5 and emg2pose recordings are not available on this machine, so tests write
tiny ones with the same variables, shapes, dtypes, attributes and file names.
"""

from __future__ import annotations

import csv
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io


def protocol_labels(codes: list[int], reps: int, hold: int, rest: int) -> tuple[np.ndarray, np.ndarray]:
    """NinaPro-style stimulus and repetition columns: each code held ``hold`` samples ``reps`` times, rest between."""
    labels, repetition = [np.zeros(rest, np.uint8)], [np.zeros(rest, np.uint8)]
    for code in codes:
        for r in range(1, reps + 1):
            labels += [np.full(hold, code, np.uint8), np.zeros(rest, np.uint8)]
            repetition += [np.full(hold, r, np.uint8), np.zeros(rest, np.uint8)]
    return np.concatenate(labels)[:, None], np.concatenate(repetition)[:, None]


def write_ninapro_mat(
    path: Path,
    codes: list[int],
    n_channels: int = 12,
    reps: int = 6,
    hold: int = 40,
    rest: int = 20,
    subject: int = 1,
    exercise: int = 1,
    seed: int = 0,
    label_dtype: type = np.uint8,
    force: bool = False,
) -> dict[str, np.ndarray]:
    """A DB2/DB3/DB5-layout exercise file (variables as in the NinaPro README); returns what was written."""
    stim, rep = protocol_labels(codes, reps, hold, rest)
    n = len(stim)
    rng = np.random.default_rng(seed)
    variables = {
        "subject": np.array([[subject]], np.uint8),
        "exercise": np.array([[exercise]], np.uint8),
        "emg": rng.normal(0, 1e-4, (n, n_channels)),
        "acc": rng.normal(0, 1, (n, 3 * n_channels)),
        "glove": rng.uniform(0, 255, (n, 22)),
        "inclin": rng.normal(0, 1, (n, 2)),
        "stimulus": stim.astype(label_dtype),
        "restimulus": np.roll(stim, 3, axis=0).astype(label_dtype),  # relabelled boundaries differ slightly
        "repetition": rep.astype(label_dtype),
        "rerepetition": np.roll(rep, 3, axis=0).astype(label_dtype),
    }
    if force:
        variables["force"] = rng.normal(0, 1, (n, 6))
        variables["forcecal"] = np.array([np.zeros(6), np.ones(6)])
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, variables)
    return variables


def write_mat73(path: Path, variables: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 file: HDF5 with the 512-byte MATLAB header and column-major (transposed) arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            f.create_dataset(name, data=np.asarray(value).T)
            f[name].attrs["MATLAB_class"] = np.bytes_("double" if value.dtype.kind == "f" else "uint8")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM")


EMG2POSE_DTYPE = np.dtype([("time", "<f8"), ("emg", "<f4", (16,)), ("joint_angles", "<f8", (20,))])


def write_emg2pose(
    folder: Path, name: str, stage: str, user: str, n: int = 4000, seed: int = 0, split: str = "train"
) -> np.ndarray:
    """An emg2pose session file (group ``emg2pose``, compound ``timeseries``, group attributes) plus its metadata row."""
    rng = np.random.default_rng(seed)
    ts = np.zeros(n, EMG2POSE_DTYPE)
    ts["time"] = 1.65e9 + np.arange(n) / 2000.0
    ts["emg"] = rng.normal(0, 20, (n, 16)).astype(np.float32)
    ts["joint_angles"] = rng.uniform(-1, 1, (n, 20))
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / f"{name}.hdf5", "w") as f:
        g = f.create_group("emg2pose")
        g.create_dataset("timeseries", data=ts, chunks=(min(n, 500),))
        attrs = {
            "session": f"{name[:20]}-session",
            "stage": stage,
            "user": user,
            "side": "right",
            "sample_rate": 2000.0,
            "num_channels": 16,
            "start": float(ts["time"][0]),
            "end": float(ts["time"][-1]),
        }
        for k, v in attrs.items():
            g.attrs[k] = v
    table = folder / "metadata.csv"
    new = not table.exists()
    with open(table, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(
                [
                    "user",
                    "session",
                    "stage",
                    "side",
                    "moving_hand",
                    "held_out_user",
                    "held_out_stage",
                    "split",
                    "generalization",
                    "filename",
                ]
            )
        w.writerow([user, attrs["session"], stage, "right", "right", "False", "False", split, "user", name])
    return ts


@pytest.fixture
def db2_dir(tmp_path: Path) -> Path:
    """A DB2-layout folder: DB2_s1 with E1 (B, 1-17), E2 (C, 18-40), E3 (force codes); DB2_s2 with E3 (41-49)."""
    root = tmp_path / "ninapro-db2-mini"
    write_ninapro_mat(root / "DB2_s1" / "S1_E1_A1.mat", list(range(1, 18)), reps=2, hold=8, rest=4, exercise=1)
    write_ninapro_mat(root / "DB2_s1" / "S1_E2_A1.mat", list(range(18, 41)), reps=2, hold=8, rest=4, exercise=2, seed=1)
    write_ninapro_mat(
        root / "DB2_s1" / "S1_E3_A1.mat",
        [1, 2, 4, 6, 8, 9, 16, 32, 40],
        reps=2,
        hold=8,
        rest=4,
        exercise=3,
        seed=2,
        force=True,
    )
    write_ninapro_mat(
        root / "DB2_s2" / "S2_E3_A1.mat",
        list(range(41, 50)),
        reps=2,
        hold=8,
        rest=4,
        subject=2,
        exercise=3,
        seed=3,
        label_dtype=np.float64,
        force=True,
    )
    return root
