"""The live retrieval window, offscreen with pytest-qt: real sources, a real checkpoint, real LSL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from myostream.apps.live import LiveWindow, live_command, live_self_calibration, load_text_encoder
from myostream.apps.live_panels import NO_MATCH
from PyQt6 import QtCore, QtGui

from myostream.cli import main
from myostream.errors import MyostreamError
from myostream.model.checkpoint import load_checkpoint, save_checkpoint
from myostream.rejection import Rejection
from myostream.runtime import bundled_checkpoint
from myostream.stream.lsl import publish
from myostream.stream.simulated import SimulatedArmband
from tests.stream.checkpoints import simulated_checkpoint

WAIT_MS = 30000  # only stops a hung test; nothing here asserts speed


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    return simulated_checkpoint(tmp_path_factory.getbasetemp())


@pytest.fixture
def window(qtbot, checkpoint):
    """The window on its default source; the bundled model when it is there, else the test checkpoint."""
    try:
        model = bundled_checkpoint()
    except MyostreamError:
        model = checkpoint
    w = LiveWindow(model=model, device="cpu")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def rankings_arrive(qtbot, w: LiveWindow, n: int = 3) -> None:
    start = w.rankings.updates
    qtbot.waitUntil(lambda: w.rankings.updates >= start + n, timeout=WAIT_MS)


def test_window_starts_on_the_default_and_updates_every_panel(qtbot, window, tmp_path):
    assert window.picked_spec() == "simulated"
    window.start()
    rankings_arrive(qtbot, window, 5)
    p = window.pipeline
    assert p is not None and p.info.name == "simulated" and p.device == "cpu"
    assert p.self_calibrate is not None  # a ring band's wearer would be met without labels
    labels = window.rankings.labels()
    catalog_labels = {e.label for e in window.model.catalog.values()}
    assert len(labels) == 5 and set(labels) <= catalog_labels and len(set(labels)) == 5
    assert labels[0] == window.model.catalog[window.last_ranking.top[0].class_id].label
    assert "true gesture" in window.rankings.truth.text()
    # the traces show every channel, the heat strip the newest window
    qtbot.waitUntil(lambda: window.traces.frames > 3, timeout=WAIT_MS)
    assert window.traces.n_channels == 8
    x, y = window.traces._curves[7].getData()
    assert len(x) > 100 and x[-1] == pytest.approx(0.0, abs=0.01) and (np.diff(x) >= 0).all()
    # the heat strip shows the newest window's RMS (channels x patches) and one attention line per query
    np.testing.assert_allclose(window.heat.image.image, window.last_ranking.rms.T, rtol=1e-6)
    assert window.heat.image.image.shape == (8, 10) and len(window.heat._lines) == 4
    qtbot.waitUntil(lambda: "rate" in window.status_labels["rate"].text(), timeout=WAIT_MS)
    assert "latency p50" in window.status_labels["latency"].text()
    assert window.status_labels["device"].text() == "torch cpu"
    png = window.save_screenshot(tmp_path / "live.png")
    image = QtGui.QImage(str(png))
    assert not image.isNull() and image.width() == window.width() and image.height() == window.height()


def test_no_confident_match_instead_of_a_wrong_first_description(qtbot, checkpoint, tmp_path):
    def with_rule(name: str, threshold: float) -> Path:
        folder = shutil.copytree(checkpoint, tmp_path / name)
        model = load_checkpoint(folder)
        model.rejection = Rejection("margin", threshold=threshold)
        save_checkpoint(model, folder)
        return folder

    # margins of cosine scores never reach 2: the model is confident about no window
    w = LiveWindow(model=with_rule("strict", 2.0), device="cpu")
    qtbot.addWidget(w)
    w.show()
    w.start()
    rankings_arrive(qtbot, w, 5)
    labels = w.rankings.labels()
    catalog_labels = {e.label for e in w.model.catalog.values()}
    assert labels[0] == NO_MATCH and not w.last_ranking.confident
    # the candidates stay, greyed, under their own ranks
    assert set(labels[1:]) <= catalog_labels and len(set(labels[1:])) == 4
    assert [row.rank.text() for row in w.rankings.rows] == ["–", "1", "2", "3", "4"]
    first = w.rankings.rows[0].description.text()
    assert "not confident enough to show" in first and "above 2.00" in first
    assert "confident 0%" in w.rankings.agreement.toolTip()
    png = w.save_screenshot(tmp_path / "no-match.png")
    assert not QtGui.QImage(str(png)).isNull()
    # a rule that accepts everything shows the first description again, in the same rows
    w.set_model(with_rule("lenient", -1.0))
    rankings_arrive(qtbot, w, 5)
    labels = w.rankings.labels()
    assert w.last_ranking.confident and set(labels) <= catalog_labels and len(set(labels)) == 5
    assert [row.rank.text() for row in w.rankings.rows] == ["1", "2", "3", "4", "5"]
    w.close()


def test_free_text_query_gets_a_trace(qtbot, window):
    window.start()
    rankings_arrive(qtbot, window)
    qtbot.keyClicks(window.text.edit, "make a fist")
    qtbot.keyClick(window.text.edit, QtCore.Qt.Key.Key_Return)
    assert window.text.edit.text() == ""
    qtbot.waitUntil(lambda: window.text.queries == ["make a fist"], timeout=WAIT_MS)
    points, curve, _ = window.text._traces["make a fist"]
    qtbot.waitUntil(lambda: len(curve.getData()[0] if curve.getData()[0] is not None else []) >= 5, timeout=WAIT_MS)
    values = np.array([v for _, v in points])
    assert np.all(np.abs(values) <= 1.0 + 1e-5)
    # the typed text was encoded by the checkpoint's own text encoder (the prototypes' space)
    expected = load_text_encoder(window.model_path, window.model).encode(["make a fist"])[0].numpy()
    np.testing.assert_allclose(window._text_embeddings["make a fist"], expected, atol=1e-5)
    assert set(window.last_ranking.text_scores) == {"make a fist"}
    window.add_text_query("point with the index finger")
    qtbot.waitUntil(lambda: len(window.text.queries) == 2, timeout=WAIT_MS)
    window.text.remove_query("make a fist")
    qtbot.waitUntil(lambda: set(window.last_ranking.text_scores) == {"point with the index finger"}, timeout=WAIT_MS)


def test_switching_source_to_an_lsl_stream(qtbot, window, stream_name):
    stop = threading.Event()
    publisher = threading.Thread(target=publish, args=(SimulatedArmband(seed=4), stream_name), kwargs={"stop": stop})
    publisher.start()
    try:
        window.start()
        rankings_arrive(qtbot, window)
        window.source_kind.setCurrentIndex(2)  # LSL stream
        window.source_detail.setCurrentText(stream_name)
        assert window.picked_spec() == f"lsl:{stream_name}"
        assert window.start_button.text() == "Switch to this source"
        qtbot.mouseClick(window.start_button, QtCore.Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: window.pipeline is not None and window.pipeline.info.name == stream_name, timeout=WAIT_MS
        )
        rankings_arrive(qtbot, window)
        # the publisher's NAME-markers carry the simulator's class ids: the true gesture is known
        qtbot.waitUntil(lambda: window.last_ranking.true_class is not None, timeout=WAIT_MS)
        assert window.last_ranking.true_class in window.pipeline.info.label_names
        qtbot.waitUntil(lambda: "unknown" not in window.rankings.truth.text(), timeout=WAIT_MS)
        assert window.start_button.text() == "Stop"
        assert stream_name in window.trace_info.text()
        qtbot.mouseClick(window.start_button, QtCore.Qt.MouseButton.LeftButton)
        assert window.pipeline is None and window.start_button.text() == "Start"
    finally:
        stop.set()
        publisher.join()


def test_pause_freezes_and_resume_continues(qtbot, window):
    window.start()
    rankings_arrive(qtbot, window)
    qtbot.mouseClick(window.pause_button, QtCore.Qt.MouseButton.LeftButton)
    assert window.pipeline.paused and window.pause_button.text() == "Resume"
    assert window.status_labels["state"].text() == "paused"
    qtbot.mouseClick(window.pause_button, QtCore.Qt.MouseButton.LeftButton)
    assert not window.pipeline.paused
    rankings_arrive(qtbot, window)


def test_a_bad_source_shows_one_sentence_and_the_window_stays_usable(qtbot, window, tmp_path):
    window.set_source(f"replay:{tmp_path / 'missing.mat'}")
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
    assert "missing.mat" in window.banner.text() and window.pipeline is None
    window.set_source("simulated")
    rankings_arrive(qtbot, window)
    assert window.banner.isHidden()
    window.set_source("simulated:6")  # unknown device profile
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
    assert "Unknown device" in window.banner.text()


def test_closing_stops_every_thread(qtbot, checkpoint):
    before = set(threading.enumerate())
    w = LiveWindow(model=checkpoint, device="cpu")
    qtbot.addWidget(w)
    w.show()
    w.start()
    rankings_arrive(qtbot, w)
    w.add_text_query("open the hand")
    qtbot.waitUntil(lambda: w.text.queries == ["open the hand"], timeout=WAIT_MS)
    assert len(set(threading.enumerate()) - before) >= 2
    w.close()
    assert set(threading.enumerate()) == before
    assert w.pipeline is None


def test_live_command_runs_for_a_duration_and_saves_a_screenshot(qtbot, checkpoint, tmp_path):
    png = tmp_path / "shot.png"
    assert live_command("simulated", model=str(checkpoint), device="cpu", duration=1.5, screenshot=str(png)) == 0
    assert not QtGui.QImage(str(png)).isNull()


def test_live_command_reports_bad_input_in_one_sentence(checkpoint, tmp_path, capsys):
    assert main(["live", "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    assert (
        main(["live", "--model", str(checkpoint), "--source", "replay:" + str(tmp_path / "x.mat"), "--device", "cpu"])
        == 2
    )
    assert "x.mat" in capsys.readouterr().err


def test_default_checkpoint_is_the_bundled_folder_or_a_clear_error():
    try:
        path = bundled_checkpoint()
    except MyostreamError as exc:
        assert "no bundled model 'simulated'" in str(exc) and "myostream train" in str(exc)
    else:
        assert (path / "config.json").is_file() and path.name == "simulated"
    with pytest.raises(MyostreamError, match="no bundled model 'nowhere'"):
        bundled_checkpoint("nowhere")


def test_the_onnx_backend_runs_an_exported_folder(qtbot, tmp_path_factory, capsys):
    from myostream.edge.text import OnnxTextEncoder
    from tests.edge.exports import bundled_export

    folder = bundled_export(tmp_path_factory.getbasetemp())
    w = LiveWindow(model=folder, backend="onnx")
    qtbot.addWidget(w)
    w.show()
    w.start()
    rankings_arrive(qtbot, w)
    assert type(w.model).__name__ == "OnnxRanker" and w.pipeline.device == "cpu"
    # nothing trains on the ONNX runtime: the exported model ranks as it is
    assert live_self_calibration(w.model, np.zeros((4, 10, 8), np.float32), threading.Event()) is None
    qtbot.waitUntil(lambda: w.status_labels["device"].text() == "onnx cpu", timeout=WAIT_MS)
    w.add_text_query("make a fist")  # encoded by the exported text encoder, no torch involved
    qtbot.waitUntil(lambda: w.text.queries == ["make a fist"], timeout=WAIT_MS)
    expected = OnnxTextEncoder.load(folder).encode(["make a fist"])[0]
    np.testing.assert_allclose(w._text_embeddings["make a fist"], expected, atol=1e-6)
    qtbot.waitUntil(lambda: set(w.last_ranking.text_scores) == {"make a fist"}, timeout=WAIT_MS)
    w.close()
    # a checkpoint given to the onnx backend says how to export it, in one sentence
    assert main(["live", "--backend", "onnx", "--model", str(bundled_checkpoint())]) == 2
    err = capsys.readouterr().err.strip()
    assert "export it first" in err and "\n" not in err


def test_cli_bad_outputs_and_numbers_are_one_sentence_before_any_window(checkpoint, read_only_dir, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for shot, says in ((read_only_dir / "shot.png", "is not writable"), (blocker / "shot.png", "is a file")):
        assert main(["live", "--model", str(checkpoint), "--screenshot", str(shot), "--duration", "1"]) == 2
        err = capsys.readouterr().err
        assert f"Cannot write the screenshot to {str(shot)!r}" in err and says in err and "Traceback" not in err
    assert main(["live", "--duration", "-1"]) == 2  # used to close at once
    assert "argument --duration: must be a positive number, not '-1'" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_close_the_window_through_its_shutdown(checkpoint, tmp_path, signum):
    """The real `myostream live` process: the signal closes the window the normal way (screenshot written)."""
    png = tmp_path / "closed.png"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "myostream.cli",
            "live",
            "--model",
            str(checkpoint),
            "--torch-device",
            "cpu",
            "--screenshot",
            str(png),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    try:
        line = proc.stderr.readline()
        assert "myostream live: ranking simulated" in line and "Ctrl-C" in line, line
        proc.send_signal(signum)
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert not QtGui.QImage(str(png)).isNull()


def broken_text_encoder(checkpoint: Path, root: Path, name: str, **change) -> Path:
    folder = root / name
    shutil.copytree(checkpoint, folder)
    config = json.loads((folder / "text_encoder.json").read_text())
    (folder / "text_encoder.json").write_text(json.dumps({**config, **change}))
    return folder


def pickled_text_model(root: Path) -> Path:
    """A text model folder whose weights are only a pickle (``pytorch_model.bin``)."""
    from myostream.text.encoder import default_model_path

    folder = root / "pickled"
    shutil.copytree(default_model_path(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")  # pickle.dumps(1)
    return folder


@pytest.mark.parametrize("change", ["dim", "pickle"])
def test_a_text_encoder_that_fails_to_load_is_one_sentence_and_the_window_lives_on(qtbot, checkpoint, tmp_path, change):
    """A wrong size in text_encoder.json, or a folder of pickled weights: one sentence in the banner, once;
    no "encoding…" forever; the panels keep repainting."""
    if change == "dim":
        model = broken_text_encoder(checkpoint, tmp_path, "dim", dim=128)
        says = "do not fit text_encoder.json (dim 128"
    else:
        model = broken_text_encoder(checkpoint, tmp_path, "pickle", model=str(pickled_text_model(tmp_path)))
        says = "has no safetensors weights (pytorch_model.bin)"
    w = LiveWindow(model=model, device="cpu")
    qtbot.addWidget(w)
    w.show()
    w.start()
    rankings_arrive(qtbot, w)
    w.add_text_query("make a fist")
    qtbot.waitUntil(lambda: w.banner.isVisible(), timeout=WAIT_MS)
    sentence = w.banner.text()
    assert sentence.startswith("Free-text queries are off:") and says in sentence and "\n" not in sentence
    w.add_text_query("open the hand")  # fails at once, with the same sentence
    qtbot.waitUntil(lambda: not w._encoding, timeout=WAIT_MS)
    assert w.banner.text() == sentence and w.text.status.text() == "" and w.text.queries == []
    frames = w.frames
    rankings_arrive(qtbot, w)
    qtbot.waitUntil(lambda: w.frames > frames + 3, timeout=WAIT_MS)
    w.close()


def test_an_lsl_outage_shows_in_the_status_bar_as_it_happens(qtbot, checkpoint, stream_name):
    stop = threading.Event()
    publisher = threading.Thread(target=publish, args=(SimulatedArmband(seed=2), stream_name), kwargs={"stop": stop})
    publisher.start()
    w = LiveWindow(source=f"lsl:{stream_name}", model=checkpoint, device="cpu")
    qtbot.addWidget(w)
    w.show()
    try:
        w.start()
        rankings_arrive(qtbot, w)
        state = w.status_labels["state"]
        qtbot.waitUntil(lambda: state.text().startswith("running"), timeout=WAIT_MS)
    finally:
        stop.set()
        publisher.join()
    qtbot.waitUntil(lambda: state.text().startswith("no samples for"), timeout=WAIT_MS)
    assert f"lsl:{stream_name}" in state.text()
    qtbot.waitUntil(lambda: w.status_labels["rate"].text().startswith("rate 0 /"), timeout=WAIT_MS)
    w.close()


def test_channels_map_a_16_channel_band_onto_the_bundled_8_channel_model(qtbot):
    """``--channels``: the automatic choice counts the mapped channels, the window shows only those."""
    channels = [0, 2, 4, 6, 8, 10, 12, 14]
    w = LiveWindow(source=SimulatedArmband(n_channels=16, seed=4), device="cpu", channels=channels)
    qtbot.addWidget(w)
    w.show()
    w.start()
    rankings_arrive(qtbot, w)
    assert w.model_path == bundled_checkpoint() and w.pipeline.channels == channels
    assert w.no_model is None and w.last_ranking.rms.shape[1] == 8
    assert w.traces.n_channels == 8 and "· 8 ch ·" in w.trace_info.text()
    assert w.calibration_base()[0] == bundled_checkpoint()  # a calibration would adapt the 8-channel base
    w.close()


def test_channels_outside_the_source_or_malformed_are_one_sentence(capsys):
    assert main(["live", "--channels", "0,1,2,3,4,5,6,16", "--duration", "1"]) == 2  # the simulator has 8
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert (
        "Channel 16 of the channel map [0, 1, 2, 3, 4, 5, 6, 16] is not a channel of source 'simulated', "
        "which has 8 channels (numbered 0..7)" in err
    )
    for bad in ("a,b", "0,,1", "-1,2", "1,1", ""):
        assert main(["live", f"--channels={bad}"]) == 2
        err = capsys.readouterr().err
        assert "argument --channels: must be distinct source channel numbers from 0" in err and repr(bad) in err


def test_a_display_scale_keeps_rest_after_a_gesture_small():
    """Traces and the heat strip rescale at once to a louder signal and release slowly, but rest after a
    gesture never fills the display: the scale stays above a fraction of the loudest of the last updates."""
    from myostream.apps.widgets import DisplayScale

    scale = DisplayScale(release=0.97, memory=900, floor=0.3)
    assert scale.update(0.0) == 0.0 and scale.update(10.0) == 10.0  # up at once
    for _ in range(300):  # ten seconds of rest at 30 fps
        level = scale.update(0.5)
    assert level == pytest.approx(0.3 * 10.0 * (1 - 1 / 900) ** 300, rel=1e-6)  # the floor, not the rest level
    assert 0.5 / level < 0.25  # rest noise is drawn below a quarter of full scale, not blown up to it
    scale.reset()
    assert scale.update(0.5) == 0.5
