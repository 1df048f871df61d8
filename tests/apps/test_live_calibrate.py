"""Calibration inside the live window, offscreen: a real simulated armband follows the cues, a real
session file is written, a real spawned process adapts a real checkpoint, the stream never restarts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from myostream.apps.live import AUTOMATIC, LiveWindow
from PyQt6 import QtCore

from myostream.data.session import read_session
from myostream.person_models import list_person_models, person_model_dir
from myostream.stream.simulated import SimulatedArmband
from tests.stream.checkpoints import simulated_checkpoint

WAIT_MS = 120000  # only stops a hung test; nothing here asserts speed
SHORT = """
name = "short"
gestures = ["rest", "fist", "open_hand", "pinch"]
repetitions = 2
hold_s = {hold}
rest_s = {rest}
lead_in_s = 0.3
order = "interleaved"
"""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return simulated_checkpoint(tmp_path_factory.getbasetemp())


def protocol(tmp_path: Path, hold: float = 1.2, rest: float = 0.4) -> Path:
    path = tmp_path / "short.toml"
    path.write_text(SHORT.format(hold=hold, rest=rest))
    return path


class CountingOpens(SimulatedArmband):
    """The simulated armband, counting how often the window opens it."""

    opens = 0

    def open(self) -> None:
        type(self).opens += 1
        super().open()


def running_window(qtbot, source, model) -> LiveWindow:
    w = LiveWindow(source=source, model=model, device="cpu")
    qtbot.addWidget(w)
    w.resize(1440, 880)
    w.show()
    w.start()
    qtbot.waitUntil(lambda: w.pipeline is not None and w.rankings.updates > 3, timeout=WAIT_MS)
    return w


def click(qtbot, button) -> None:
    assert button.isEnabled() and button.isVisible(), button.text()
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def test_calibrate_makes_a_person_model_and_ranks_with_it_without_restarting_the_stream(qtbot, checkpoint, tmp_path):
    CountingOpens.opens = 0
    armband = CountingOpens(user=11, schedule="random", hold_s=1.0, rest_s=0.5)
    w = running_window(qtbot, armband, checkpoint)
    pipeline = w.pipeline
    click(qtbot, w.calibrate_button)
    panel = w.calibration
    assert w.right.currentWidget() is panel and panel.page == "form"
    w.calibrate(protocol=protocol(tmp_path))
    assert "then simulated is adapted" in panel.intro.text() and panel.protocol_box.currentText() == "short"
    click(qtbot, panel.start_button)
    assert panel.page == "form" and "Enter the person's name" in panel.form_note.text()
    qtbot.keyClicks(panel.person, "Ada")
    click(qtbot, panel.start_button)
    assert panel.page == "record"
    qtbot.waitUntil(lambda: panel.cue.badge.text().strip() == "HOLD", timeout=WAIT_MS)
    assert armband.schedule == "manual"  # the simulated person follows the cues now
    assert panel.cue.title.text() in ("Rest", "Fist", "Open hand", "Pinch")
    qtbot.waitUntil(lambda: panel.page == "model", timeout=WAIT_MS)
    assert armband.schedule == "random"  # and goes back to their own gestures
    qtbot.waitUntil(lambda: panel.page == "result", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "live_s" in panel.timings, timeout=WAIT_MS)

    model = panel.person_model
    assert model is not None and model.path == person_model_dir("Ada", "simulated")
    assert w.model_path == model.path and w.pipeline is pipeline and pipeline.ranker is w.model
    assert CountingOpens.opens == 1  # one stream from the first ranking to the person's model
    assert "held-out repetition 2" in panel.result_scores.text() and "before →" in panel.result_scores.text()
    assert w.model_box.currentText() == "person: Ada · simulated"
    assert panel.timings["start_s"] < panel.timings["recorded_s"] < panel.timings["model_s"] <= panel.timings["live_s"]
    rec = read_session(panel.session_path)
    assert rec.meta["complete"] is True and rec.meta["subject"] == "Ada" and rec.meta["protocol"] == "short"
    assert [e.kind for e in rec.meta["events"]][-1] == "end"
    record = json.loads((model.path / "person.json").read_text())
    assert record["base"] == str(checkpoint) and record["session"] == str(panel.session_path)
    before = w.rankings.updates
    qtbot.waitUntil(lambda: w.rankings.updates > before + 3, timeout=WAIT_MS)  # ranking live, with Ada's model
    click(qtbot, panel.back_button)
    assert w.right.currentIndex() == 0
    w.close()

    # next time: a window on this device without a model picks Ada's again
    again = running_window(qtbot, "simulated", None)
    assert again.model_path == model.path and again.model_box.currentText() == "person: Ada · simulated"
    again.close()


def test_cancel_while_recording_keeps_the_stream_running_and_the_session_file(qtbot, checkpoint, tmp_path):
    w = running_window(qtbot, "simulated", checkpoint)
    pipeline, armband = w.pipeline, w.pipeline.source
    w.calibrate(protocol=protocol(tmp_path, hold=2.0), person="Bo")
    click(qtbot, w.calibration.start_button)
    qtbot.waitUntil(lambda: w.calibration.cue.badge.text().strip() == "HOLD", timeout=WAIT_MS)
    click(qtbot, w.calibration.cancel_record)
    assert w.right.currentIndex() == 0 and w.pipeline is pipeline and pipeline.running
    assert "Calibration cancelled; what was recorded is kept in" in w.banner.text() and w.banner.isVisible()
    assert armband.schedule == "cycle"
    rec = read_session(w.calibration.session_path)
    assert rec.meta["complete"] is True and [e.kind for e in rec.meta["events"]][-1] == "abort"
    before = w.rankings.updates
    qtbot.waitUntil(lambda: w.rankings.updates > before + 3, timeout=WAIT_MS)
    assert w.model_path == checkpoint and list_person_models() == []
    w.close()


def test_cancel_while_the_model_is_made_leaves_no_model(qtbot, checkpoint, tmp_path):
    w = running_window(qtbot, "simulated", checkpoint)
    pipeline = w.pipeline
    w.calibrate(protocol=protocol(tmp_path, hold=0.5, rest=0.2), person="Cy")
    click(qtbot, w.calibration.start_button)
    qtbot.waitUntil(lambda: w.calibration.page == "model", timeout=WAIT_MS)
    assert w.calibration.job is not None and w.calibration.model_bar.value() < 1000
    session = w.calibration.session_path
    click(qtbot, w.calibration.cancel_model)
    assert w.calibration.job is None and w.right.currentIndex() == 0
    assert f"the session is kept in {session}" in w.banner.text()
    assert list_person_models() == [] and read_session(session).meta["complete"] is True
    assert w.pipeline is pipeline and pipeline.running and w.model_path == checkpoint
    w.close()


def test_a_source_no_model_fits_streams_unranked_and_offers_calibration(qtbot, tmp_path):
    four = SimulatedArmband(n_channels=4)  # no bundled model takes four channels
    w = LiveWindow(source=four, device="cpu")
    qtbot.addWidget(w)
    w.show()
    w.start()
    qtbot.waitUntil(
        lambda: w.pipeline is not None and w.calibration.page == "form" and w.right.currentWidget() is w.calibration,
        timeout=WAIT_MS,
    )
    assert w.pipeline.ranker is None and w.model is None and w.no_model is not None
    assert "No model fits this source yet. No bundled model takes 4 channels" in w.calibration.offer.text()
    assert "a small model is trained from this session alone" in w.calibration.intro.text()
    assert w.calibration_base() == (None, None)
    assert w.status_labels["state"].text().startswith("streaming without a model")
    frames = w.frames
    qtbot.waitUntil(lambda: w.frames > frames + 5, timeout=WAIT_MS)  # the raw traces keep drawing
    x, y = w.traces._curves[3].getData()
    assert x is not None and len(x) > 100 and np.isfinite(y).all()
    w.add_text_query("make a fist")
    assert "need a model" in w.banner.text()
    click(qtbot, w.calibration.not_now)
    assert w.right.currentIndex() == 0 and w.pipeline.running
    w.close()


def test_a_device_no_model_fits_gets_a_model_trained_from_its_session_and_starts_ranking(
    qtbot, tmp_path, tmp_path_factory
):
    """Four channels: no bundled model, no person model. The offered calibration trains a small model from
    the session alone (a tiny text model and one epoch per stage here), and the stream starts ranking
    with it without being reopened."""
    from tests.train.tiny_runs import tiny_bert

    CountingOpens.opens = 0
    four = CountingOpens(n_channels=4, user=3, schedule="random", hold_s=1.0, rest_s=0.5)
    w = LiveWindow(source=four, device="cpu")
    qtbot.addWidget(w)
    w.show()
    w.start()
    qtbot.waitUntil(lambda: w.pipeline is not None and w.calibration.page == "form", timeout=WAIT_MS)
    pipeline, opens = w.pipeline, CountingOpens.opens
    w.calibration.job_options = {
        "train_epochs": (1, 1, 1),
        "text_steps": 5,
        "text_model": str(tiny_bert(tmp_path_factory.getbasetemp())),
    }
    w.calibrate(protocol=protocol(tmp_path, hold=1.0, rest=0.3), person="Fay")
    click(qtbot, w.calibration.start_button)
    qtbot.waitUntil(lambda: "live_s" in w.calibration.timings, timeout=WAIT_MS)
    model = w.calibration.person_model
    assert model.how == "trained" and model.before is None and model.n_channels == 4
    assert "there was no model before" in w.calibration.result_scores.text()
    assert w.pipeline is pipeline and CountingOpens.opens == opens and pipeline.ranking
    assert pipeline.ranker is w.model and w.model.config.n_channels == 4 and w.no_model is None
    before = w.rankings.updates
    qtbot.waitUntil(lambda: w.rankings.updates > before + 3, timeout=WAIT_MS)
    assert w.status_labels["state"].text().startswith("running")
    w.close()


def test_the_model_picker_lists_every_model_and_switches_without_restarting(qtbot, checkpoint):
    w = running_window(qtbot, CountingOpens(), None)
    opens = CountingOpens.opens
    items = [w.model_box.itemText(i) for i in range(w.model_box.count())]
    assert items[0] == AUTOMATIC and items[-1] == "Other checkpoint folder…"
    assert "bundled: simulated (8 ch, 1000 Hz)" in items and w.model_box.currentIndex() == 0
    assert w.model_label.text() == "myosem-simulated"  # what automatic chose for this source
    pipeline = w.pipeline
    w.set_model(checkpoint)
    qtbot.waitUntil(lambda: w.model_path == checkpoint and pipeline.ranker is w.model, timeout=WAIT_MS)
    assert w.model_box.currentText() == f"folder: {checkpoint.name}"
    before = w.rankings.updates
    qtbot.waitUntil(lambda: w.rankings.updates > before + 3, timeout=WAIT_MS)
    w.model_box.setCurrentIndex(0)
    w.model_box.activated.emit(0)  # automatic again
    qtbot.waitUntil(
        lambda: w.model_path is not None and w.model_path.name == "simulated" and pipeline.ranker is w.model,
        timeout=WAIT_MS,
    )
    assert w.pipeline is pipeline and CountingOpens.opens == opens
    assert w.model_box.currentIndex() == 0
    w.close()
