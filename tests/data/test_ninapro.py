"""NinaPro .mat reader: real DB1 files, and DB2/DB3/DB5/v7.3 files written in the published layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from myostream.data.ninapro import (
    DATABASES,
    EXERCISE_SIZES,
    FORCE_CODES,
    MOVEMENT_NAMES,
    exercise_ids,
    infer_database,
    numberings,
    read_ninapro,
    read_ninapro_folder,
)
from myostream.errors import MyostreamError
from tests.data.layouts import write_mat73, write_ninapro_mat


def test_real_db1_file(db1_dir: Path) -> None:
    path = db1_dir / "S1_A1_E1.mat"
    raw = scipy.io.loadmat(path)
    rec = read_ninapro(path)
    assert rec.rate == 100.0 and rec.dataset == "ninapro-db1" and rec.subject == "S1" and rec.exercise == "A"
    assert rec.emg.dtype == np.float32 and rec.emg.shape == raw["emg"].shape == (rec.n_samples, 10)
    np.testing.assert_array_equal(rec.emg, raw["emg"].astype(np.float32))
    assert rec.glove is not None and rec.glove.dtype == np.float32 and rec.glove.shape == (rec.n_samples, 22)
    assert rec.label_names == ("rest", *exercise_ids("A"))
    # restimulus k (1-12) is ninapro.A{k:02d}; rest stays rest
    restim = raw["restimulus"].ravel()
    for k in (0, 1, 7, 12):
        names = {rec.label_names[i] for i in np.unique(rec.labels[restim == k])}
        assert names == {"rest" if k == 0 else f"ninapro.A{k:02d}"}
    np.testing.assert_array_equal(rec.repetition, raw["rerepetition"].ravel())
    assert set(np.unique(rec.repetition)) == set(range(11))


def test_stimulus_on_request(db1_dir: Path) -> None:
    path = db1_dir / "S1_A1_E1.mat"
    relabelled = read_ninapro(path)
    cue = read_ninapro(path, labels="stimulus")
    raw = scipy.io.loadmat(path)
    assert cue.meta["label_variable"] == "stimulus"
    np.testing.assert_array_equal(cue.labels, raw["stimulus"].ravel())  # DB1 E1: code k is index k
    np.testing.assert_array_equal(cue.repetition, raw["repetition"].ravel())
    assert not np.array_equal(cue.labels, relabelled.labels)


def test_db1_folder_in_one_call(db1_dir: Path) -> None:
    recs = read_ninapro_folder(db1_dir, subjects=[2, 1])
    assert [r.subject for r in recs] == ["S1", "S2"]
    assert all(r.dataset == "ninapro-db1" for r in recs)


def test_db2_layout_continuous_labels_and_force_codes(db2_dir: Path) -> None:
    recs = read_ninapro_folder(db2_dir)
    assert [(r.subject, r.meta["file_exercise"]) for r in recs] == [("S1", 1), ("S1", 2), ("S1", 3), ("S2", 3)]
    e1, e2, e3_codes, e3_cont = recs
    assert all(r.dataset == "ninapro-db2" and r.rate == 2000.0 and r.n_channels == 12 for r in recs)
    assert e1.exercise == "B" and e2.exercise == "C" and e3_codes.exercise == "D"
    raw = scipy.io.loadmat(db2_dir / "DB2_s1" / "S1_E2_A1.mat")["restimulus"].ravel()
    # continuous numbering: DB2 label 18 is the first grasp, 40 the last
    assert {e2.label_names[i] for i in e2.labels[raw == 18]} == {"ninapro.C01"}
    assert {e2.label_names[i] for i in e2.labels[raw == 40]} == {"ninapro.C23"}
    # the force quirk (1, 2, 4, ..., 40) and the documented 41-49 name the same movements in the same order
    assert e3_codes.meta["numbering"] == "force codes" and e3_cont.meta["numbering"] == "continuous"

    def order(rec):
        runs = rec.labels[np.r_[True, np.diff(rec.labels) != 0]]
        return [rec.label_names[i] for i in runs if i != 0][::2]  # two repetitions each

    assert order(e3_codes) == order(e3_cont) == list(exercise_ids("D"))


def test_db3_subject_with_fewer_electrodes(tmp_path: Path) -> None:
    path = tmp_path / "DB3_s6" / "S6_E1_A1.mat"
    written = write_ninapro_mat(path, list(range(1, 18)), n_channels=10, reps=1, hold=5, rest=3, subject=6)
    rec = read_ninapro(path)
    assert rec.dataset == "ninapro-db3" and rec.n_channels == 10 and rec.channel_names[-1] == "EMG10"
    np.testing.assert_array_equal(rec.emg, written["emg"].astype(np.float32))


def test_db5_numbering_from_file_name(tmp_path: Path) -> None:
    # DB5's exercise variable disagrees with the file name; the name decides (E2 = exercise B)
    per_file = tmp_path / "s1" / "S1_E2_A1.mat"
    write_ninapro_mat(per_file, list(range(1, 18)), n_channels=16, reps=1, hold=5, rest=3, exercise=1)
    continuous = tmp_path / "s2" / "S2_E2_A1.mat"
    write_ninapro_mat(continuous, list(range(13, 30)), n_channels=16, reps=1, hold=5, rest=3, subject=2)
    a, b = read_ninapro(per_file), read_ninapro(continuous)  # 16 electrodes: DB5
    assert a.dataset == b.dataset == "ninapro-db5" and a.rate == 200.0 and a.exercise == b.exercise == "B"
    np.testing.assert_array_equal(a.labels, b.labels)
    assert (a.meta["numbering"], b.meta["numbering"]) == ("per-exercise", "continuous")


def test_mat_v73_read_with_h5py(tmp_path: Path) -> None:
    v5 = tmp_path / "DB2_s1" / "S1_E1_A1.mat"
    written = write_ninapro_mat(v5, list(range(1, 18)), reps=1, hold=5, rest=3)
    v73 = tmp_path / "DB2_s3" / "S3_E1_A1.mat"
    write_mat73(v73, written)
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(v73)  # scipy cannot, so the reader must use h5py
    a, b = read_ninapro(v5), read_ninapro(v73)
    np.testing.assert_array_equal(a.emg, b.emg)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.glove, b.glove)


def test_one_table_covers_every_movement() -> None:
    ids = [c for letter in EXERCISE_SIZES for c in exercise_ids(letter)]
    assert len(ids) == 12 + 17 + 23 + 9 and set(MOVEMENT_NAMES) == {"rest", *ids}
    # each database's documented numbering maps its files onto distinct global movements
    for db, spec in DATABASES.items():
        seen = []
        for e in range(1, len(spec.exercises) + 1):
            name, table = numberings(db, e)[0]
            assert name == spec.numbering
            seen += table.values()
        assert len(seen) == len(set(seen))
    assert numberings("db2", 3)[1] == ("force codes", dict(zip(FORCE_CODES, exercise_ids("D"))))
    assert numberings("db2", 2)[0][1][18] == "ninapro.C01" and numberings("db1", 2)[0][1][1] == "ninapro.B01"


def test_database_inference(tmp_path: Path) -> None:
    assert infer_database(Path("/data/DB2_s4/S4_E1_A1.mat"), 12) == "db2"
    assert infer_database(Path("/data/ninapro-db1/S1_A1_E1.mat"), 12) == "db1"
    assert infer_database(Path("/data/x/S1_A1_E1.mat"), 10) == "db1"
    assert infer_database(Path("/data/x/S1_E1_A1.mat"), 12) is None


def test_bad_input_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "S1_A1_E1.mat"
    with pytest.raises(MyostreamError, match="does not exist"):
        read_ninapro(missing)

    no_emg = tmp_path / "DB2_s1" / "S1_E1_A1.mat"
    no_emg.parent.mkdir()
    scipy.io.savemat(no_emg, {"stimulus": np.zeros((5, 1))})
    with pytest.raises(MyostreamError, match=r"S1_E1_A1\.mat.*no 'emg'"):
        read_ninapro(no_emg)

    short = tmp_path / "DB2_s2" / "S2_E1_A1.mat"
    v = write_ninapro_mat(short, list(range(1, 18)), reps=1, hold=5, rest=3)
    v["restimulus"] = v["restimulus"][:-7]
    scipy.io.savemat(short, v)
    with pytest.raises(MyostreamError, match=r"S2_E1_A1\.mat.*'restimulus' has \d+ samples but 'emg' has"):
        read_ninapro(short)

    ambiguous = tmp_path / "mystery" / "S1_E1_A1.mat"
    write_ninapro_mat(ambiguous, [1, 2], reps=1, hold=5, rest=3)
    with pytest.raises(MyostreamError, match=r"S1_E1_A1\.mat.*cannot tell which NinaPro database"):
        read_ninapro(ambiguous)
    with pytest.raises(MyostreamError, match="Unknown NinaPro database 'db9'"):
        read_ninapro(ambiguous, database="db9")

    alien = tmp_path / "DB2_s3" / "S3_E1_A1.mat"
    write_ninapro_mat(alien, [1, 99], reps=1, hold=5, rest=3)
    with pytest.raises(MyostreamError, match=r"labels \[1, 99\] do not fit NinaPro DB2 exercise E1"):
        read_ninapro(alien)

    nan = tmp_path / "DB2_s5" / "S5_E1_A1.mat"
    v = write_ninapro_mat(nan, [1, 2], reps=1, hold=5, rest=3)
    v["emg"][4, 7] = np.nan
    scipy.io.savemat(nan, v)
    with pytest.raises(
        MyostreamError, match=r"S5_E1_A1\.mat.*sample 4 .*channel 7 .*NaN or infinite values.*nonfinite"
    ):
        read_ninapro(nan)
    write_ninapro_mat(tmp_path / "DB7_s1" / "S1_E3_A1.mat", [1], reps=1, hold=5, rest=3)
    with pytest.raises(MyostreamError, match=r"S1_E3_A1\.mat.*DB7 has exercises E1-E2, not E3"):
        read_ninapro(tmp_path / "DB7_s1" / "S1_E3_A1.mat")

    broken = tmp_path / "DB2_s4" / "S4_E1_A1.mat"
    broken.parent.mkdir()
    broken.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 40)
    with pytest.raises(MyostreamError, match=r"S4_E1_A1\.mat.*not a readable MATLAB file"):
        read_ninapro(broken)

    with pytest.raises(MyostreamError, match="does not exist"):
        read_ninapro_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MyostreamError, match="holds no S<subject>"):
        read_ninapro_folder(tmp_path / "empty")


def test_a_file_read_as_another_database_is_refused(tmp_path: Path) -> None:
    """A DB1 file (10 electrodes, 100 Hz) replayed with --database db2 was published as 2 kHz."""
    db1 = tmp_path / "S1_A1_E1.mat"
    write_ninapro_mat(db1, [1, 2], n_channels=10, reps=1, hold=5, rest=3)
    assert read_ninapro(db1).rate == 100.0
    with pytest.raises(
        MyostreamError, match=r"named like S<subject>_A1_E<exercise>.mat \(DB1\) but was read as NinaPro DB2"
    ):
        read_ninapro(db1, database="db2")
    renamed = tmp_path / "S1_E1_A1.mat"
    shutil.copy(db1, renamed)
    with pytest.raises(MyostreamError, match="has 10 electrodes but NinaPro DB2 recordings have 12"):
        read_ninapro(renamed, database="db2")
    with pytest.raises(MyostreamError, match=r"\(DB2/3/5/7\) but was read as NinaPro DB1"):
        read_ninapro(renamed, database="db1")
    assert read_ninapro(renamed, database="db3").n_channels == 10  # DB3 amputees have fewer electrodes
