"""Calibrate from the live window: record a protocol on the open stream, make a person model, rank with it.

The panel takes the place of the ranked descriptions while it works; the traces keep showing
the stream. Four steps, each on its own page:

1. **form**: the person's name and the protocol (offered by itself when no model fits the source);
2. **record**: the recorder's cue panel over a :class:`~myostream.recorder.SessionRecorder` that
   reads the running pipeline's stream through a tap (nothing is reopened; the pipeline goes on
   ranking with the current model, and a simulated participant follows the cues);
3. **model**: a :class:`~myostream.person_models.CalibrationJob` in its own process adapts the base
   (or trains a small model when no base fits the device), with a progress bar and the time left;
4. **result**: the before/after score on the held-out repetition; the window already ranks with
   the person's model, swapped in between two hops.

Cancel at any step returns to the rankings with the stream running; a session file already
written stays where it is (the user's data folder, ``sessions/``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from typing import Protocol as Structural

from myostream.apps.recorder import QUALITY_TEXT, CuePanel, RecorderSignals, _mmss
from myostream.apps.widgets import BAD, GOOD, TEXT, TEXT_DIM, WARN, panel
from PyQt6 import QtCore, QtWidgets

from myostream.calibrate import Protocol, list_protocols, load_protocol
from myostream.errors import MyostreamError
from myostream.person_models import (
    CalibrationJob,
    CalibrationRequest,
    JobProgress,
    PersonModel,
    calibration_sessions_dir,
    device_name,
)
from myostream.recorder import SessionRecorder


class CalibrationHost(Structural):
    """What the calibration needs of the window it lives in (``apps/live.py``'s ``LiveWindow``): its
    stream and model, a place to show itself, and a banner (structural, so neither module imports the other)."""

    source_spec: str
    pipeline: Any
    model: Any
    model_path: Path | None
    right: QtWidgets.QStackedWidget

    @property
    def swapping_model(self) -> bool: ...

    def calibration_base(self) -> tuple[Path | None, str | None]: ...

    def set_model(self, path: str | Path | None) -> None: ...

    def show_error(self, text: str) -> None: ...

    def show_notice(self, text: str) -> None: ...


#: the protocol a calibration offers first
DEFAULT_PROTOCOL = "quick"
PAGES = ("form", "record", "model", "result")


class CalibrationPanel(QtWidgets.QWidget):
    """The live window's calibration, from the form to the person's model ranking live."""

    def __init__(self, window: CalibrationHost) -> None:
        super().__init__()
        self.window = window
        self.protocol: Protocol | None = None
        #: cue timing factor (demos and tests; 1 = real time)
        self.speed = 1.0
        self.recorder: SessionRecorder | None = None
        self.signals: RecorderSignals | None = None
        self.job: CalibrationJob | None = None
        self.session_path: Path | None = None
        #: the person model this calibration made (None before it is done)
        self.person_model: PersonModel | None = None
        #: seconds from "Calibrate" to each step: recorded, model made, ranking live with it
        self.timings: dict[str, float] = {}
        #: how a model is made when none fits the device (``CalibrationRequest`` fields: epochs, text model, ...)
        self.job_options: dict[str, Any] = {}
        self._opened_at = 0.0
        self._live_wait = False
        self._next_poll = 0.0
        self._build()
        self._timer = QtCore.QTimer(self, interval=20, timeout=self._tick)

    # -- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.pages = QtWidgets.QStackedWidget()
        self.pages.addWidget(self._form_page())
        self.pages.addWidget(self._record_page())
        self.pages.addWidget(self._model_page())
        self.pages.addWidget(self._result_page())
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(panel("Calibrate for a person", self.pages))

    @staticmethod
    def _label(style: str = "", wrap: bool = True) -> QtWidgets.QLabel:
        label = QtWidgets.QLabel()
        label.setWordWrap(wrap)
        label.setStyleSheet(style)
        return label

    def _form_page(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.offer = self._label(f"color: {WARN}; font-size: 12pt; font-weight: 600;")
        self.intro = self._label(f"color: {TEXT}; font-size: 11pt;")
        self.person = QtWidgets.QLineEdit()
        self.person.setPlaceholderText("e.g. Ada")
        self.protocol_box = QtWidgets.QComboBox()
        self.protocol_box.activated.connect(self._protocol_picked)
        form = QtWidgets.QFormLayout()
        form.addRow("Person", self.person)
        form.addRow("Protocol", self.protocol_box)
        self.form_note = self._label(f"color: {TEXT_DIM};")
        self.start_button = QtWidgets.QPushButton("Start calibration")
        self.start_button.setObjectName("primary")
        self.start_button.setMinimumHeight(36)
        self.start_button.clicked.connect(self.start)
        self.not_now = QtWidgets.QPushButton("Not now")
        self.not_now.clicked.connect(self.cancel)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.not_now)
        column = QtWidgets.QVBoxLayout(page)
        column.addWidget(self.offer)
        column.addWidget(self.intro)
        column.addSpacing(6)
        column.addLayout(form)
        column.addWidget(self.form_note)
        column.addStretch(1)
        column.addLayout(buttons)
        return page

    def _record_page(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.cue = CuePanel()
        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(False)
        self.progress_text = self._label(f"color: {TEXT_DIM};", wrap=False)
        self.quality = self._label(f"color: {TEXT_DIM};")
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.clicked.connect(self._toggle_pause)
        self.redo_button = QtWidgets.QPushButton("Redo last")
        self.redo_button.clicked.connect(lambda: self.recorder and self.recorder.redo())
        self.cancel_record = QtWidgets.QPushButton("Cancel")
        self.cancel_record.setStyleSheet(f"QPushButton {{ color: {BAD}; }}")
        self.cancel_record.clicked.connect(self.cancel)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.progress_text)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.pause_button, self.redo_button, self.cancel_record):
            buttons.addWidget(b)
        column = QtWidgets.QVBoxLayout(page)
        column.addWidget(self.cue, 1)
        column.addLayout(row)
        column.addWidget(self.quality)
        column.addLayout(buttons)
        return page

    def _model_page(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.model_title = self._label(f"color: {TEXT}; font-size: 16pt; font-weight: 700;")
        self.model_stage = self._label(f"color: {TEXT_DIM};")
        self.model_bar = QtWidgets.QProgressBar()
        self.model_bar.setRange(0, 1000)
        self.model_bar.setTextVisible(False)
        self.model_left = self._label(f"color: {TEXT}; font-size: 12pt;", wrap=False)
        self.model_error = self._label(f"color: {BAD};")
        self.cancel_model = QtWidgets.QPushButton("Cancel")
        self.cancel_model.clicked.connect(self.cancel)
        column = QtWidgets.QVBoxLayout(page)
        column.addWidget(self.model_title)
        column.addWidget(self.model_stage)
        column.addWidget(self.model_bar)
        column.addWidget(self.model_left)
        column.addWidget(self.model_error)
        column.addStretch(1)
        column.addWidget(self.cancel_model)
        return page

    def _result_page(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.result_title = self._label(f"color: {GOOD}; font-size: 18pt; font-weight: 700;")
        self.result_scores = self._label(f"color: {TEXT}; font-size: 13pt;")
        self.result_detail = self._label(f"color: {TEXT_DIM};")
        self.result_detail.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.back_button = QtWidgets.QPushButton("Back to the rankings")
        self.back_button.setObjectName("primary")
        self.back_button.clicked.connect(self.close_panel)
        column = QtWidgets.QVBoxLayout(page)
        column.addWidget(self.result_title)
        column.addWidget(self.result_scores)
        column.addWidget(self.result_detail)
        column.addStretch(1)
        column.addWidget(self.back_button)
        return page

    @property
    def page(self) -> str:
        return PAGES[self.pages.currentIndex()]

    # -- steps ----------------------------------------------------------------------------

    def open(
        self,
        offer: str | None = None,
        protocol: str | Path | Protocol | None = None,
        person: str | None = None,
        speed: float | None = None,
    ) -> None:
        """Show the form (or the step a calibration in progress is at) in place of the rankings."""
        self.window.right.setCurrentWidget(self)
        if self.busy:
            return
        self._opened_at = time.monotonic()
        self.timings = {}
        self.person_model = None
        if speed is not None:
            self.speed = float(speed)
        try:
            if isinstance(protocol, Protocol):
                self.protocol = protocol
            elif protocol is not None or self.protocol is None:
                self.protocol = load_protocol(protocol or DEFAULT_PROTOCOL)
        except MyostreamError as exc:
            self.window.show_error(str(exc))
        if person is not None:
            self.person.setText(person)
        self._fill_protocols()
        self.offer.setText(f"No model fits this source yet. {offer}" if offer else "")
        self.offer.setVisible(bool(offer))
        self._describe()
        self.pages.setCurrentIndex(0)
        self.person.setFocus()

    def _fill_protocols(self) -> None:
        names = list_protocols()
        current = self.protocol.name if self.protocol is not None else DEFAULT_PROTOCOL
        if current not in names:
            names.insert(0, current)
        self.protocol_box.clear()
        self.protocol_box.addItems(names)
        self.protocol_box.setCurrentText(current)

    def _protocol_picked(self, index: int) -> None:
        name = self.protocol_box.itemText(index)
        if self.protocol is None or name != self.protocol.name:
            try:
                self.protocol = load_protocol(name)
            except MyostreamError as exc:
                self.form_note.setText(str(exc))
                return
        self._describe()

    def _describe(self) -> None:
        p = self.protocol
        if p is None:
            return
        timed = p.at_speed(self.speed)
        base, _ = self.window.calibration_base()
        then = (
            f"then {base.name} is adapted to this person in the background (about a minute)"
            if base is not None
            else "then a small model is trained from this session alone (a few minutes; no model fits this device)"
        )
        self.intro.setText(
            f"Follow the cues: {len(p.gestures)} gestures, {p.repetitions} times each "
            f"({_mmss(timed.duration_s)}), {then}. The last repetition is kept aside to show how much it helped."
        )
        self.form_note.setText(p.description)

    @property
    def busy(self) -> bool:
        """A recording or a model in the making."""
        return (self.recorder is not None and self.recorder.recording) or (self.job is not None and self.job.running)

    def start(self) -> None:
        """Start recording the protocol on the running stream."""
        person = self.person.text().strip()
        pipeline = self.window.pipeline
        if not person:
            self.form_note.setText("Enter the person's name: their model is saved under it.")
            self.person.setFocus()
            return
        if pipeline is None or not pipeline.running or self.protocol is None:
            self.form_note.setText("Start a source first: calibration records the stream the window shows.")
            return
        recorder = SessionRecorder(pipeline.tap(), cue_target=pipeline.source, close_source=False, runs_clock=False)
        signals = RecorderSignals(recorder)
        signals.session_closed.connect(self._recorded)
        signals.failed.connect(self._record_failed)
        try:
            recorder.open(wait=True, timeout=10.0)
            self.session_path = recorder.start(
                self.protocol,
                calibration_sessions_dir(),
                subject=person,
                device=self.window.source_spec,
                speed=self.speed,
            )
        except MyostreamError as exc:
            RecorderSignals.disconnect_from(recorder)
            recorder.close()
            self.form_note.setText(str(exc))
            return
        self.recorder, self.signals = recorder, signals
        self.timings["start_s"] = round(time.monotonic() - self._opened_at, 2)
        self.pages.setCurrentIndex(1)
        self._timer.start()
        self._tick()

    def _toggle_pause(self) -> None:
        if self.recorder is not None:
            self.recorder.toggle_pause()

    def _recorded(self, path: str) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        aborted = recorder.run is not None and recorder.state() is not None and recorder.state().aborted
        self._close_recorder()
        if aborted:
            return  # cancel() said what happened
        self.timings["recorded_s"] = round(time.monotonic() - self._opened_at, 2)
        self._make_model(Path(path))

    def _record_failed(self, message: str, stopped: bool) -> None:
        kept = f" What was recorded is kept in {self.session_path}." if self.session_path else ""
        self._close_recorder()
        self._timer.stop()
        self.close_panel()
        self.window.show_error(f"Calibration stopped: {message}{kept}")

    def _close_recorder(self) -> None:
        if self.recorder is not None:
            RecorderSignals.disconnect_from(self.recorder)
            self.recorder.close()  # the tap only: the stream goes on
            self.recorder, self.signals = None, None

    def _make_model(self, session: Path) -> None:
        base, profile = self.window.calibration_base()
        person = self.person.text().strip()
        request = CalibrationRequest(
            session, person, device_name(self.window.source_spec), base=base, filter_profile=profile, **self.job_options
        )
        self.model_title.setText(f"Making {person}'s model")
        self.model_error.setText("")
        self.model_bar.setValue(0)
        self.model_left.setText("")
        self.cancel_model.setText("Cancel")
        self.pages.setCurrentIndex(2)
        try:
            self.job = CalibrationJob(request)
        except MyostreamError as exc:
            self._model_failed(str(exc))
            return
        how = f"adapting {base.name}" if base is not None else "training a small model from the session"
        self.model_stage.setText(f"Starting ({how}) …")
        self._timer.start()

    def _model_failed(self, message: str) -> None:
        self.model_error.setText(f"{message} The session is kept in {self.session_path}.")
        self.model_left.setText("")
        self.cancel_model.setText("Back to the rankings")

    def _made(self, progress: JobProgress) -> None:
        self.job = None
        if progress.error is not None or progress.model is None:
            self._model_failed(progress.error or "No model came back.")
            return
        model = self.person_model = progress.model
        self.timings["model_s"] = round(time.monotonic() - self._opened_at, 2)
        self.result_title.setText(f"{model.person}'s model is live")
        held = json.loads((model.path / "person.json").read_text(encoding="utf-8")).get("held_out")
        if model.before is None:
            scores = f"top-1 {model.after:.0%} on the held-out repetition {held} (there was no model before)"
        else:
            scores = f"top-1 on the held-out repetition {held}: {model.before:.0%} before → {model.after:.0%} after"
        self.result_scores.setText(scores)
        self.result_detail.setText(
            f"{'Adapted from a base model' if model.how == 'adapted' else 'Trained from this session alone'}; "
            f"saved as {model.path} and listed in the model picker. Session: {self.session_path}."
        )
        self.pages.setCurrentIndex(3)
        self._live_wait = True
        self.window.set_model(model.path)  # swapped in between two hops; the stream keeps running

    # -- clock ----------------------------------------------------------------------------

    def _tick(self) -> None:
        recorder, job = self.recorder, self.job
        if recorder is not None and recorder.recording:
            recorder.advance()
            self._show_recording(recorder)
        elif job is not None and time.monotonic() >= self._next_poll:
            self._next_poll = time.monotonic() + 0.2  # five looks a second: the bar moves per epoch
            progress = job.poll()
            if progress.done:
                self._made(progress)
            else:
                self.model_bar.setValue(int(1000 * progress.fraction))
                self.model_stage.setText(progress.stage)
                left = progress.seconds_left
                self.model_left.setText("estimating the time left …" if left is None else f"about {_mmss(left)} left")
        if self._live_wait and not self.window.swapping_model:  # the swap is done (or failed, said in the banner)
            self._live_wait = False
            model, pipeline = self.person_model, self.window.pipeline
            if (
                model is not None
                and pipeline is not None
                and pipeline.ranker is self.window.model
                and self.window.model_path == model.path
            ):
                self.timings["live_s"] = round(time.monotonic() - self._opened_at, 2)
        if recorder is None and job is None and not self._live_wait:
            self._timer.stop()

    def _show_recording(self, recorder: SessionRecorder) -> None:
        state, progress, run, protocol = recorder.state(), recorder.progress(), recorder.run, recorder.protocol
        if state is None or progress is None or run is None or protocol is None:
            return
        self.cue.show_state(state, run.trials, protocol.repetitions)
        self.progress.setRange(0, state.total)
        self.progress.setValue(state.completed)
        self.progress_text.setText(f"{state.completed} / {state.total} · {_mmss(progress.seconds_left)} left")
        self.pause_button.setText("Resume" if state.phase == "paused" else "Pause")
        self.redo_button.setEnabled(run.can_redo)
        quality = recorder.quality()
        if quality is not None and recorder.info is not None:
            bad = [f"{n}: {QUALITY_TEXT[v]}" for n, v in zip(recorder.info.channel_names, quality) if v != "ok"]
            self.quality.setText("Check the electrodes — " + ", ".join(bad) if bad else "All channels look good.")
            self.quality.setStyleSheet(f"color: {WARN if bad else GOOD};")

    # -- leaving --------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop whatever step is running; the stream keeps running, a session file stays as written."""
        said = ""
        if self.recorder is not None:
            self.recorder.abort()
            self._close_recorder()
            said = f"Calibration cancelled; what was recorded is kept in {self.session_path}."
        if self.job is not None:
            self.job.cancel()
            self.job = None
            said = f"Calibration cancelled; the session is kept in {self.session_path}."
        self._timer.stop()
        self._live_wait = False
        self.close_panel()
        if said:
            self.window.show_notice(said)

    def stream_stopping(self) -> None:
        """The window stops its stream: a recording ends here (its file kept); a model being made goes on."""
        if self.recorder is not None:
            self.recorder.abort()
            self._close_recorder()
            self.close_panel()
            self.window.show_notice(
                f"Calibration stopped with the stream; what was recorded is kept in {self.session_path}."
            )

    def close_panel(self) -> None:
        if not self.busy:
            self.window.right.setCurrentIndex(0)
