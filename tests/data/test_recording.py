"""A recording is checked when it is made: NaN samples and labels outside its names are one sentence,
repaired only on request; windows, statistics and normalisers never hand NaN on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from myostream.cli import main
from myostream.data.ninapro import read_ninapro
from myostream.data.readers import read_recording
from myostream.data.windows import extract_windows
from myostream.errors import MyostreamError
from myostream.model import create_model
from myostream.records import Recording
from myostream.sources import replay_file
from tests.data.layouts import write_ninapro_mat
from tests.model.helpers import CLASS_IDS, prototypes, tiny_config


def recording(emg: np.ndarray, labels: np.ndarray | None = None, **kw) -> Recording:
    n, c = emg.shape
    return Recording(
        emg=emg,
        rate=100.0,
        labels=np.zeros(n, np.int16) if labels is None else labels,
        label_names=("rest", "fist"),
        channel_names=tuple(f"ch{i}" for i in range(c)),
        subject="s",
        source="file.mat",
        repetition=np.arange(n, dtype=np.int16),
        **kw,
    )


def noisy(n: int = 200, c: int = 3) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, c)).astype(np.float32)


def test_a_nan_sample_is_one_sentence_naming_the_recording_sample_and_channel():
    emg = noisy()
    emg[120, 2] = np.nan
    emg[150, 0] = -np.inf
    with pytest.raises(MyostreamError) as err:
        recording(emg)
    text = str(err.value)
    assert text.startswith("Recording 'file.mat': sample 120 (1.200 s), channel 2 (ch2) is nan, one of 2 sample(s)")
    assert "nonfinite='drop' or 'interpolate'" in text and "--nonfinite" in text


def test_drop_removes_the_samples_with_their_annotations():
    emg = noisy()
    emg[120, 2] = np.nan
    labels = np.zeros(200, np.int16)
    labels[100:] = 1
    rec = recording(emg, labels, nonfinite="drop")
    keep = np.arange(200) != 120
    np.testing.assert_array_equal(rec.emg, emg[keep])
    np.testing.assert_array_equal(rec.labels, labels[keep])
    np.testing.assert_array_equal(rec.repetition, np.arange(200)[keep])
    assert rec.meta["nonfinite"] == {"mode": "drop", "samples": 1}


def test_interpolate_fills_each_channel_from_its_neighbours():
    emg = noisy()
    emg[120:122, 2] = np.nan
    emg[0, 1] = np.inf  # at the start: the nearest finite value
    rec = recording(emg, nonfinite="interpolate")
    assert rec.n_samples == 200 and np.isfinite(rec.emg).all()
    np.testing.assert_allclose(rec.emg[120:122, 2], np.interp([120, 121], [119, 122], emg[[119, 122], 2]), rtol=1e-6)
    assert rec.emg[0, 1] == emg[1, 1]
    np.testing.assert_array_equal(
        np.delete(rec.emg, [120, 121], axis=0)[:, 0], np.delete(emg, [120, 121], axis=0)[:, 0]
    )
    flat = noisy()
    flat[:, 1] = np.nan
    with pytest.raises(MyostreamError, match="channel 1 holds no finite sample"):
        recording(flat, nonfinite="interpolate")


def test_a_label_outside_the_label_names_is_one_sentence_not_an_index_error():
    labels = np.zeros(200, np.int16)
    labels[42] = 7
    with pytest.raises(MyostreamError, match=r"'file.mat': label 7 at sample 42 is outside its 2 label names"):
        recording(noisy(), labels)
    labels[42] = -3
    with pytest.raises(MyostreamError, match="label -3 at sample 42"):
        recording(noisy(), labels)


def test_readers_take_the_repair_option(tmp_path: Path):
    path = tmp_path / "DB2_s1" / "S1_E1_A1.mat"
    values = write_ninapro_mat(path, [1, 2], reps=1, hold=5, rest=3)
    values["emg"][4, 7] = np.nan
    scipy.io.savemat(path, values)
    with pytest.raises(MyostreamError, match=r"S1_E1_A1\.mat': sample 4 .*channel 7"):
        read_recording(path)
    rec = read_recording(path, nonfinite="interpolate")
    assert np.isfinite(rec.emg).all() and rec.n_samples == len(values["emg"])
    assert read_ninapro(path, nonfinite="drop").n_samples == len(values["emg"]) - 1
    source = replay_file(path, nonfinite="drop", speed=0)
    assert source.recording.n_samples == len(values["emg"]) - 1
    with pytest.raises(MyostreamError, match="nonfinite must be one of error, drop, interpolate"):
        read_recording(path, nonfinite="zero")


def test_replay_command_exposes_the_repair(tmp_path: Path, capsys):
    path = tmp_path / "DB2_s1" / "S1_E1_A1.mat"
    values = write_ninapro_mat(path, [1, 2], reps=1, hold=50, rest=30)
    values["emg"][4, 7] = np.nan
    scipy.io.savemat(path, values)
    assert main(["replay", str(path), "--duration", "0.2"]) == 2
    assert "sample 4" in capsys.readouterr().err
    assert main(["replay", str(path), "--nonfinite", "interpolate", "--speed", "10", "--duration", "0.2"]) == 0
    err = capsys.readouterr().err
    assert "interpolated 1 sample(s) with NaN or infinite values" in err and "Traceback" not in err


def test_windows_statistics_and_normalisers_never_hand_nan_on():
    rec = recording(noisy(400, 4))
    rec.emg[250, 3] = np.nan  # what a lazily read file may hold: found when windows read it
    windows = extract_windows([rec], 200, 100)
    with pytest.raises(MyostreamError, match=r"'file.mat' has a NaN or infinite value at sample 250, channel 3"):
        windows.data()
    model = create_model(tiny_config(), prototypes(), CLASS_IDS)
    x = torch.randn(6, 20, 4)
    x[2, 5, 1] = float("nan")
    before = model.input_shift.clone()
    with pytest.raises(MyostreamError, match=r"channel 1\), so the model's input statistics would be NaN"):
        model.fit_input_stats(x)
    assert torch.equal(model.input_shift, before)


def test_windows_longer_than_every_recording_are_one_sentence():
    with pytest.raises(MyostreamError, match="longer than every recording .*lasts 2.00 s"):
        extract_windows([recording(noisy())], 5000, 100)
