"""Plain tables (CSV, TSV, text, .npy, .npz) with a dataset.toml sidecar read as Recordings."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from myostream.data import read_dataset, read_recording
from myostream.data.readers import detect_format
from myostream.errors import MyostreamError

LIBEMG_SIDECAR = """
dataset = "libemg-style"
rate = 200
unit = "mV"
duration_s = 1.0

[labels]
0 = "rest"
1 = "fist"
2 = "open_hand"

[filename]
pattern = 'S(?P<subject>\\d+)/R_(?P<repetition>\\d+)_C_(?P<label>\\d+)\\.csv'
"""


def libemg_folder(
    root: Path, subjects: int = 2, reps: int = 2, classes: int = 3
) -> dict[tuple[int, int, int], np.ndarray]:
    """LibEMG's OfflineDataHandler layout: S<subject>/R_<rep>_C_<class>.csv, comma-separated EMG only."""
    written = {}
    rng = np.random.default_rng(0)
    for s in range(1, subjects + 1):
        (root / f"S{s}").mkdir(parents=True)
        for r in range(1, reps + 1):
            for c in range(classes):
                emg = np.round(rng.normal(0, 1, (200, 8)), 4)
                np.savetxt(root / f"S{s}" / f"R_{r}_C_{c}.csv", emg, delimiter=",", fmt="%.4f")
                written[s, r, c] = emg
    (root / "dataset.toml").write_text(LIBEMG_SIDECAR)
    (root / "README.txt").write_text("Recorded with a Myo armband, 8 channels.\n")  # not a recording: no pattern match
    return written


def test_libemg_folder_metadata_from_file_names(tmp_path: Path) -> None:
    written = libemg_folder(tmp_path / "data")
    recs = read_dataset(tmp_path / "data")
    assert len(recs) == 12 and detect_format(tmp_path / "data" / "S1" / "R_1_C_0.csv") == "table"
    by_key = {(r.subject, int(r.repetition[0]), r.label_names[r.labels[0]]): r for r in recs}
    rec = by_key["2", 2, "open_hand"]
    np.testing.assert_allclose(rec.emg, written[2, 2, 2], atol=1e-6)
    assert rec.rate == 200.0 and rec.unit == "mV" and rec.dataset == "libemg-style" and rec.n_channels == 8
    assert rec.channel_names[0] == "EMG1" and (rec.labels == 0).all() and rec.label_names == ("open_hand",)
    assert {r.subject for r in recs} == {"1", "2"} and {int(r.repetition[0]) for r in recs} == {1, 2}
    # one file alone finds the sidecar in a parent folder
    assert read_recording(tmp_path / "data" / "S1" / "R_2_C_1.csv").label_names == ("fist",)


def session_csv(path: Path, n: int = 1000, rate: float = 500.0) -> tuple[np.ndarray, list[str]]:
    """One session per file: a header, a time column in ms, 4 EMG columns and a label column of words."""
    rng = np.random.default_rng(1)
    emg = np.round(rng.normal(0, 1, (n, 4)), 5)
    words = (["relax"] * 200 + ["grip"] * 200) * (n // 400) + ["relax"] * (n % 400)
    lines = ["time_ms,ch_a,ch_b,ch_c,ch_d,gesture"]
    lines += [f"{1000 * k / rate:.3f},{','.join(f'{v:.5f}' for v in emg[k])},{words[k]}" for k in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return emg, words


SESSION_SIDECAR = """
rate = 500
[columns]
header = true
time = "time_ms"
time_unit = "ms"
label = "gesture"
[labels]
relax = "rest"
grip = "fist"
"""


def test_label_column_header_names_and_derived_repetitions(tmp_path: Path, caplog) -> None:
    emg, words = session_csv(tmp_path / "sub-07_ses-1_task-grip.csv")
    (tmp_path / "dataset.toml").write_text(SESSION_SIDECAR)
    with caplog.at_level(logging.WARNING):
        rec = read_recording(tmp_path / "sub-07_ses-1_task-grip.csv")
    assert not caplog.text  # 1000 rows at 500 Hz span 2 s: as stated
    np.testing.assert_allclose(rec.emg, emg, atol=1e-6)
    assert rec.channel_names == ("ch_a", "ch_b", "ch_c", "ch_d") and rec.label_names == ("rest", "fist")
    assert (rec.subject, rec.session, rec.exercise, rec.dataset) == ("07", "1", "grip", tmp_path.name)
    assert [rec.label_names[k] for k in rec.labels[[0, 200, 400, 600]]] == ["rest", "fist", "rest", "fist"]
    assert rec.repetition[250] == 1 and rec.repetition[650] == 2 and rec.repetition[450] == 0
    np.testing.assert_allclose(rec.meta["timestamps"], np.arange(1000) / 500.0)
    # the same table as TSV and as whitespace text reads the same
    text = (tmp_path / "sub-07_ses-1_task-grip.csv").read_text()
    (tmp_path / "b.tsv").write_text(text.replace(",", "\t"))
    (tmp_path / "c.txt").write_text(text.replace(",", "   "))
    for name in ("b.tsv", "c.txt"):
        np.testing.assert_array_equal(read_recording(tmp_path / name).emg, rec.emg)


def test_malformed_lines_are_named_and_rejected_or_skipped(tmp_path: Path, caplog) -> None:
    session_csv(tmp_path / "s.csv", n=400)
    lines = (tmp_path / "s.csv").read_text().splitlines()
    lines[10] = lines[10].rsplit(",", 2)[0]  # line 11: two fields short
    lines[20] = lines[20].replace(",", ",x", 1).replace(",x", ",abc", 1)  # line 21: a word in an EMG column
    lines.insert(30, "# operator note: electrode 3 re-taped")  # comments and blank lines are not data
    lines.insert(31, "")
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "dataset.toml").write_text(SESSION_SIDECAR)
    with pytest.raises(
        MyostreamError,
        match=r"s\.csv' has 2 malformed line\(s\): line 11 has 4 fields, expected 6; "
        r"line 21: 'abcx?[-0-9.]*' in column ch_a is not a number; .*bad_lines = \"skip\"",
    ):
        read_recording(tmp_path / "s.csv")
    with caplog.at_level(logging.WARNING, logger="myostream.data.tables"):
        rec = read_recording(tmp_path / "s.csv", bad_lines="skip")
    assert rec.n_samples == 398 and rec.meta["skipped_lines"] == [11, 21]
    assert "left out 2 malformed line(s) (11, 21)" in caplog.text
    # a header line read as data: the message says what to set
    (tmp_path / "dataset.toml").write_text(
        'rate = 500\n[columns]\nlabel = 5\n[labels]\nrelax = "rest"\ngrip = "fist"\n'
    )
    with pytest.raises(MyostreamError, match=r"line 1: 'time_ms' in column 0 is not a number.*set header = true"):
        read_recording(tmp_path / "s.csv")
    (tmp_path / "dataset.toml").write_text(
        'rate = 500\nbad_lines = "skip"\n[columns]\nlabel = 5\n[labels]\nrelax = "rest"\ngrip = "fist"\n'
    )
    assert read_recording(tmp_path / "s.csv").meta["skipped_lines"] == [1, 11, 21]  # the sidecar sets the policy


def test_row_count_that_disagrees_with_rate_and_duration_warns(tmp_path: Path, caplog) -> None:
    libemg_folder(tmp_path / "data", subjects=1, reps=1, classes=1)
    path = tmp_path / "data" / "S1" / "R_1_C_0.csv"
    path.write_text("\n".join(path.read_text().splitlines()[:150]) + "\n")  # 150 rows, stated 1 s at 200 Hz
    with caplog.at_level(logging.WARNING, logger="myostream.data.tables"):
        rec = read_recording(path)
    assert rec.n_samples == 150
    assert "has 150 samples, but duration_s = 1 s at 200 Hz makes 200; check rate" in caplog.text


def test_numpy_tables(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    emg = rng.normal(size=(600, 6)).astype(np.float32)
    labels = np.repeat([0, 3, 0], 200)
    np.save(tmp_path / "subj1.npy", np.column_stack([emg, labels]))
    (tmp_path / "dataset.toml").write_text('rate = 1000\n[columns]\nlabel = 6\n[labels]\n0 = "rest"\n3 = "point"\n')
    rec = read_recording(tmp_path / "subj1.npy")
    np.testing.assert_array_equal(rec.emg, emg)
    assert rec.label_names == ("rest", "point") and rec.labels[300] == 1 and rec.repetition[300] == 1
    (tmp_path / "dataset.toml").write_text("rate = 1000\n[columns]\nlabel = 6\n")  # numbers, and no table for them
    with pytest.raises(MyostreamError, match=r"holds label\(s\) '0', '3', which are not class ids; map them"):
        read_recording(tmp_path / "subj1.npy")
    np.savez(tmp_path / "subj2.npz", data=emg, y=labels.astype(np.int8))
    (tmp_path / "dataset.toml").write_text(
        'rate = 1000\n[columns]\nemg = "data"\nlabel = "y"\n[labels]\n0 = "rest"\n3 = "point"\n'
    )
    rec = read_recording(tmp_path / "subj2.npz")
    np.testing.assert_array_equal(rec.emg, emg)
    assert rec.labels[300] == 1
    (tmp_path / "dataset.toml").write_text('rate = 1000\n[columns]\nemg = "emg"\n')
    with pytest.raises(MyostreamError, match=r"has no array 'emg' \(\[columns\] emg\); it holds data, y"):
        read_recording(tmp_path / "subj2.npz")


def test_sidecar_problems_are_one_sentence(tmp_path: Path) -> None:
    session_csv(tmp_path / "s.csv", n=400)
    with pytest.raises(MyostreamError, match=r"s\.csv' has no dataset\.toml in its folder or a parent; write one"):
        read_recording(tmp_path / "s.csv")
    half_table = 'rate = 500\n[columns]\nheader = true\nlabel = "gesture"\n[labels]\nrelax = "rest"\n'
    cases = {
        "rate = 0\n": "rate must be a positive number of Hz",
        "[columns]\nheader = true\n": "gives no rate; add rate",
        "rate = 500\nfrequency = 3\n": r"dataset\.toml' has unknown key 'frequency'; allowed keys are bad_lines, columns",
        'rate = 500\n[columns]\nheader = true\nlabel = "class"\n': r"names column 'class', which the header \(time_ms",
        half_table: r"holds label\(s\) 'grip' that \[labels\] in .* does not map; add them there",
        'rate = 500\n[labels]\nrelax = "a fist"\n': r"\[labels\] must map values to class ids .*relax = 'a fist'",
        "rate = 500\n[filename]\npattern = '(?P<who>.*)'\n": "pattern has group\\(s\\) who; name groups subject",
        "rate = 500\n[filename]\npattern = '^S\\\\d+'\n": "does not match the \\[filename\\] pattern",
        "rate = [500\n": "is not valid TOML",
    }
    for text, message in cases.items():
        (tmp_path / "dataset.toml").write_text(text)
        with pytest.raises(MyostreamError, match=message):
            read_recording(tmp_path / "s.csv")
    (tmp_path / "dataset.toml").write_text("rate = 500\n[columns]\nheader = true\n")
    with pytest.raises(MyostreamError, match="bad_lines must be"):
        read_recording(tmp_path / "s.csv", bad_lines="ignore")
    with pytest.raises(MyostreamError, match=r"is a file, not a dataset folder"):
        read_dataset(tmp_path / "s.csv")
    (tmp_path / "dataset.toml").unlink()
    with pytest.raises(MyostreamError, match="holds none of the NinaPro .mat, .*LabRecorder .xdf and table"):
        read_dataset(tmp_path)


def test_train_data_folder_and_adapt_sessions_take_tables(tmp_path: Path) -> None:
    from myostream.train.adapt import read_sessions
    from myostream.train.experiment import load_experiment

    libemg_folder(tmp_path / "data", subjects=1)
    assert load_experiment("myosem-simulated", data_folder=str(tmp_path / "data")).data.source == "table"
    assert len(read_sessions(tmp_path / "data")) == 6
    assert read_sessions(tmp_path / "data" / "S1" / "R_1_C_2.csv")[0].label_names == ("open_hand",)
