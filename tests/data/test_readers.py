"""read_recording / read_dataset dispatch on real-layout files, and their bad-input sentences."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from myostream.data import read_dataset, read_recording
from myostream.data.readers import detect_format
from myostream.errors import MyostreamError
from tests.data.layouts import write_emg2pose


def test_dispatch_by_format(db2_dir: Path, tmp_path: Path) -> None:
    mat = db2_dir / "DB2_s1" / "S1_E2_A1.mat"
    assert read_recording(mat).dataset == "ninapro-db2"
    assert read_recording(mat, labels="stimulus").meta["label_variable"] == "stimulus"

    write_emg2pose(tmp_path / "e2p", "s1", "Counting1", "u1", n=100)
    assert detect_format(tmp_path / "e2p" / "s1.hdf5") == "emg2pose"
    assert read_recording(tmp_path / "e2p" / "s1.hdf5").label_names == ("emg2pose.Counting1",)
    assert [r.name for r in read_dataset(tmp_path / "e2p")] == ["s1"]
    assert len(read_dataset(db2_dir, subjects=[2])) == 1

    dat = tmp_path / "myo" / "Subj" / "Test0" / "classe_8.dat"
    dat.parent.mkdir(parents=True)
    np.zeros((50, 8), np.int16).tofile(dat)
    assert read_recording(dat).label_names[read_recording(dat).labels[0]] == "radial_deviation"
    assert detect_format(dat.parent) == "myo-session" and read_recording(dat.parent).n_samples == 50

    # HDF5 without an emg2pose group is a calibration session (read by myostream.data.session)
    with h5py.File(tmp_path / "session.h5", "w") as f:
        f.create_dataset("emg", data=np.zeros((4, 8), np.float32))
    assert detect_format(tmp_path / "session.h5") == "session"


def test_bad_input(tmp_path: Path, db2_dir: Path) -> None:
    with pytest.raises(MyostreamError, match=r"'.*nothing\.mat' does not exist"):
        read_recording(tmp_path / "nothing.mat")
    (tmp_path / "notes.pdf").write_text("hello")
    with pytest.raises(MyostreamError, match=r"notes\.pdf.*unknown format \.pdf; myostream reads NinaPro"):
        read_recording(tmp_path / "notes.pdf")
    (tmp_path / "notes.txt").write_text("hello")  # a text table: it needs a dataset.toml to say what it holds
    with pytest.raises(MyostreamError, match=r"notes\.txt' has no dataset\.toml in its folder or a parent"):
        read_recording(tmp_path / "notes.txt")
    (tmp_path / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 10)
    with pytest.raises(MyostreamError, match=r"broken\.h5.*not a readable HDF5 file"):
        read_recording(tmp_path / "broken.h5")
    dat = tmp_path / "S" / "T" / "classe_1.dat"
    dat.parent.mkdir(parents=True)
    np.zeros((5, 8), np.int16).tofile(dat)
    with pytest.raises(MyostreamError, match="myo-dat recording, which takes no option database"):
        read_recording(dat, database="db2")
    with pytest.raises(MyostreamError, match="is a folder, not a recording"):
        read_recording(db2_dir)
    with pytest.raises(MyostreamError, match="Dataset folder .* does not exist"):
        read_dataset(tmp_path / "absent")


def test_calibration_session_files_dispatch_and_replay(tmp_path: Path) -> None:
    from myostream.data.session import SessionWriter
    from myostream.records import opened
    from myostream.sources import replay_file

    rng = np.random.default_rng(0)
    emg = rng.normal(size=(600, 8)).astype(np.float32)
    labels = np.repeat(np.array([0, 1, 0], np.int16), 200)
    writer = SessionWriter(
        tmp_path / "sub-A_ses-1.h5",
        rate=200.0,
        channel_names=[f"EMG{i}" for i in range(8)],
        label_names=["rest", "fist"],
        subject="A",
    )
    writer.append(emg, np.arange(600) / 200.0, labels, (labels > 0).astype(np.int16))
    writer.close()
    rec = read_recording(tmp_path / "sub-A_ses-1.h5")
    np.testing.assert_array_equal(rec.emg, emg)
    assert rec.label_names == ("rest", "fist") and [r.subject for r in read_dataset(tmp_path)] == ["A"]
    src = replay_file(tmp_path / "sub-A_ses-1.h5", speed=0)
    with opened(src):
        chunk = src.read()
    np.testing.assert_array_equal(chunk.data, emg[:200])
