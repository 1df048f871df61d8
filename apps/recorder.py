"""The calibration recorder: cue a protocol, record a session file, then review its labels.

``myostream record --source simulated --protocol quick --subject S01`` opens it. The
engine is the Qt-free :class:`~myostream.recorder.SessionRecorder`: its thread owns the
source, the cue clock and the session file (labels from the cue events, flushed several
times a second) and feeds a ring buffer the GUI draws from. This window only draws and
forwards the buttons; the engine's callbacks reach it as Qt signals. A simulated armband
is driven by the cues, so the whole loop runs without hardware.
"""

from __future__ import annotations

import math
import sys
import weakref
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from myostream.apps.recorder_review import ReviewView
from myostream.apps.widgets import (
    ACCENT,
    BAD,
    BORDER,
    GOOD,
    PANEL,
    TEXT,
    TEXT_DIM,
    WARN,
    TracePlot,
    application,
    apply_theme,
    closed_by_signals,
    panel,
    run_until_closed,
)
from PyQt6 import QtCore, QtGui, QtWidgets

from myostream.calibrate import Protocol, RunState, Trial, list_protocols, load_protocol, trial_schedule
from myostream.errors import MyostreamError
from myostream.paths import check_output_dir
from myostream.recorder import SessionRecorder, recording_source
from myostream.records import Source, StreamInfo

__all__ = ["CuePanel", "RecorderSignals", "RecorderWindow", "record_command", "recording_source"]

PHASE_STYLE = {
    "idle": ("READY TO RECORD", TEXT_DIM),
    "ready": ("GET READY", WARN),
    "hold": ("HOLD", GOOD),
    "rest": ("REST", "#7f8aa3"),
    "paused": ("PAUSED", "#f08c3c"),
    "done": ("DONE", ACCENT),
}
QUALITY_TEXT = {"flat": "flat", "saturated": "clipping", "mains": "mains hum", "noisy": "noisy"}


class RecorderSignals(QtCore.QObject):
    """A :class:`SessionRecorder`'s callbacks as Qt signals (they fire on the recorder's thread;
    connected slots run on the GUI thread)."""

    source_ready = QtCore.pyqtSignal(object)  # StreamInfo
    failed = QtCore.pyqtSignal(str, bool)  # message, whether the stream stopped (source gone)
    session_closed = QtCore.pyqtSignal(str)  # path of the finished session file

    def __init__(self, recorder: SessionRecorder) -> None:
        super().__init__()
        recorder.on_ready = self.source_ready.emit
        recorder.on_failed = self.failed.emit
        recorder.on_closed = lambda path: self.session_closed.emit(str(path))

    @staticmethod
    def disconnect_from(recorder: SessionRecorder) -> None:
        recorder.on_ready = recorder.on_failed = recorder.on_closed = None


class CuePanel(QtWidgets.QFrame):
    """The big cue: phase badge, gesture label, instruction, description and a countdown."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("panel")
        self.setMinimumHeight(250)
        self.badge = QtWidgets.QLabel()
        self.badge.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.badge.setFixedHeight(30)
        self.title = QtWidgets.QLabel()
        self.title.setWordWrap(True)  # a long gesture name must not widen the panel beside the live traces
        self.title.setStyleSheet(f"font-size: 34pt; font-weight: 700; color: {TEXT};")
        self.instruction = QtWidgets.QLabel()
        self.instruction.setWordWrap(True)
        self.instruction.setStyleSheet(f"font-size: 16pt; color: {TEXT};")
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.text.setStyleSheet(f"font-size: 11pt; color: {TEXT_DIM};")
        self.text.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop)
        self.sub = QtWidgets.QLabel()
        self.sub.setStyleSheet(f"font-size: 11pt; color: {TEXT_DIM};")
        self.countdown = QtWidgets.QLabel()
        self.countdown.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.countdown.setMinimumWidth(150)
        self._phase = ""

        left = QtWidgets.QVBoxLayout()
        left.setSpacing(6)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.badge)
        top.addStretch(1)
        left.addLayout(top)
        left.addWidget(self.title)
        left.addWidget(self.instruction)
        left.addWidget(self.text, 1)
        left.addWidget(self.sub)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 18)
        layout.addLayout(left, 1)
        layout.addWidget(self.countdown)

    def show_cue(
        self, phase: str, title: str, instruction: str, text: str, sub: str, seconds: float | None, badge: str = ""
    ) -> None:
        name, color = PHASE_STYLE[phase]
        if phase != self._phase:  # restyling is costly; this runs every 20 ms
            self._phase = phase
            self.badge.setStyleSheet(
                f"background: {color}; color: #111318; font-weight: 700; letter-spacing: 2px; border-radius: 6px; padding: 0 10px;"
            )
            edge = color if phase == "hold" else BORDER
            self.setStyleSheet(
                f"QFrame#panel {{ background: {PANEL}; border: 2px solid {edge}; border-radius: 10px; }}"
            )
            self.countdown.setStyleSheet(f"font-size: 64pt; font-weight: 700; color: {color};")
        self.badge.setText(f"  {badge or name}  ")
        self.title.setText(title)
        self.instruction.setText(instruction)
        self.instruction.setVisible(bool(instruction))
        self.text.setText(text)
        self.sub.setText(sub)
        self.countdown.setText("" if seconds is None else f"{math.ceil(max(seconds, 0.0) - 1e-6)}")

    def show_state(self, state: RunState, trials: list[Trial], repetitions: int) -> None:
        """Show where a calibration run stands (``state`` of a run over ``trials``)."""
        trial = state.trial
        if state.phase == "done":
            title = "Session aborted" if state.aborted else "Session complete"
            badge = "ABORTED" if state.aborted else ""
            self.show_cue("done", title, "Saving the session file…", "", "", None, badge)
        elif state.phase == "paused":
            self.show_cue(
                "paused", "Paused", "Relax.", "Press Resume to continue; a hold cut short is repeated.", "", None
            )
        elif trial is not None and state.phase == "rest":
            nxt = trials[state.completed] if state.completed < state.total else None
            upcoming = f"Next: {nxt.cue.label}" if nxt else "That was the last one."
            done = f"{trial.cue.label} · repetition {trial.repetition} of {repetitions} done"
            self.show_cue("rest", "Relax", upcoming, "", done, state.remaining_s)
        elif trial is not None:
            sub = f"Repetition {trial.repetition} of {repetitions}"
            cue = trial.cue
            instruction, text = (cue.instruction, cue.text) if cue.instruction else (cue.text, "")
            if state.phase == "ready":
                instruction = f"Get ready: {instruction[:1].lower()}{instruction[1:]}"
            self.show_cue(state.phase, trial.cue.label, instruction, text, sub, state.remaining_s)


class RecorderWindow(QtWidgets.QMainWindow):
    """Subject form, cue, protocol progress and live traces; then the review of the session."""

    def __init__(
        self,
        source: Source,
        protocol: Protocol,
        *,
        device: str = "",
        subject: str = "",
        session: str = "1",
        out_dir: str | Path = "sessions",
        speed: float = 1.0,
    ) -> None:
        super().__init__()
        self.setWindowTitle("myostream — calibration recorder")
        self.resize(1280, 820)
        self.protocol = protocol
        self.device = device
        self.speed = speed
        #: the cue clock of the session shown (the engine's), None before a session and after "record another"
        self.run: Any = None
        self.session_path: Path | None = None
        self.review: ReviewView | None = None
        self._quality: list[str] = []
        self._warnings: list[pg.TextItem] = []
        self._listed: tuple[str, int] = ("", -1)

        self.recorder = SessionRecorder(source, runs_clock=False)  # the tick below runs the cue clock
        # a window dropped without being closed (a host program's, a test's) still stops its
        # recorder's thread and closes its session file complete
        weakref.finalize(self, self.recorder.close)
        self.signals = RecorderSignals(self.recorder)
        self.signals.source_ready.connect(self._on_source_ready)
        self.signals.failed.connect(self._on_failed)
        self.signals.session_closed.connect(self._on_session_closed)

        self.pages = QtWidgets.QStackedWidget()
        # Errors stay in a banner until the next recording starts: the status bar is redrawn
        # 25 times a second and too narrow for a sentence that names a file and a cause.
        self.banner = QtWidgets.QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(f"background: {BAD}; color: white; padding: 6px 12px; border-radius: 6px;")
        self.banner.hide()
        central = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.banner)
        column.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.pages.addWidget(self._build_record_page(subject, session, out_dir))
        self.status = QtWidgets.QLabel("Opening the source…")
        self.statusBar().addWidget(self.status, 1)

        self._tick = QtCore.QTimer(self, interval=20, timeout=self._on_tick)
        self._draw = QtCore.QTimer(self, interval=40, timeout=self._on_draw)
        self._check = QtCore.QTimer(self, interval=500, timeout=self._on_check)
        self._show_idle()
        self.recorder.open(wait=False)

    # -- layout ---------------------------------------------------------------------------
    def _build_record_page(self, subject: str, session: str, out_dir: str | Path) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout()
        form.setLabelAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(8)
        self.subject = QtWidgets.QLineEdit(subject)
        self.subject.setPlaceholderText("e.g. S01")
        self.session = QtWidgets.QLineEdit(session)
        self.protocol_box = QtWidgets.QComboBox()
        names = list_protocols()
        if self.protocol.name not in names:
            names.insert(0, self.protocol.name)
        self.protocol_box.addItems(names)
        self.protocol_box.setCurrentText(self.protocol.name)
        self.protocol_box.currentTextChanged.connect(self._on_protocol_changed)
        self.out_dir = QtWidgets.QLineEdit(str(out_dir))
        self.device_label = QtWidgets.QLabel(self.device or "—")
        self.device_label.setWordWrap(True)
        form.addRow("Subject", self.subject)
        form.addRow("Session", self.session)
        form.addRow("Protocol", self.protocol_box)
        form.addRow("Save to", self.out_dir)
        form.addRow("Device", self.device_label)
        self.protocol_info = QtWidgets.QLabel()
        self.protocol_info.setWordWrap(True)
        self.protocol_info.setStyleSheet(f"color: {TEXT_DIM};")
        form_box = QtWidgets.QVBoxLayout()
        form_box.addLayout(form)
        form_box.addWidget(self.protocol_info)

        self.start_button = QtWidgets.QPushButton("Start recording")
        self.start_button.setObjectName("primary")
        self.start_button.setMinimumHeight(40)
        self.start_button.setEnabled(False)
        self.start_button.clicked.connect(self.start_recording)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.redo_button = QtWidgets.QPushButton("Redo last repetition")
        self.redo_button.clicked.connect(self.redo_last)
        self.abort_button = QtWidgets.QPushButton("Abort (keeps what was recorded)")
        self.abort_button.setStyleSheet(f"QPushButton {{ color: {BAD}; }}")
        self.abort_button.clicked.connect(self.abort)
        controls = QtWidgets.QVBoxLayout()
        controls.addWidget(self.start_button)
        controls.addWidget(self.pause_button)
        controls.addWidget(self.redo_button)
        controls.addWidget(self.abort_button)

        self.signal_summary = QtWidgets.QLabel("Waiting for samples…")
        self.signal_summary.setWordWrap(True)
        self.up_next = QtWidgets.QListWidget()
        self.up_next.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.up_next.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.up_next.setStyleSheet(
            "QListWidget { border: none; background: transparent; } QListWidget::item { padding: 3px 2px; }"
        )

        side = QtWidgets.QVBoxLayout()
        side.addWidget(panel("Session", form_box))
        side.addWidget(panel("Controls", controls))
        side.addWidget(panel("Signal quality", self.signal_summary))
        side.addWidget(panel("Up next", self.up_next), 1)
        side_widget = QtWidgets.QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(340)

        self.cue = CuePanel()
        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(False)
        self.progress_text = QtWidgets.QLabel()
        self.progress_text.setStyleSheet(f"color: {TEXT_DIM};")
        progress_row = QtWidgets.QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_text)
        self.traces = TracePlot(("…",), 1.0, seconds=5.0)
        main = QtWidgets.QVBoxLayout()
        main.addWidget(self.cue)
        main.addLayout(progress_row)
        main.addWidget(panel("Live signal", self.traces), 1)

        layout = QtWidgets.QHBoxLayout(page)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(12)
        layout.addWidget(side_widget)
        layout.addLayout(main, 1)
        self._set_controls()
        return page

    # -- source -----------------------------------------------------------------------------
    def _on_source_ready(self, info: StreamInfo) -> None:
        self.traces.set_channels(info.channel_names, info.rate)
        plot = self.traces.getPlotItem()
        for item in self._warnings:
            plot.removeItem(item)
        self._warnings = []
        for i in range(info.n_channels):
            item = pg.TextItem("", color=BAD, anchor=(1.0, 0.5))
            item.setPos(0.0, -i)
            plot.addItem(item)
            self._warnings.append(item)
        self.device_label.setText(f"{self.device or info.name} · {info.n_channels} ch · {info.rate:g} Hz · {info.unit}")
        self.start_button.setEnabled(True)
        self._draw.start()
        self._check.start()
        self.status.setText(f"Streaming from {info.name}.")

    def show_error(self, message: str) -> None:
        """One sentence in the banner (until the next recording starts) and on the terminal."""
        self.banner.setText(message)
        self.banner.show()
        print(f"myostream record: {message}", file=sys.stderr, flush=True)

    def _on_failed(self, message: str, stopped: bool = False) -> None:
        self.show_error(message)
        recording = self.run is not None and not self.run.finished
        if recording:
            self._tick.stop()
            self.run = None
        if stopped:
            self._draw.stop()
            self._check.stop()
            self.recorder.close()  # its thread closes the session file on its way out
            if recording and self.session_path is not None and self.session_path.is_file():
                self.open_review(self.session_path)
                self.banner.setText(f"{message} What was recorded until then is kept in {self.session_path.name}.")
        self._set_controls()

    # -- protocol -------------------------------------------------------------------------
    def _on_protocol_changed(self, name: str) -> None:
        if self.run is not None or name == self.protocol.name:
            return
        try:
            self.protocol = load_protocol(name)
        except MyostreamError as exc:
            self._on_failed(str(exc))
            return
        self._show_idle()

    def _show_idle(self) -> None:
        p = self.protocol.at_speed(self.speed)
        n = len(p.gestures) * p.repetitions
        at = f" at {self.speed:g}× speed" if self.speed != 1 else ""
        self.protocol_info.setText(
            f"{self.protocol.description}\n{n} holds of {p.hold_s:g} s with {p.rest_s:g} s rest, "
            f"{_mmss(p.duration_s)} in all{at}."
        )
        trials = trial_schedule(p)
        first = trials[0]
        self._show_up_next(trials, 0, current=False)
        self.cue.show_cue(
            "idle",
            self.protocol.name,
            "Fill in the subject, check the signal, then press Start.",
            f"Every channel should show a clean trace without warnings. The first gesture will be "
            f"{first.cue.label.lower()}.",
            f"{n} holds · {_mmss(p.duration_s)}",
            None,
        )
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        self.progress_text.setText(f"0 / {n}")

    # -- run control ----------------------------------------------------------------------
    def start_recording(self) -> None:
        subject = self.subject.text().strip()
        if not subject:
            self.status.setText("Enter a subject before starting.")
            self.subject.setFocus()
            return
        session = self.session.text().strip() or "1"
        folder = self.out_dir.text().strip() or "sessions"
        try:
            path = self.recorder.start(
                self.protocol, folder, subject=subject, session=session, device=self.device, speed=self.speed
            )
        except MyostreamError as exc:  # no file, no cues: a run without a file would lose the session
            self.show_error(str(exc))
            self.out_dir.setFocus()
            return
        self.banner.hide()
        self.run = self.recorder.run
        self._listed = ("", -1)
        self.session_path = path
        self._tick.start()
        self.status.setText(f"Recording to {path}")
        self._on_tick()

    def toggle_pause(self) -> None:
        if self.run is not None:
            self.recorder.toggle_pause()
            self._on_tick()

    def redo_last(self) -> None:
        if self.run is not None:
            self.recorder.redo()
            self._on_tick()

    def abort(self) -> None:
        if self.run is not None:
            self.recorder.abort()
            self._on_tick()

    def _on_tick(self) -> None:
        self.recorder.advance()
        state = self.recorder.state()
        if self.run is None or state is None:
            return
        self._show_state(state)
        self._set_controls()

    def _show_state(self, state: RunState) -> None:
        assert self.run is not None
        self.cue.show_state(state, self.run.trials, self.protocol.repetitions)
        if (state.phase, state.completed) != self._listed:
            self._listed = (state.phase, state.completed)
            self._show_up_next(self.run.trials, state.completed, current=state.phase in ("ready", "hold", "paused"))
        self.progress.setValue(state.completed)
        progress = self.recorder.progress()
        left = progress.seconds_left if progress is not None else 0.0
        self.progress_text.setText(f"{state.completed} / {state.total} · {_mmss(left)} left")

    def _show_up_next(self, trials: list[Trial], first: int, current: bool, count: int = 8) -> None:
        self.up_next.clear()
        reps = self.protocol.repetitions
        for k, trial in enumerate(trials[first : first + count]):
            now = current and k == 0
            item = QtWidgets.QListWidgetItem(f"{'▶ ' if now else '    '}{trial.cue.label}   {trial.repetition}/{reps}")
            item.setForeground(QtGui.QColor(TEXT if now or k == 0 else TEXT_DIM))
            font = item.font()
            font.setBold(now)
            item.setFont(font)
            self.up_next.addItem(item)
        if first >= len(trials):
            self.up_next.addItem("All done.")

    def _set_controls(self) -> None:
        running = self.run is not None and not self.run.finished
        self.start_button.setVisible(not running)
        self.start_button.setEnabled(self.run is None and self.recorder.streaming)
        for w in (self.subject, self.session, self.protocol_box, self.out_dir):
            w.setEnabled(self.run is None)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Resume" if running and self.run.phase == "paused" else "Pause")
        self.redo_button.setEnabled(running and self.run.can_redo)
        self.abort_button.setEnabled(running)

    # -- drawing --------------------------------------------------------------------------
    def _on_draw(self) -> None:
        ring, info = self.recorder.ring, self.recorder.info
        if ring is None or info is None:
            return
        span = ring.latest(int(self.traces.seconds * info.rate))
        if len(span):
            # Raw devices carry DC offsets; centre each channel so its row shows the EMG.
            self.traces.show_samples(span.data - span.data.mean(axis=0))
        rec = f" · recorded {self.recorder.samples_written / info.rate:.1f} s" if self.run is not None else ""
        lost = f" · lost {self.recorder.samples_lost}" if self.recorder.samples_lost else ""
        where = f" → {self.session_path.name}" if self.session_path is not None and self.run is not None else ""
        if self.review is None:
            self.status.setText(f"{info.name} · {info.rate:g} Hz × {info.n_channels}{rec}{lost}{where}")

    def _on_check(self) -> None:
        quality, info = self.recorder.quality(), self.recorder.info
        if quality is None or info is None:
            return
        self._quality = quality
        for item, verdict in zip(self._warnings, self._quality):
            item.setText("" if verdict == "ok" else f"⚠ {QUALITY_TEXT[verdict]}")
        bad = [f"{name}: {QUALITY_TEXT[v]}" for name, v in zip(info.channel_names, self._quality) if v != "ok"]
        if bad:
            self.signal_summary.setText("Check the electrodes —\n" + "\n".join(bad))
            self.signal_summary.setStyleSheet(f"color: {WARN};")
        else:
            self.signal_summary.setText(f"All {info.n_channels} channels look good.")
            self.signal_summary.setStyleSheet(f"color: {GOOD};")

    # -- after recording ------------------------------------------------------------------
    def _on_session_closed(self, path: str) -> None:
        self._tick.stop()
        if self.review is None or self.review.path != Path(path):  # a lost source opened it already
            self.open_review(Path(path))

    def open_review(self, path: Path) -> None:
        if self.review is not None:
            self.pages.removeWidget(self.review)
            self.review.deleteLater()
        self.review = ReviewView(path)
        self.review.record_another.connect(self._record_another)
        self.pages.addWidget(self.review)
        self.pages.setCurrentWidget(self.review)
        self.status.setText(f"Review {path}: drag segment edges, relabel or delete, then save.")

    def _record_another(self) -> None:
        if self.review is not None:
            self.pages.removeWidget(self.review)
            self.review.deleteLater()
            self.review = None
        session = self.session.text().strip()
        if session.isdigit():
            self.session.setText(str(int(session) + 1))
        self.run = None
        self.session_path = None
        self.pages.setCurrentIndex(0)
        self._show_idle()
        self._set_controls()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self._tick.stop()
        self._draw.stop()
        self._check.stop()
        RecorderSignals.disconnect_from(self.recorder)
        self.recorder.close()  # aborts a running session, closes its file (complete), then the source
        super().closeEvent(event)


def _mmss(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 60}:{s % 60:02d}"


def record_command(
    source: str,
    protocol: str = "quick",
    subject: str | None = None,
    session: str = "1",
    out: str = "sessions",
    speed: float = 1.0,
    autostart: bool = False,
    review: str | None = None,
) -> int:
    """``myostream record``: the recorder, or with ``review`` (a session file) the review of a session."""
    if autostart and not subject:
        raise MyostreamError("--autostart needs --subject (the session file is named after it).")
    if review:
        app, owns_app = application()
        apply_theme(app)
        window: QtWidgets.QWidget = ReviewView(Path(review))
        window.setWindowTitle(f"myostream — review {Path(review).name}")
        window.resize(1280, 760)
    else:
        # Everything the user typed is checked before a window opens: one sentence, exit code 2.
        check_output_dir(out, "session files")
        cued = load_protocol(protocol)
        cued.at_speed(speed)
        stream = recording_source(source, [cued, *(load_protocol(n) for n in list_protocols())])
        app, owns_app = application()
        apply_theme(app)
        recorder = RecorderWindow(
            stream,
            cued,
            device=source,
            subject=subject or "",
            session=session,
            out_dir=out,
            speed=speed,
        )
        if autostart:
            recorder.signals.source_ready.connect(lambda _info: recorder.start_recording())
        window = recorder
    with closed_by_signals(window):  # Ctrl-C or a polite kill still closes the session file complete
        return run_until_closed(window, owns_app)
