"""emg2pose reader on files written in the published layout (compound timeseries, group attributes, metadata.csv)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from myostream.data.emg2pose import LazyField, read_emg2pose, read_emg2pose_folder
from myostream.data.windows import extract_windows
from myostream.errors import MyostreamError
from tests.data.layouts import write_emg2pose


def test_lazy_session(tmp_path: Path) -> None:
    ts = write_emg2pose(
        tmp_path, "2022-04-07-1649318400-8125c-cv-emg-pose-train@2-recording-1_left", "FingerPinches1", "u17"
    )
    rec = read_emg2pose(tmp_path / "2022-04-07-1649318400-8125c-cv-emg-pose-train@2-recording-1_left.hdf5")
    assert isinstance(rec.emg, LazyField) and isinstance(rec.pose, LazyField)  # nothing read yet
    assert rec.emg.shape == (4000, 16) and rec.rate == 2000.0 and rec.n_channels == 16
    assert rec.label_names == ("emg2pose.FingerPinches1",) and not rec.labels.any()
    assert rec.subject == "u17" and rec.exercise == "FingerPinches1" and rec.meta["split"] == "train"
    np.testing.assert_array_equal(rec.emg[1000:1400], ts["emg"][1000:1400])
    np.testing.assert_array_equal(rec.pose[5:7], ts["joint_angles"][5:7].astype(np.float32))
    # a pickled field (DataLoader workers) reopens the file on its own
    again = pickle.loads(pickle.dumps(rec.emg))
    np.testing.assert_array_equal(again[10:20], ts["emg"][10:20])


def test_folder_windows_read_rows_lazily(tmp_path: Path) -> None:
    a = write_emg2pose(tmp_path, "sess-a", "FingerPinches1", "u1", seed=1)
    write_emg2pose(tmp_path, "sess-b", "Counting1", "u2", seed=2, split="test")
    recs = read_emg2pose_folder(tmp_path)
    assert [r.exercise for r in recs] == ["FingerPinches1", "Counting1"]
    assert [r.name for r in read_emg2pose_folder(tmp_path, split="test")] == ["sess-b"]
    ws = extract_windows(recs, window_ms=100, hop_ms=50)
    assert ws.class_ids == ("emg2pose.FingerPinches1", "emg2pose.Counting1") and ws.length == 200
    x = ws.data([3])
    np.testing.assert_array_equal(x[0], a["emg"][300:500])


def test_bad_files(tmp_path: Path) -> None:
    write_emg2pose(tmp_path, "whole", "Counting1", "u1", n=20000)
    good = (tmp_path / "whole.hdf5").read_bytes()
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(MyostreamError, match=r"cut\.hdf5.*not a readable HDF5 file \(truncated"):
        read_emg2pose(cut)
    import h5py

    with h5py.File(tmp_path / "other.hdf5", "w") as f:
        f.create_dataset("data", data=np.zeros(3))
    with pytest.raises(MyostreamError, match=r"other\.hdf5.*no 'emg2pose/timeseries'"):
        read_emg2pose(tmp_path / "other.hdf5")
    with pytest.raises(MyostreamError, match="does not exist"):
        read_emg2pose(tmp_path / "absent.hdf5")
    (tmp_path / "whole.hdf5").unlink()
    with pytest.raises(MyostreamError, match=r"metadata\.csv lists 1 files that are absent"):
        read_emg2pose_folder(tmp_path)
