"""``myostream report calibration``'s pieces that run in seconds: the protocol built from a real Myo
session's files, and bad input before any window opens (the scenarios themselves are the slow
tests/apps/test_calibration_e2e.py)."""

from __future__ import annotations

import pytest

from myostream.calibrate import load_protocol, trial_schedule
from myostream.cli import main
from myostream.data.myo import MYO_CLASSES, read_myo_session
from myostream_reports.calibration import MYO_PERSON, MYO_TRAINING, myo_protocol


def test_the_myo_protocol_follows_the_session_file_by_file(myo_dir, tmp_path):
    training = read_myo_session(myo_dir / "EvaluationDataset" / MYO_PERSON / MYO_TRAINING)
    protocol = load_protocol(myo_protocol(training, tmp_path / "myo.toml"))
    assert protocol.gestures == tuple(MYO_CLASSES) and protocol.repetitions == 4 and protocol.rest_s == 0
    # the protocol's holds last as long as the session: one file each, back to back
    assert protocol.duration_s - protocol.lead_in_s == pytest.approx(training.n_samples / training.rate, rel=1e-5)
    trials = trial_schedule(protocol)
    assert [t.gesture for t in trials[:7]] == list(MYO_CLASSES) and len(trials) == 28  # file order, round by round


def test_a_data_folder_without_the_myo_recordings_is_one_sentence(tmp_path, capsys):
    assert main(["report", "calibration", "--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "The Myo armband recordings are not in" in err and "\n" not in err and not (tmp_path / "out").exists()
    assert main(["report", "calibration", "--speed", "0"]) == 2
    assert "argument --speed: must be a positive number, not '0'" in capsys.readouterr().err
