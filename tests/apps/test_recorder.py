"""The calibration recorder, offscreen: cue-driven recording, labels, review edits, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from myostream.apps.recorder import RecorderWindow, recording_source
from myostream.apps.recorder_review import ReviewView
from PyQt6 import QtCore, QtGui, QtTest, QtWidgets

from myostream.calibrate import load_protocol
from myostream.data.session import SessionWriter, read_session
from myostream.errors import MyostreamError
from myostream.stream.lsl import publish
from myostream.stream.lslconfig import pylsl_module
from myostream.stream.simulated import SimulatedArmband

SHORT = """
name = "short"
gestures = ["fist", "open_hand"]
repetitions = 2
hold_s = {hold}
rest_s = {rest}
lead_in_s = 0.3
order = "interleaved"
"""


def protocol_file(tmp_path: Path, hold: float = 0.3, rest: float = 0.2) -> Path:
    path = tmp_path / "short.toml"
    path.write_text(SHORT.format(hold=hold, rest=rest))
    return path


def recorder(qtbot, tmp_path: Path, hold: float = 0.3, rest: float = 0.2) -> RecorderWindow:
    protocol = load_protocol(protocol_file(tmp_path, hold, rest))
    window = RecorderWindow(
        recording_source("simulated", [protocol]), protocol, device="simulated", subject="T1", out_dir=tmp_path
    )
    qtbot.addWidget(window)  # closed after the test: stops the worker, closes the source
    window.resize(1280, 820)
    window.show()
    qtbot.waitUntil(lambda: window.start_button.isEnabled(), timeout=15000)
    return window


def click(qtbot, button: QtWidgets.QPushButton) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def expected_labels(ts: np.ndarray, events, names) -> np.ndarray:
    """Labels written out independently of the recorder: each hold's gesture from its cue to the next cue."""
    labels = np.full(len(ts), -1)
    for event, following in zip(events, [*events[1:], None]):
        inside = (ts >= event.time) & (ts < (following.time if following else np.inf))
        labels[inside] = names.index(event.gesture) if event.kind == "hold" else 0
    return labels


def drag(plot, x_from: float, x_to: float, y: float) -> None:
    """A real left-button mouse drag across a pyqtgraph plot, in data coordinates."""
    viewbox = plot.getPlotItem().getViewBox()
    viewport = plot.viewport()

    def point(x: float) -> QtCore.QPointF:
        return QtCore.QPointF(plot.mapFromScene(viewbox.mapViewToScene(QtCore.QPointF(x, y))))

    def send(kind, pos, buttons):
        button = (
            QtCore.Qt.MouseButton.LeftButton if kind != QtCore.QEvent.Type.MouseMove else QtCore.Qt.MouseButton.NoButton
        )
        event = QtGui.QMouseEvent(
            kind, pos, viewport.mapToGlobal(pos), button, buttons, QtCore.Qt.KeyboardModifier.NoModifier
        )
        QtWidgets.QApplication.sendEvent(viewport, event)

    left = QtCore.Qt.MouseButton.LeftButton
    a, b = point(x_from), point(x_to)
    send(QtCore.QEvent.Type.MouseMove, a, QtCore.Qt.MouseButton.NoButton)
    send(QtCore.QEvent.Type.MouseButtonPress, a, left)
    for f in np.linspace(0.0, 1.0, 12)[1:]:
        QtTest.QTest.qWait(15)  # pyqtgraph drops mouse moves closer than 10 ms apart
        send(QtCore.QEvent.Type.MouseMove, a + (b - a) * f, left)
    send(QtCore.QEvent.Type.MouseButtonRelease, b, QtCore.Qt.MouseButton.NoButton)


def test_records_cued_protocol_and_edits_labels_in_review(qtbot, tmp_path):
    window = recorder(qtbot, tmp_path)
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.run.phase == "hold", timeout=5000)
    assert window.cue.title.text() == "Fist" and "HOLD" in window.cue.badge.text()
    window.grab().save(str(tmp_path / "recorder.png"))
    qtbot.waitUntil(lambda: window.review is not None, timeout=20000)

    rec = read_session(window.session_path)
    events = rec.meta["events"]
    assert [e.kind for e in events] == ["start"] + ["hold", "rest"] * 4 + ["end"]
    assert [(e.gesture, e.repetition) for e in events if e.kind == "hold"] == [
        ("fist", 1),
        ("open_hand", 1),
        ("fist", 2),
        ("open_hand", 2),
    ]
    ts = rec.meta["timestamps"]
    assert ts[0] >= events[0].time and rec.duration > 1.5  # lead-in + 4 x (hold + rest)
    assert np.all(np.diff(ts) > 0)
    # Every sample carries the label of the cue on screen when it was recorded.
    np.testing.assert_array_equal(rec.labels, expected_labels(ts, events, rec.label_names))
    # The simulated armband followed the cues: in every hold it mostly performed the cued gesture.
    truth = np.asarray(rec.meta["source_label_names"])[rec.meta["source_labels"]]
    for hold, end in zip(events[1:-1:2], events[2:-1:2]):
        inside = (ts >= hold.time) & (ts < end.time)
        values, counts = np.unique(truth[inside], return_counts=True)
        assert values[np.argmax(counts)] == hold.gesture
    assert (
        rec.meta["complete"] is True and rec.meta["protocol"] == "short" and "hold_s = 0.3" in rec.meta["protocol_toml"]
    )

    # Review: drag the first segment's onset later, relabel the second, save, reopen.
    view = window.review
    assert window.pages.currentWidget() is view
    assert [(view.label_names[s.label], s.repetition) for s in view.segments] == [
        ("fist", 1),
        ("open_hand", 1),
        ("fist", 2),
        ("open_hand", 2),
    ]
    view.grab().save(str(tmp_path / "review.png"))
    first = view.segments[0]
    onset = first.start / view.rate
    drag(view.plot, onset, onset + 0.1, -3.5)
    moved = view.segments[0]
    assert moved.stop == first.stop and 0.07 * view.rate < moved.start - first.start < 0.13 * view.rate
    view.select(1)
    view.label_box.setCurrentIndex(view.label_box.findData(0))
    view.label_box.activated.emit(view.label_box.currentIndex())
    assert view.segments[1].label == 0
    click(qtbot, view.save_button)
    assert not view.save_button.isEnabled()

    after = read_session(window.session_path)
    np.testing.assert_array_equal(after.emg, rec.emg)
    assert (after.labels[first.start : moved.start] == 0).all()
    assert (after.labels[moved.start : moved.stop] == 1).all()
    second = view.segments[1]
    assert (after.labels[second.start : second.stop] == 0).all() and (
        after.repetition[second.start : second.stop] == 1
    ).all()
    reopened = ReviewView(window.session_path)
    qtbot.addWidget(reopened)
    assert reopened.segments == view.segments


def test_redo_pause_and_abort_keep_only_good_holds(qtbot, tmp_path):
    window = recorder(qtbot, tmp_path, hold=0.6, rest=0.4)
    click(qtbot, window.start_button)
    assert not window.redo_button.isEnabled()  # nothing held yet
    qtbot.waitUntil(lambda: window.run.phase == "hold", timeout=5000)
    click(qtbot, window.redo_button)  # the first hold went wrong: do it again
    assert window.run.phase == "ready"
    qtbot.waitUntil(lambda: window.run.phase == "rest", timeout=5000)  # the repeated hold completed
    click(qtbot, window.pause_button)
    assert window.pause_button.text() == "Resume" and window.cue.title.text() == "Paused"
    qtbot.wait(150)
    click(qtbot, window.pause_button)
    qtbot.waitUntil(lambda: window.run.phase == "hold", timeout=5000)
    click(qtbot, window.abort_button)
    qtbot.waitUntil(lambda: window.review is not None, timeout=10000)

    rec = read_session(window.session_path)
    events = rec.meta["events"]
    kinds = [e.kind for e in events]
    assert kinds == ["start", "hold", "redo", "hold", "rest", "pause", "resume", "hold", "abort"]
    ts = rec.meta["timestamps"]
    at = {k: e.time for k, e in zip(kinds, events) if k not in ("hold",)}
    holds = [e for e in events if e.kind == "hold"]
    assert (holds[0].gesture, holds[1].gesture, holds[2].gesture) == ("fist", "fist", "open_hand")

    def labels_between(t0, t1):
        return set(rec.labels[(ts >= t0) & (ts < t1)].tolist())

    assert labels_between(holds[0].time, at["redo"]) == {-1}  # discarded hold
    assert labels_between(holds[1].time, at["rest"]) == {1}  # the good one
    assert labels_between(at["pause"], at["resume"]) == {-1}
    assert labels_between(holds[2].time, at["abort"]) == {-1}  # cut short by the abort
    assert rec.meta["complete"] is True
    # Review shows the discarded hold, the good one, the pause and the aborted hold.
    assert [(rec.label_names[s.label] if s.label >= 0 else "-", s.repetition) for s in window.review.segments] == [
        ("-", 0),
        ("fist", 1),
        ("-", 0),
        ("-", 0),
    ]


def short_session_file(path: Path) -> Path:
    """Five seconds of simulated armband written as a session (for replay)."""
    src = SimulatedArmband(realtime=False, schedule="cycle", hold_s=1.0, rest_s=1.0)
    src.open()
    chunk = src.generate(5.0)
    writer = SessionWriter(
        path, rate=src.rate, channel_names=src.info.channel_names, label_names=src.info.label_names, subject="R"
    )
    writer.append(chunk.data, chunk.timestamps, chunk.labels, np.zeros(len(chunk), np.int16))
    writer.close()
    return path


@pytest.mark.parametrize("kind", ["lsl", "brainflow", "replay"])
def test_records_from_any_source(qtbot, tmp_path, stream_name, kind):
    """LSL stream, BrainFlow board, replayed session file: the same recorder, the same labels."""
    protocol = load_protocol(protocol_file(tmp_path))
    stop = threading.Event()
    publisher = None
    if kind == "lsl":
        armband = SimulatedArmband(schedule="cycle", n_channels=4, rate=500.0)
        publisher = threading.Thread(target=publish, args=(armband, stream_name), kwargs={"stop": stop}, daemon=True)
        publisher.start()
        spec, rate, n_ch = f"lsl:{stream_name}", 500.0, 4
    elif kind == "brainflow":
        spec, rate, n_ch = "brainflow-synthetic", 250.0, 16
    else:
        spec, rate, n_ch = f"replay:{short_session_file(tmp_path / 'old.h5')}", 1000.0, 8
    try:
        window = RecorderWindow(
            recording_source(spec, [protocol]), protocol, device=spec, subject="T2", out_dir=tmp_path
        )
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.start_button.isEnabled(), timeout=20000)
        click(qtbot, window.start_button)
        qtbot.waitUntil(lambda: window.review is not None, timeout=20000)
        window.close()
    finally:
        stop.set()
        if publisher is not None:
            publisher.join(timeout=10)
    rec = read_session(window.session_path)
    assert (rec.rate, rec.n_channels) == (rate, n_ch)
    assert rec.meta["device"] == spec and rec.duration > 1.0
    # A loaded machine can make a board drop samples: those are logged as gap events, not cues.
    events = [e for e in rec.meta["events"] if e.kind != "gap"]
    assert all(e.value > 0 for e in rec.meta["events"] if e.kind == "gap")
    assert [e.kind for e in events] == ["start"] + ["hold", "rest"] * 4 + ["end"]
    np.testing.assert_array_equal(rec.labels, expected_labels(rec.meta["timestamps"], events, rec.label_names))
    assert [(rec.label_names[s.label], s.repetition) for s in window.review.segments] == [
        ("fist", 1),
        ("open_hand", 1),
        ("fist", 2),
        ("open_hand", 2),
    ]


def test_review_delete_unlabel_revert_and_save(qtbot, tmp_path):
    path = short_session_file(tmp_path / "s.h5")
    before = read_session(path)
    view = ReviewView(path)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    first = [(s.label, s.start, s.stop) for s in view.segments]
    assert len(first) == 2 and view.table.rowCount() == 2  # two holds in five seconds of the cycle schedule
    assert not view.save_button.isEnabled() and "saved" in view.dirty_label.text()

    view.table.selectRow(1)
    assert view.selected == 1
    view.label_box.setCurrentIndex(view.label_box.findData(-1))
    view.label_box.activated.emit(view.label_box.currentIndex())
    assert view.segments[1].label == -1 and view.table.item(1, 0).text() == "unlabelled"
    assert view.save_button.isEnabled() and "unsaved" in view.dirty_label.text()
    click(qtbot, view.revert_button)
    assert [(s.label, s.start, s.stop) for s in view.segments] == first

    view.select(0)
    click(qtbot, view.delete_button)
    assert len(view.segments) == 1 and view.table.rowCount() == 1 and len(view.regions) == 1
    view.move(0, view.segments[0].start - 50, view.segments[0].stop)
    click(qtbot, view.save_button)
    after = read_session(path)
    np.testing.assert_array_equal(after.emg, before.emg)
    assert (after.labels[first[0][1] : first[0][2]] == 0).all()  # the deleted segment became rest
    assert (after.labels[first[1][1] - 50 : first[1][2]] == first[1][0]).all()


class LiftedElectrode:
    """The simulated armband with its third electrode off the skin (a Source like any other)."""

    def __init__(self) -> None:
        self.armband = SimulatedArmband(schedule="manual")
        self.info = self.armband.info

    def open(self) -> None:
        self.armband.open()

    def read(self, timeout: float = 0.0):
        chunk = self.armband.read(timeout)
        chunk.data[:, 2] = 0.0
        return chunk

    def close(self) -> None:
        self.armband.close()


def test_signal_quality_warns_about_a_lifted_electrode(qtbot, tmp_path):
    protocol = load_protocol(protocol_file(tmp_path))
    window = RecorderWindow(LiftedElectrode(), protocol, device="faulty", subject="T1", out_dir=tmp_path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: "EMG3: flat" in window.signal_summary.text(), timeout=10000)
    assert "EMG1" not in window.signal_summary.text()
    assert window._warnings[2].toPlainText().endswith("flat") and window._warnings[0].toPlainText() == ""


class UnpluggedArmband(LiftedElectrode):
    """The simulated armband, unplugged a moment after the recording starts."""

    def __init__(self) -> None:
        super().__init__()
        self.recording = threading.Event()
        self.reads_left = 30  # about 0.6 s of 20 ms packets once recording

    def read(self, timeout: float = 0.0):
        if self.recording.is_set():
            self.reads_left -= 1
            if self.reads_left < 0:
                raise MyostreamError("The armband stopped sending data (Bluetooth link lost).")
        return self.armband.read(timeout)


def test_lost_source_keeps_what_was_recorded(qtbot, tmp_path):
    protocol = load_protocol(protocol_file(tmp_path, hold=2.0))
    source = UnpluggedArmband()
    window = RecorderWindow(source, protocol, device="unplugged", subject="T3", out_dir=tmp_path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.start_button.isEnabled(), timeout=15000)
    click(qtbot, window.start_button)
    source.recording.set()
    qtbot.waitUntil(lambda: window.review is not None, timeout=15000)
    assert "Bluetooth link lost" in window.banner.text() and window.session_path.name in window.banner.text()
    assert window.banner.isVisible()
    rec = read_session(window.session_path)
    assert rec.meta["complete"] is True and rec.duration > 0.3
    assert [e.kind for e in rec.meta["events"]][0] == "start"
    window.pages.setCurrentIndex(0)
    window._set_controls()
    assert not window.start_button.isEnabled()  # no source any more


def test_kill_during_recording_loses_at_most_one_second(tmp_path):
    """SIGKILL the real `myostream record` process mid-session; the file stays readable."""
    out = tmp_path / "sessions"
    protocol = protocol_file(tmp_path, hold=5.0, rest=1.0)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [
        sys.executable,
        "-m",
        "myostream.cli",
        "record",
        "--device",
        "simulated",
        "--protocol",
        str(protocol),
        "--subject",
        "K1",
        "--out",
        str(out),
        "--autostart",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        rec = None
        while time.monotonic() < deadline:
            files = list(out.glob("*.h5"))
            if files:
                try:
                    rec = read_session(files[0])
                except MyostreamError:  # created but not yet in SWMR mode: the writer still holds its lock
                    rec = None
                if rec is not None and rec.duration > 1.0:
                    break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
        assert rec is not None and rec.duration > 1.0, "the recorder never wrote a second of samples"
        time.sleep(1.2)
        killed_at = pylsl_module().local_clock()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    path = files[0]
    rec = read_session(path)
    ts = rec.meta["timestamps"]
    elapsed = killed_at - ts[0]
    assert rec.meta["complete"] is False
    assert rec.n_samples / rec.rate >= elapsed - 1.0, (rec.n_samples / rec.rate, elapsed)
    assert np.allclose(np.diff(ts), 1.0 / rec.rate)  # no hole inside what survived
    assert [e.kind for e in rec.meta["events"]][:2] == ["start", "hold"]
    assert set(np.unique(rec.labels)) <= {0, 1}  # rest, then the first (fist) hold


def test_an_unwritable_folder_stays_visible_and_is_printed(qtbot, tmp_path, read_only_dir, capsys):
    """The error used to show for 40 ms, then the status refresh wrote over it; the run went on without a file."""
    window = recorder(qtbot, tmp_path)
    window.out_dir.setText(str(read_only_dir / "sessions"))
    click(qtbot, window.start_button)
    assert window.banner.isVisible() and "is not writable" in window.banner.text()
    sentence = window.banner.text()
    qtbot.wait(400)  # ten status redraws
    assert window.banner.isVisible() and window.banner.text() == sentence
    assert window.run is None and window.start_button.isEnabled()  # no cues without a file
    assert f"myostream record: {sentence}" in capsys.readouterr().err
    window.out_dir.setText(str(tmp_path / "fine"))
    click(qtbot, window.start_button)
    assert window.banner.isHidden() and window.run is not None


def test_record_command_checks_what_it_was_given_before_a_window_opens(tmp_path, read_only_dir, capsys):
    from myostream.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["record", "--out", str(blocker)]) == 2
    assert "Cannot write session files to" in capsys.readouterr().err
    assert main(["record", "--out", str(read_only_dir / "sessions")]) == 2
    assert "is not writable" in capsys.readouterr().err
    assert main(["record", "--speed", "1e9", "--out", str(tmp_path)]) == 2  # used to be accepted
    assert "Calibration speed 1000000000.0 is out of range" in capsys.readouterr().err
    assert main(["record", "--source", "lsl:", "--out", str(tmp_path)]) == 2
    assert "names nothing after lsl:" in capsys.readouterr().err


def test_a_full_disk_stops_the_recording_with_one_sentence_and_no_crash(tmp_path):
    """The real `myostream record` under a file-size limit just above the writer's reserve: the recording
    stops with a sentence that names the cause, the session reads back, Ctrl-C closes without a segfault."""
    import resource

    from myostream.data.session import RESERVE_BYTES

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (RESERVE_BYTES + 200_000, RESERVE_BYTES + 200_000))

    out = tmp_path / "sessions"
    cmd = [
        sys.executable,
        "-m",
        "myostream.cli",
        "record",
        "--protocol",
        str(protocol_file(tmp_path, hold=5.0, rest=1.0)),
        "--subject",
        "D1",
        "--out",
        str(out),
        "--autostart",
    ]
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit,
    )
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "no room left" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(lines) + rest
    assert proc.returncode == 0, err  # was a segfault on exit
    assert "Traceback" not in err and "Exception ignored" not in err
    stop = next(line for line in lines if "no room left" in line)
    assert stop.startswith("myostream record: There is no room left for the session file")
    assert "under this process's file-size limit" in stop and "recording stopped" in stop
    rec = read_session(next(out.glob("*.h5")))
    assert rec.n_samples > 0 and rec.meta["complete"] is True


def test_a_window_dropped_without_closing_stops_its_recorder(qtbot, tmp_path):
    """A host program (or a test) that lets the window go without closing it leaves no recorder
    thread behind: one frozen mid-write held h5py's lock and hung the process at exit."""
    import gc

    protocol = load_protocol(protocol_file(tmp_path))
    window = RecorderWindow(
        recording_source("simulated", [protocol]), protocol, device="simulated", subject="T1", out_dir=tmp_path
    )
    engine = window.recorder
    qtbot.waitUntil(lambda: engine.streaming, timeout=15000)
    thread = engine._thread
    assert thread is not None and thread.is_alive()
    del window
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()
