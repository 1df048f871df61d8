"""Person models: made from a real session file in a real spawned process, kept in the user's data folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from myostream.data.session import read_session
from myostream.errors import MyostreamError
from myostream.model.checkpoint import load_checkpoint
from myostream.person_models import (
    CalibrationJob,
    CalibrationRequest,
    device_name,
    find_person_model,
    list_person_models,
    person_model_dir,
    person_models_dir,
    run_calibration,
)
from tests.stream.checkpoints import simulated_checkpoint
from tests.train.sessions import simulate_session

SMALL = """
name = "small"
gestures = ["rest", "fist", "open_hand", "pinch"]
repetitions = {reps}
hold_s = 1.5
rest_s = 0.5
lead_in_s = 0.5
order = "interleaved"
"""


def session(tmp_path: Path, reps: int = 2, user: int = 11, subject: str = "Ada") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    protocol = tmp_path / f"small{reps}.toml"
    protocol.write_text(SMALL.format(reps=reps))
    return simulate_session(
        tmp_path / "sessions" / f"sub-{subject}_ses-1_small-{reps}.h5",
        str(protocol),
        user=user,
        session=0,
        subject=subject,
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return simulated_checkpoint(tmp_path_factory.getbasetemp())


def finish(job: CalibrationJob, timeout: float = 300.0):
    """Poll as a GUI timer would, until the job ends; returns every progress seen."""
    seen = [job.poll()]
    deadline = time.monotonic() + timeout
    while not seen[-1].done:
        assert time.monotonic() < deadline, seen[-1]
        time.sleep(0.1)
        seen.append(job.poll())
    return seen


def test_person_models_live_in_the_user_data_folder_named_by_person_and_device(user_data):
    assert person_models_dir() == user_data / "myostream" / "person-models"
    assert person_model_dir("Ada L.", "myo-lsl") == person_models_dir() / "Ada-L.--myo-lsl"
    assert [
        device_name(s)
        for s in (
            "simulated",
            "lsl:MyoStream",
            "lsl:type=EMG",
            "brainflow:SYNTHETIC_BOARD",
            "replay:/data/S1_A1_E1.mat",
            "devices/my-band.toml",
        )
    ] == ["simulated", "MyoStream", "EMG", "SYNTHETIC_BOARD", "S1_A1_E1", "my-band"]
    assert list_person_models() == [] and find_person_model("simulated", 8) is None


def test_a_calibration_job_adapts_the_base_in_a_background_process_and_keeps_the_model(base, tmp_path):
    path = session(tmp_path)
    before = path.read_bytes()
    older = person_model_dir("Ada", "simulated")  # Ada calibrated on this device before: replaced once complete
    older.mkdir(parents=True)
    (older / "config.json").write_text("{}")
    (older / "person.json").write_text(
        json.dumps(
            {
                "person": "Ada",
                "device": "simulated",
                "n_channels": 8,
                "rate": 1000.0,
                "created": "2020-01-01T00:00:00",
                "how": "adapted",
            }
        )
    )
    assert [m.created for m in list_person_models()] == ["2020-01-01T00:00:00"]
    job = CalibrationJob(CalibrationRequest(path, "Ada", "simulated", base=base, threads=1))
    assert list_person_models()[0].created.startswith("2020")  # kept while the new one is made
    seen = finish(job)
    last = seen[-1]
    assert last.error is None and last.model is not None, last
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("epoch" in p.stage for p in seen) and any(p.seconds_left is not None for p in seen[:-1])
    model = last.model
    assert model.path == person_model_dir("Ada", "simulated") and model.how == "adapted"
    assert 0.0 <= model.before <= 1.0 and 0.0 <= model.after <= 1.0
    record = json.loads((model.path / "person.json").read_text())
    assert record["held_out"] == 2 and record["base"] == str(base) and record["session"] == str(path)
    adapted = load_checkpoint(model.path)  # a checkpoint like any other
    assert adapted.metadata["adaptation"]["holdout_repetition"] == 2
    assert list_person_models() == [model] and find_person_model("simulated", 8) == model
    assert find_person_model("simulated", 4) is None and find_person_model("myo-lsl", 8) is None
    assert path.read_bytes() == before  # the session file is only read
    assert [p.name for p in person_models_dir().iterdir()] == ["Ada--simulated"]  # no staging or old folder left


def test_cancelling_a_job_leaves_no_model_and_the_session_intact(base, tmp_path):
    path = session(tmp_path)
    before = path.read_bytes()
    job = CalibrationJob(CalibrationRequest(path, "Bo", "simulated", base=base, threads=1))
    job.cancel()
    job.cancel()  # twice is fine
    result = job.poll()
    assert result.done and result.error == "Calibration cancelled." and result.model is None
    assert list(person_models_dir().iterdir()) == [] and path.read_bytes() == before
    assert read_session(path).meta["complete"] is True


def test_a_session_without_two_repetitions_is_one_sentence(base, tmp_path):
    job = CalibrationJob(CalibrationRequest(session(tmp_path, reps=1), "Cy", "simulated", base=base, threads=1))
    result = finish(job)[-1]
    assert result.error is not None and "holds 1 complete repetition(s); calibration needs at least two" in result.error
    assert list(person_models_dir().iterdir()) == []


def test_an_unwritable_data_folder_is_one_sentence_before_any_work(monkeypatch, read_only_dir, base, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(read_only_dir))
    with pytest.raises(MyostreamError, match="Cannot .* person models"):
        CalibrationJob(CalibrationRequest(tmp_path / "s.h5", "Di", "simulated", base=base))


def test_without_a_base_a_small_model_is_trained_from_the_session_alone(tmp_path, tmp_path_factory):
    from tests.train.tiny_runs import tiny_bert

    work = tmp_path / "work"
    work.mkdir()
    said: list[str] = []
    request = CalibrationRequest(
        session(tmp_path, reps=3, user=12),
        "Eve",
        "my-band",
        base=None,
        filter_profile="simulated",
        train_epochs=(1, 1, 1),
        text_steps=5,
        text_model=str(tiny_bert(tmp_path_factory.getbasetemp())),
    )
    record = run_calibration(request, work, say=said.append)
    assert record["how"] == "trained" and record["before"] is None and 0.0 <= record["after"] <= 1.0
    assert record["held_out"] == 3 and "plan: 3 epochs" in said
    model = load_checkpoint(work / "model")
    assert (model.config.n_channels, model.config.rate) == (8, 1000.0)
    assert model.config.window_samples == 200 and model.config.patch == 20  # ten 20 ms patches
    assert set(model.class_ids) == {"rest", "fist", "open_hand", "pinch"}
    assert model.preprocessing.normalisation == "channel" and model.preprocessing.filter.highpass == 20.0
    epochs = (work / "model" / "train.jsonl").read_text().splitlines()
    assert sum('"epoch"' in line and '"selected"' not in line for line in epochs) == 3
