"""Côté-Allard Myo armband reader on the real .dat files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from myostream.data.myo import MYO_CLASSES, read_myo_dat, read_myo_folder, read_myo_session
from myostream.errors import MyostreamError


def test_real_file(myo_dir: Path) -> None:
    path = myo_dir / "EvaluationDataset" / "Male0" / "Test0" / "classe_12.dat"
    rec = read_myo_dat(path)
    raw = np.fromfile(path, dtype=np.int16).reshape(-1, 8)
    np.testing.assert_array_equal(rec.emg, raw.astype(np.float32))
    assert rec.emg.dtype == np.float32 and rec.rate == 200.0 and rec.n_channels == 8
    assert rec.label_names[rec.labels[0]] == "fist"  # 12 % 7 = 5: hand close
    assert set(rec.labels.tolist()) == {5} and set(rec.repetition.tolist()) == {2}  # cycle 12 // 7 + 1
    assert (rec.dataset, rec.subject, rec.session) == ("myo-armband-evaluation", "Male0", "Test0")


def test_folder_and_session(myo_dir: Path) -> None:
    recs = read_myo_folder(myo_dir / "EvaluationDataset", subjects=["Male0"])
    assert len(recs) == 3 * 28 and sorted({r.session for r in recs}) == ["Test0", "Test1", "training0"]
    classes = [MYO_CLASSES[r.labels[0]] for r in recs if r.session == "Test1"]
    assert classes == [MYO_CLASSES[i % 7] for i in range(28)]
    pre = read_myo_folder(myo_dir / "PreTrainingDataset", subjects=["Female0"])
    assert {r.dataset for r in pre} == {"myo-armband-pretraining"} and {r.session for r in pre} == {"training0"}

    session = read_myo_session(myo_dir / "EvaluationDataset" / "Male0" / "Test1")
    parts = [r for r in recs if r.session == "Test1"]
    assert session.n_samples == sum(r.n_samples for r in parts)
    starts = session.meta["part_starts"]
    np.testing.assert_array_equal(session.emg[starts[9] : starts[9] + parts[9].n_samples], parts[9].emg)
    assert session.label_names[session.labels[starts[9]]] == MYO_CLASSES[2]


def test_bad_files(tmp_path: Path) -> None:
    odd = tmp_path / "S" / "training0" / "classe_3.dat"
    odd.parent.mkdir(parents=True)
    np.arange(8 * 10 + 3, dtype=np.int16).tofile(odd)
    with pytest.raises(MyostreamError, match=r"classe_3\.dat.*83 int16 values, not a whole number of 8-channel"):
        read_myo_dat(odd)
    other = tmp_path / "S" / "training0" / "gesture.dat"
    other.write_bytes(b"\x00" * 16)
    with pytest.raises(MyostreamError, match="not named classe_<i>.dat"):
        read_myo_dat(other)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MyostreamError, match="holds no classe_<i>.dat"):
        read_myo_folder(tmp_path / "empty")


def test_concatenate_refuses_mixed_setups(myo_dir: Path) -> None:
    from myostream.records import concatenate

    a = read_myo_dat(myo_dir / "EvaluationDataset" / "Male0" / "Test0" / "classe_0.dat")
    b = read_myo_dat(myo_dir / "EvaluationDataset" / "Male0" / "Test0" / "classe_1.dat")
    faster = type(b)(**{**b.__dict__, "rate": 400.0})
    with pytest.raises(MyostreamError, match=r"'classe_1' \(400 Hz, 8 ch.*cannot follow 'classe_0'"):
        concatenate([a, faster])
