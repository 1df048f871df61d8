"""End to end (issue 16): calibrate inside the offscreen live window, then measure live top-1 before and after.

1. A simulated person the bundled model never saw (user 11), the simulated armband driven by the
   ``quick`` protocol's cues, calibrated and adapted inside the window; live top-1 on that person's
   own gesture schedule before and after, on one stream that never restarts.
2. A real Myo armband person (EvaluationDataset, ``myo_dir``): their ``training0`` session replayed
   as the device, following a protocol built from its files (each ``classe_<i>.dat`` one held
   gesture, in file order), calibrated in the window; live top-1 on their ``Test0`` session (another
   day, the band put on again) before and after, and the wall time from "Calibrate" to ranking live.

Both are slow (minutes): ``pytest -m slow tests/apps/test_calibration_e2e.py -s`` prints the numbers.
Live top-1 counts every ranking whose window has a true class, once the wearer's level has settled.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pytest
from PyQt6 import QtCore

from myostream.apps.live import LiveWindow
from myostream.runtime import bundled_checkpoint, bundled_models
from myostream.stream.replay import CuedReplaySource, ReplaySource
from myostream.stream.simulated import SimulatedArmband

pytestmark = pytest.mark.slow
WAIT_MS = 1_800_000  # only stops a hung test
#: Myo person and replay speed (the protocol's cues run as fast: 5 s holds become 0.5 s)
MYO_PERSON, MYO_SPEED = "Male0", 10.0
#: a 200 Hz 8-channel base trained quickly when none is bundled: `myostream train` of the Myo experiment,
#: fewer windows and epochs (the bundled models/bundled/myo-armband is used once it exists)
QUICK_MYO = """
name = "myosem-myo-quick"
description = "A quickly trained Myo armband base for the end-to-end calibration test."
model = "myosem-myo"

[data]
source = "myo"
hop_ms = 200
filter = "myo-armband-dataset"
normalisation = "channel"

[augment]
rotation = 0.5
gain = 0.2
noise = 0.05

[protocol]
name = "cross-user"
test_subjects = ["Female3", "Male5"]

[text]
catalogs = ["armband"]
train_layers = 0

[stage2]
epochs = 4

[stage3]
epochs_a = 3
epochs_b = 2
"""


def click(qtbot, button) -> None:
    assert button.isEnabled() and button.isVisible(), button.text()
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def live_top1(qtbot, window: LiveWindow, seconds: float | None = None) -> tuple[float, int]:
    """Top-1 of the window's live rankings over ``seconds`` (or until a replay ends): the share of
    rankings whose best description is the window's true class, once the wearer's level settled."""
    got = []
    pipeline = window.pipeline
    pipeline.on_ranking = got.append
    if seconds is not None:
        qtbot.wait(int(seconds * 1000))
    else:
        qtbot.waitUntil(lambda: pipeline.source.exhausted, timeout=WAIT_MS)
        qtbot.wait(500)
    pipeline.on_ranking = None
    assert pipeline.error is None, pipeline.error
    scored = [r.top[0].class_id == r.true_class for r in list(got) if r.true_class is not None and not r.settling]
    assert len(scored) > 50, f"only {len(scored)} rankings to score"
    return statistics.fmean(scored), len(scored)


def calibrate(qtbot, window: LiveWindow, person: str, **form) -> dict[str, float]:
    """Press Calibrate…, fill the form in, follow it to the person's model ranking live; the step times."""
    click(qtbot, window.calibrate_button)
    window.calibrate(**form)
    panel = window.calibration
    panel.person.setText(person)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: "live_s" in panel.timings or panel.model_error.text(), timeout=WAIT_MS)
    assert not panel.model_error.text(), panel.model_error.text()
    assert window.model_path == panel.person_model.path
    return dict(panel.timings)


def report(name: str, numbers: dict) -> None:
    print(f"\n[calibration e2e] {name}: {json.dumps(numbers)}")


def test_a_simulated_person_calibrated_in_the_window(qtbot, record_property):
    person = SimulatedArmband(user=11, schedule="random", hold_s=2.0, rest_s=1.0)  # a person the base never saw
    window = LiveWindow(source=person, model=bundled_checkpoint(), device="cpu")
    qtbot.addWidget(window)
    window.resize(1440, 880)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.pipeline is not None and window.rankings.updates > 10, timeout=WAIT_MS)
    pipeline = window.pipeline
    before, n_before = live_top1(qtbot, window, seconds=60.0)
    timings = calibrate(qtbot, window, "sim-user11", protocol="quick", speed=2.0)
    assert window.pipeline is pipeline  # the same stream throughout
    after, n_after = live_top1(qtbot, window, seconds=60.0)
    model = window.calibration.person_model
    numbers = {"live_top1_before": round(before, 3), "live_top1_after": round(after, 3), "rankings": [n_before, n_after],
               "held_out_top1_before": model.before, "held_out_top1_after": model.after, **timings}
    report("simulated user 11, quick protocol at 2x", numbers)
    record_property("numbers", numbers)
    assert after > before
    window.close()


@pytest.fixture(scope="module")
def myo_base(myo_dir, tmp_path_factory) -> Path:
    """A 200 Hz 8-channel Myo base: the bundled one, else ``MYOSTREAM_MYO_BASE``, else trained quickly here."""
    for m in bundled_models():
        if m.n_channels == 8 and abs(m.rate - 200.0) < 1e-6:
            return m.path
    given = os.environ.get("MYOSTREAM_MYO_BASE")
    if given:
        return Path(given)
    from myostream.cli import main

    root = tmp_path_factory.mktemp("myo-base")
    (root / "myo-quick.toml").write_text(QUICK_MYO)
    assert main(["train", str(root / "myo-quick.toml"), "--data", str(myo_dir / "PreTrainingDataset"),
                 "--out", str(root / "base"), "--threads", "2"]) == 0
    return root / "base"


def test_a_real_myo_session_replayed_as_the_device_calibrated_in_the_window(qtbot, myo_dir, myo_base, tmp_path):
    from myostream.data.myo import MYO_CLASSES, read_myo_session

    folder = myo_dir / "EvaluationDataset" / MYO_PERSON
    training, test = read_myo_session(folder / "training0"), read_myo_session(folder / "Test0")
    # The protocol built from the files: classe_<i>.dat holds class i % 7 in cycle i // 7, five seconds each,
    # back to back: the seven classes in file order, one round per cycle.
    cycles = int(training.repetition.max())
    hold_s = training.n_samples / training.rate / (cycles * len(MYO_CLASSES))
    protocol = tmp_path / "myo-evaluation.toml"
    protocol.write_text(
        f'name = "myo-evaluation"\ndescription = "The Myo armband dataset\'s training0 protocol."\n'
        f"gestures = {json.dumps(list(MYO_CLASSES))}\nrepetitions = {cycles}\nhold_s = {hold_s:g}\nrest_s = 0\n"
        'lead_in_s = 2\norder = "interleaved"\n'
    )

    window = LiveWindow(source=ReplaySource(test, speed=MYO_SPEED), model=myo_base, device="cpu")
    qtbot.addWidget(window)
    window.resize(1440, 880)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.pipeline is not None and window.rankings.updates > 0, timeout=WAIT_MS)
    before, n_before = live_top1(qtbot, window)

    window.set_source(CuedReplaySource(training, speed=MYO_SPEED, name=f"{MYO_PERSON} training0"))
    qtbot.waitUntil(lambda: window.pipeline is not None and window.rankings.updates > 0, timeout=WAIT_MS)
    timings = calibrate(qtbot, window, MYO_PERSON, protocol=str(protocol), speed=MYO_SPEED)
    model = window.calibration.person_model
    assert model.how == "adapted" and json.loads((model.path / "person.json").read_text())["held_out"] == cycles

    window.set_source(ReplaySource(test, speed=MYO_SPEED))
    qtbot.waitUntil(lambda: window.pipeline is not None and window.model_path == model.path, timeout=WAIT_MS)
    after, n_after = live_top1(qtbot, window)
    numbers = {"live_top1_before": round(before, 3), "live_top1_after": round(after, 3), "rankings": [n_before, n_after],
               "held_out_top1_before": model.before, "held_out_top1_after": model.after,
               "calibrate_to_live_s": timings["live_s"], "replay_speed": MYO_SPEED, "base": str(myo_base), **timings}
    report(f"Myo armband {MYO_PERSON}, training0 -> Test0", numbers)
    assert after > before
    window.close()
