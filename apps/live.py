"""``myostream live``: the live retrieval window.

EMG traces of every channel, the ranked descriptions of the newest window, the window's
RMS per patch × channel with the semantic queries' attention over it (paper Fig. 9), and
free-text queries whose similarity to the live EMG is traced over time (text → EMG).
All model work happens on the :class:`~myostream.stream.pipeline.Pipeline`'s worker
thread, opening sources and encoding text on a small job pool; the GUI thread only
draws, from a ~30 fps timer.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from myostream.apps.live_panels import HeatStrip, RankingPanel, TextQueryPanel
from myostream.apps.widgets import (
    BAD,
    PANEL_RAISED,
    TEXT,
    TEXT_DIM,
    TracePlot,
    application,
    apply_theme,
    closed_by_signals,
    panel,
    run_until_closed,
)
from PyQt6 import QtCore, QtGui, QtWidgets

from myostream.errors import MyostreamError
from myostream.paths import output_file
from myostream.person_models import (
    describe,
    device_name,
    find_person_model,
    list_person_models,
    read_person_model,
    remember_model,
    remembered_model,
)
from myostream.records import Source
from myostream.runtime import bundled_for, bundled_models, load_model, make_pipeline
from myostream.stream.devices import list_profiles
from myostream.stream.meters import SILENCE_S
from myostream.stream.pipeline import HopRanking, Pipeline, mapped_channel_count

#: Source kinds of the picker and the spec prefix each builds.
SOURCE_KINDS = ("Simulated armband", "Device profile", "LSL stream", "BrainFlow board", "Replay file")
#: the model picker's first entry
AUTOMATIC = "automatic: the bundled model that fits the source"
FPS = 30
TRACE_SECONDS = 5.0


def load_text_encoder(checkpoint: Path, model: Any) -> Any:
    """The text encoder whose space the model's prototypes live in (for free-text queries): the
    checkpoint's saved stage-1 encoder, or an exported folder's ONNX one (``export --text``)."""
    if getattr(model, "backend", "torch") == "onnx":
        return model.text_encoder()
    from myostream.text.encoder import text_encoder_folder

    return _text_encoder_in(text_encoder_folder(checkpoint, getattr(model, "metadata", {})))


@functools.lru_cache(maxsize=4)
def _text_encoder_in(folder: Path) -> Any:
    """Load a saved text encoder once per process (a window reopened on the same model reuses it)."""
    from myostream.text.encoder import TextEncoder

    return TextEncoder.load(folder)


def pipeline_channel_names(pipeline: Pipeline) -> tuple[str, ...]:
    """Names of the channels the model sees (the mapped ones, when the user mapped channels)."""
    assert pipeline.info is not None
    names = pipeline.info.channel_names
    return names if pipeline.channels is None else tuple(names[c] for c in pipeline.channels)


def pipeline_filter_text(pipeline: Pipeline) -> str:
    """A short description of the pipeline's filter ("" when it has none)."""
    spec = pipeline.filter_spec
    if spec is None:
        return ""
    parts = []
    if spec.highpass and spec.lowpass:
        parts.append(f"{spec.highpass:g}-{spec.lowpass:g} Hz")
    elif spec.highpass:
        parts.append(f">{spec.highpass:g} Hz")
    elif spec.lowpass:
        parts.append(f"<{spec.lowpass:g} Hz")
    if spec.notch:
        parts.append(f"notch {spec.notch:g} Hz")
    if spec.envelope:
        parts.append(f"envelope {spec.envelope:g} Hz")
    return ", ".join(parts)


def _is_person_model(path: Path) -> bool:
    return (path / "person.json").is_file()


def _source_name(source: Source) -> str:
    """What the window calls a Source object it was given (its stream name)."""
    try:
        return str(source.info.name)
    except MyostreamError:  # some sources know their name only once open
        return type(source).__name__


class LiveWindow(QtWidgets.QMainWindow):
    """The live retrieval window. ``start()`` opens the source and runs the pipeline."""

    def __init__(
        self,
        source: str | Source = "simulated",
        model: str | Path | None = None,
        device: str = "auto",
        smoothing: float = 0.5,
        hop_ms: float | None = None,
        torch_threads: int | None = 1,
        backend: str = "auto",
        channels: Sequence[int] | None = None,
        self_calibrate: bool = True,
    ) -> None:
        super().__init__()
        self.torch_threads = torch_threads
        #: a base model self-calibrates to the wearer from their first seconds (``--no-self-calibration``: not)
        self.self_calibrate = bool(self_calibrate)
        #: the source channels the model sees, in the model's order (``--channels``); None: all of them
        self.channels = None if channels is None else [int(c) for c in channels]
        self.setWindowTitle("myostream live")
        self.resize(1440, 880)
        #: a Source object the host program gave (a device driver of its own), else None: the spec says
        self.source_object: Source | None = None if isinstance(source, str) else source
        self.source_spec = source if isinstance(source, str) else _source_name(source)
        #: the folder of the model in use (None before one is chosen)
        self.model_path = Path(model) if model is not None else None
        #: the model is chosen when the source opens: the person model last chosen for the device, else the
        #: bundled model that fits, else the device's newest person model, else none (calibrate one)
        self.automatic = model is None
        self.device = device
        #: torch | onnx | auto (by the model folder): see myostream.runtime.load_model
        self.backend = backend
        self.smoothing = smoothing
        self.hop_ms = hop_ms
        self.model: Any = None
        self.pipeline: Pipeline | None = None
        self.text_encoder: Any = None
        self.last_ranking: HopRanking | None = None
        #: why the stream runs without a model (no model fits the source), else None
        self.no_model: str | None = None
        self._swapping: Future | None = None
        #: a PNG path the window saves a screenshot to when it closes (``--screenshot``)
        self.screenshot_on_close: Path | None = None
        #: the sentence saying why something failed while the window closed (the CLI prints it)
        self.close_error: str | None = None
        #: why free-text queries cannot be encoded (said once, then every query fails at once with it)
        self._text_error: str | None = None
        # Opening sources (an LSL resolve can wait seconds) and encoding text run off the GUI thread.
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="myostream-live-open")
        self._text_jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="myostream-live-text")
        self._starting: Future | None = None
        self._encoding: list[tuple[str, Future]] = []
        self._text_embeddings: dict[str, np.ndarray] = {}
        self._lsl_listing: Future | None = None
        #: what the traces and the heat strip were last set up for (channels, rate, filter, normalisation)
        self._shown: tuple[Any, ...] | None = None
        self._build()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(1000 // FPS)
        self.timer.timeout.connect(self._tick)
        self.frames = 0
        self.timer.start()

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        bar = QtWidgets.QToolBar("controls")
        bar.setMovable(False)
        bar.setIconSize(QtCore.QSize(16, 16))
        self.addToolBar(bar)
        title = QtWidgets.QLabel(f"  myostream <span style='color:{TEXT_DIM}'>live</span>  ")
        title.setStyleSheet("font-size: 13pt; font-weight: 700;")
        bar.addWidget(title)
        bar.addSeparator()
        bar.addWidget(QtWidgets.QLabel(" Source "))
        self.source_kind = QtWidgets.QComboBox()
        self.source_kind.addItems(SOURCE_KINDS)
        bar.addWidget(self.source_kind)
        self.source_detail = QtWidgets.QComboBox()
        self.source_detail.setEditable(True)
        self.source_detail.setMinimumWidth(280)
        # Widgets on a toolbar are shown and hidden through their actions.
        self._detail_action = bar.addWidget(self.source_detail)
        self.source_browse = QtWidgets.QPushButton("Browse…")
        self._browse_action = bar.addWidget(self.source_browse)
        bar.addSeparator()
        bar.addWidget(QtWidgets.QLabel(" Model "))
        self.model_box = QtWidgets.QComboBox()
        self.model_box.setMinimumWidth(240)
        self.model_box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        bar.addWidget(self.model_box)
        self.model_label = QtWidgets.QLabel("—")
        self.model_label.setStyleSheet("font-weight: 600;")
        bar.addWidget(self.model_label)
        self.model_button = QtWidgets.QPushButton("Choose…")
        self.model_button.setToolTip("A checkpoint folder of your own")
        bar.addWidget(self.model_button)
        self.calibrate_button = QtWidgets.QPushButton("Calibrate…")
        self.calibrate_button.setToolTip(
            "Record a short protocol of gestures and make a model for this person and device"
        )
        bar.addWidget(self.calibrate_button)
        bar.addSeparator()
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.start_button.setMinimumWidth(150)
        bar.addWidget(self.start_button)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setEnabled(False)
        bar.addWidget(self.pause_button)

        self.banner = QtWidgets.QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(f"background: {BAD}; color: white; padding: 6px 12px; border-radius: 6px;")
        self.banner.hide()

        self.traces = TracePlot([], 1000.0, seconds=TRACE_SECONDS)
        self.heat = HeatStrip()
        self.rankings = RankingPanel(k=5)
        self.text = TextQueryPanel()
        self.trace_info = QtWidgets.QLabel("")
        self.trace_info.setStyleSheet(f"color: {TEXT_DIM};")
        left = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        left.addWidget(panel("EMG", self.traces, detail=self.trace_info))
        left.addWidget(panel("Current window · RMS per patch × channel", self.heat, detail=self.heat.legend))
        left.setStretchFactor(0, 5)
        left.setStretchFactor(1, 2)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(panel("Ranked descriptions", self.rankings))
        right.addWidget(panel("Text → EMG · similarity of your descriptions to the live signal", self.text))
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        from myostream.apps.live_calibrate import CalibrationPanel  # the calibration takes the right column's place

        self.calibration = CalibrationPanel(self)
        self.right = QtWidgets.QStackedWidget()
        self.right.addWidget(right)
        self.right.addWidget(self.calibration)
        main = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(self.right)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)
        main.setSizes([820, 580])
        left.setSizes([560, 240])
        right.setSizes([480, 320])
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(10, 8, 10, 6)
        layout.addWidget(self.banner)
        layout.addWidget(main, 1)
        self.setCentralWidget(central)

        status = self.statusBar()
        self.status_labels = {k: QtWidgets.QLabel("") for k in ("state", "rate", "lost", "latency", "device")}
        for key, label in self.status_labels.items():
            status.addPermanentWidget(label, 1 if key == "state" else 0)
        self._set_state("stopped")

        self.source_kind.currentIndexChanged.connect(self._kind_changed)
        self.source_detail.currentTextChanged.connect(lambda _: self._sync_start_button())
        self.source_browse.clicked.connect(self._browse)
        self.model_button.clicked.connect(self._choose_model)
        self.model_box.activated.connect(self._model_picked)
        self.calibrate_button.clicked.connect(lambda: self.calibrate())
        self.start_button.clicked.connect(self._start_clicked)
        self.pause_button.toggled.connect(self.set_paused)
        self.text.query_requested.connect(self.add_text_query)
        self._show_spec(self.source_spec)
        self.fill_model_box()

    # -- source picker ------------------------------------------------------------------

    def _show_spec(self, spec: str) -> None:
        """Point the picker at ``spec`` without starting anything."""
        kind, _, arg = spec.partition(":")
        if arg and kind == "lsl":
            index, detail = 2, arg
        elif arg and kind == "brainflow":
            index, detail = 3, arg
        elif arg and kind == "replay":
            index, detail = 4, arg
        elif spec == "simulated":
            index, detail = 0, ""
        else:
            index, detail = 1, spec
        self.source_kind.blockSignals(True)
        self.source_kind.setCurrentIndex(index)
        self.source_kind.blockSignals(False)
        self._kind_changed(index)
        self.source_detail.setCurrentText(detail)
        self._sync_start_button()

    def _kind_changed(self, index: int) -> None:
        kind = SOURCE_KINDS[index]
        self.source_detail.blockSignals(True)
        self.source_detail.clear()
        self._detail_action.setVisible(kind != "Simulated armband")
        self._browse_action.setVisible(kind in ("Replay file", "LSL stream"))
        self.source_browse.setText("Browse…" if kind == "Replay file" else "Refresh")
        if kind == "Device profile":
            self.source_detail.addItems([p.name for p in list_profiles() if p.transport != "replay"])
        elif kind == "BrainFlow board":
            boards = {"SYNTHETIC_BOARD"} | {
                p.options.get("brainflow", {}).get("board", "") for p in list_profiles() if p.transport == "brainflow"
            }
            self.source_detail.addItems(sorted(b for b in boards if b))
        elif kind == "LSL stream":
            self.source_detail.lineEdit().setPlaceholderText("stream name (Refresh lists the visible ones)")
            self._refresh_lsl()
        elif kind == "Replay file":
            self.source_detail.lineEdit().setPlaceholderText("recording file (.mat, .hdf5, .dat, .h5)")
        self.source_detail.blockSignals(False)
        self._sync_start_button()

    def _browse(self) -> None:
        if SOURCE_KINDS[self.source_kind.currentIndex()] == "LSL stream":
            self._refresh_lsl()
            return
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Replay a recording", "", "Recordings (*.mat *.hdf5 *.h5 *.dat);;All files (*)"
        )
        if path:
            self.source_detail.setCurrentText(path)

    def _refresh_lsl(self) -> None:
        from myostream.stream.lsl import list_streams

        if self._lsl_listing is None or self._lsl_listing.done():
            self._lsl_listing = self._jobs.submit(list_streams, 1.0)

    def picked_spec(self) -> str:
        """The source spec the picker currently describes (``simulated``, ``lsl:NAME``, ...)."""
        kind = SOURCE_KINDS[self.source_kind.currentIndex()]
        detail = self.source_detail.currentText().strip()
        prefix = {"LSL stream": "lsl:", "BrainFlow board": "brainflow:", "Replay file": "replay:"}.get(kind)
        if kind == "Simulated armband":
            return "simulated"
        if prefix:
            return prefix + detail.split("  (")[0]
        return detail

    def _sync_start_button(self) -> None:
        running = self.pipeline is not None or self._starting is not None
        if running and self.picked_spec() != self.source_spec:
            self.start_button.setText("Switch to this source")
        else:
            self.start_button.setText("Stop" if running else "Start")

    def _start_clicked(self) -> None:
        running = self.pipeline is not None or self._starting is not None
        if running and self.picked_spec() == self.source_spec:
            self.stop()
        elif self.picked_spec() == self.source_spec:
            self.start()
        else:
            self.set_source(self.picked_spec())

    def _choose_model(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Choose a checkpoint folder", str(self.model_path or "")
        )
        if path:
            self.set_model(path)
        else:
            self.fill_model_box()

    # -- model picker --------------------------------------------------------------------

    def fill_model_box(self) -> None:
        """List the choices: automatic, the bundled models, the saved person models, the folder in use."""
        box = self.model_box
        box.blockSignals(True)
        box.clear()
        box.addItem(AUTOMATIC, None)
        listed: set[Path] = set()
        for m in bundled_models():
            box.addItem(f"bundled: {m}", m.path)
            listed.add(m.path.resolve())
        for p in list_person_models():
            box.addItem(f"person: {p}", p.path)
            box.setItemData(box.count() - 1, describe(p), QtCore.Qt.ItemDataRole.ToolTipRole)
            listed.add(p.path.resolve())
        if self.model_path is not None and self.model_path.resolve() not in listed:
            box.addItem(f"folder: {self.model_path.name}", self.model_path)
        box.addItem("Other checkpoint folder…", "browse")
        chosen = 0
        # automatic shows as such unless it brought back the person model last chosen for this device
        if self.model_path is not None and not (self.automatic and not _is_person_model(self.model_path)):
            chosen = next(
                (
                    i
                    for i in range(box.count())
                    if isinstance(box.itemData(i), Path) and box.itemData(i).resolve() == self.model_path.resolve()
                ),
                0,
            )
        box.setCurrentIndex(chosen)
        box.blockSignals(False)

    def _model_picked(self, index: int) -> None:
        choice = self.model_box.itemData(index)
        if choice == "browse":
            self._choose_model()
        else:
            self.set_model(choice)

    # -- life cycle ---------------------------------------------------------------------

    def _load_model(self) -> Any:
        """The model in use; loaded now when a folder was chosen (None in automatic mode before the source opens)."""
        if self.model is None and self.model_path is not None:
            self._adopt(self._read_model(self.model_path), self.model_path)
        return self.model

    def _read_model(self, path: Path) -> Any:
        model = load_model(path, device=self.device, backend=self.backend)
        if self.torch_threads and getattr(model, "backend", "torch") == "torch":
            import torch

            # The live model is small: one intra-op thread ranks a window in a few ms, while
            # a thread pool competes with the GUI thread for the cores and the GIL (10-50x slower).
            torch.set_num_threads(self.torch_threads)
        return model

    def _adopt(self, model: Any, path: Path) -> None:
        """Show ``model`` (loaded from ``path``) as the one in use: labels, catalog, text encoder."""
        changed = self.model is not None and self.model is not model
        self.model, self.model_path, self.no_model = model, Path(path), None
        self.model_label.setText(model.config.name)
        self.model_label.setToolTip(str(path))
        self.rankings.set_catalog(
            {c: (e.label, e.canonical) for c, e in model.catalog.items()},
            temperature=model.config.stage3.temperature,
            rejection=getattr(model, "rejection", None),
        )
        if changed:  # free-text queries live in the model's text space: encode them again in the new one
            queries = list(self.text.queries)
            self.text_encoder, self._text_error = None, None
            self._text_embeddings.clear()
            for q in queries:
                self.text.remove_query(q)
            self.text.take_removed()
            for q in queries:
                self.add_text_query(q)
        self._text_jobs.submit(self._preload_text_encoder, self.model_path, model)
        self.fill_model_box()

    def _source(self, spec: str) -> Source:
        if self.source_object is not None and spec == self.source_spec:
            return self.source_object
        from myostream.sources import make_source

        return make_source(spec)

    def _automatic_model(self, spec: str, n_channels: int, rate: float) -> tuple[Any, Path | None, str | None]:
        """(model, its folder, why there is none) for a source that opened with this signal: the model the
        user last chose for the device, else the bundled one that fits, else the device's newest person model."""
        device = device_name(spec)
        remembered = remembered_model(device)
        if remembered is not None and read_person_model(remembered).n_channels == n_channels:
            return self._read_model(remembered), remembered, None
        try:
            path = bundled_for(n_channels, rate).path
        except MyostreamError as exc:
            person = find_person_model(device, n_channels)
            if person is None:
                return None, None, str(exc)
            path = person.path
        return self._read_model(path), path, None

    def _make_pipeline(self, spec: str) -> tuple[Pipeline, Path | None, str | None]:
        """Build and start a pipeline (runs on a job thread: opening LSL streams can wait for seconds); in
        automatic mode the model is chosen once the source is open, and without one the stream runs unranked."""
        source = self._source(spec)
        model, path, why = self.model, self.model_path, None
        options: dict[str, Any] = dict(
            hop_ms=self.hop_ms,
            smoothing=self.smoothing,
            device=self.device,
            channels=self.channels,
            self_calibrate=live_self_calibration if self.self_calibrate else None,
        )
        if model is None:
            source.open()  # opening again in Pipeline.start() is a no-op
            try:
                info = source.info
                model, path, why = self._automatic_model(spec, mapped_channel_count(info, self.channels), info.rate)
            except BaseException:
                source.close()
                raise
        pipeline = make_pipeline(source, model, **options) if model is not None else Pipeline(source, None, **options)
        try:
            pipeline.start()
        except BaseException:
            pipeline.stop()
            raise
        return pipeline, path, why

    def start(self, block: bool = False) -> None:
        """Open the picked source and run the pipeline; ``block`` waits and raises MyostreamError."""
        if self.pipeline is not None or self._starting is not None:
            return
        self._hide_error()
        try:
            self._load_model()
        except MyostreamError as exc:
            if block:
                raise
            self.show_error(str(exc))
            return
        self._set_state(f"opening {self.source_spec} …")
        self._starting = self._jobs.submit(self._make_pipeline, self.source_spec)
        self._sync_start_button()
        if block:
            try:
                self._starting.result()  # raises the MyostreamError of a bad source
            except BaseException:
                self._starting = None
                self._set_state("stopped")
                raise
            self._poll_start()

    def stop(self) -> None:
        """Stop the pipeline (joins its threads, closes the source). Safe to call twice. A calibration
        recording ends (its session file is kept); a model being made goes on."""
        self.calibration.stream_stopping()
        if self._swapping is not None:
            try:
                self._swapping.result()
            except BaseException:
                pass  # the stream stops anyway
            self._swapping = None
        if self._starting is not None:
            pipeline = None
            try:
                pipeline = self._starting.result()[0]
            except BaseException:
                pass
            self._starting = None
            if pipeline is not None:
                pipeline.stop()
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
        self.pause_button.setChecked(False)
        self.pause_button.setEnabled(False)
        self._set_state("stopped")
        self._sync_start_button()

    def set_source(self, spec: str | Source) -> None:
        """Switch to another source (stops the current one first): a spec, or a Source object."""
        self.stop()
        self.source_object = None if isinstance(spec, str) else spec
        self.source_spec = spec if isinstance(spec, str) else _source_name(spec)
        if self.automatic:  # chosen again for the new source (a model picked by hand stays)
            self.model, self.model_path = None, None
        self._show_spec(self.source_spec)
        self.last_ranking = None
        self.text.clear_history()
        self.start()

    def set_model(self, path: str | Path | None) -> None:
        """Rank with another checkpoint (None: automatic). A running stream keeps running: the model
        takes over between two hops (:meth:`Pipeline.set_ranker`); otherwise the stream starts."""
        path = None if path is None else Path(path)
        self.automatic = path is None
        remember_model(device_name(self.source_spec), path)  # a person model is picked again next time
        if self.pipeline is not None and self._starting is None:
            self._swap(path)
            return
        self.stop()
        self.model, self.model_path, self.text_encoder = None, path, None
        self._text_embeddings.clear()
        for q in list(self.text.queries):
            self.text.remove_query(q)
        self.start()

    def _swap(self, path: Path | None) -> None:
        """Load ``path`` (None: the automatic choice for this source) and hand it to the running pipeline,
        on the job thread; :meth:`_poll_swap` shows it once it ranks."""
        pipeline = self.pipeline
        assert pipeline is not None and pipeline.info is not None
        info = pipeline.info

        def work() -> tuple[Any, Path]:
            if path is None:
                model, chosen, why = self._automatic_model(
                    self.source_spec, mapped_channel_count(info, self.channels), info.rate
                )
                if model is None:
                    raise MyostreamError(why or "No model fits this source.")
                assert chosen is not None
            else:
                model, chosen = self._read_model(path), path
            pipeline.set_ranker(model)
            return model, chosen

        self._hide_error()
        self._set_state(f"switching to {path.name if path else 'the automatic model'} …")
        self._swapping = self._jobs.submit(work)

    def _poll_swap(self) -> None:
        if self._swapping is None or not self._swapping.done():
            return
        future, self._swapping = self._swapping, None
        try:
            model, path = future.result()
        except MyostreamError as exc:
            self.show_error(str(exc))
            self.fill_model_box()
            return
        except Exception as exc:  # a broken checkpoint: one sentence, the old model goes on
            self.show_error(f"Could not switch to that model: {exc}")
            self.fill_model_box()
            return
        self._adopt(model, path)
        if self.pipeline is not None:
            self._show_stream(self.pipeline)

    def set_paused(self, paused: bool) -> None:
        if self.pipeline is None:
            return
        if paused:
            self.pipeline.pause()
        else:
            self.pipeline.resume()
        self.pause_button.setText("Resume" if paused else "Pause")
        self._set_state("paused" if paused else self._running_text())

    def _poll_start(self) -> None:
        if self._starting is None or not self._starting.done():
            return
        future, self._starting = self._starting, None
        try:
            self.pipeline, path, why = future.result()
        except MyostreamError as exc:
            self.show_error(str(exc))
            self._set_state("stopped")
        except Exception as exc:  # a device driver's own error: still one line, not a crash
            self.show_error(f"Could not open {self.source_spec!r}: {exc}")
            self._set_state("stopped")
        else:
            if self.pipeline.ranker is not None and self.pipeline.ranker is not self.model:
                assert path is not None
                self._adopt(self.pipeline.ranker, path)  # chosen automatically for this source
            self._show_stream(self.pipeline)
            self.pause_button.setEnabled(True)
            self._set_state(self._running_text())
            if why is not None:  # no model fits: the stream runs unranked and the window offers to calibrate
                self.no_model = why
                self.model_label.setText("none")
                self.calibrate(offer=why)
        self._sync_start_button()

    def _show_stream(self, pipeline: Pipeline) -> None:
        """Point the traces, the heat strip and the caption at what the pipeline prepares."""
        info = pipeline.info
        assert info is not None
        names = pipeline_channel_names(pipeline)
        shown = (
            names,
            pipeline.model_rate,
            pipeline.filter_spec,
            getattr(pipeline.preprocessing, "normalisation", None),
        )
        if shown != self._shown:  # another signal: the displays start afresh (a model swapped in keeps their scale)
            self._shown = shown
            self.traces.set_channels(names, pipeline.model_rate)
            self.heat.set_channels(names)
        filtered = pipeline_filter_text(pipeline) or "unfiltered"
        self.trace_info.setText(
            f"{info.name} · {len(names)} ch · {info.rate:g} Hz"
            + (f" → {pipeline.model_rate:g} Hz" if pipeline.model_rate != info.rate else "")
            + f" · {info.unit} · {filtered} · last {TRACE_SECONDS:g} s"
        )
        if pipeline.ranker is not None:
            pipeline.set_text_queries(self._text_embeddings)

    def _running_text(self) -> str:
        if self.pipeline is not None and self.pipeline.ranker is None:
            return f"streaming without a model · {self.source_spec}"
        return f"running · {self.source_spec}"

    def save_screenshot(self, path: str | Path) -> Path:
        """Save what the window shows now as a PNG."""
        path = output_file(path, "the screenshot")
        if not self.grab().save(str(path)):
            raise MyostreamError(
                f"Could not write the screenshot {str(path)!r} (is it a .png name on a disk with space?)."
            )
        return path

    def shutdown(self) -> None:
        """Stop everything this window started: pipeline threads, the source, job threads."""
        if self.screenshot_on_close is not None and self.isVisible():
            try:
                self.save_screenshot(self.screenshot_on_close)
            except MyostreamError as exc:  # raised in closeEvent it would abort Qt; the CLI prints it instead
                self.close_error = str(exc)
            self.screenshot_on_close = None
        self.timer.stop()
        self.calibration.cancel()
        self.stop()
        self._jobs.shutdown(wait=True, cancel_futures=True)
        self._text_jobs.shutdown(wait=True, cancel_futures=True)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.shutdown()
        super().closeEvent(event)

    # -- free-text queries ---------------------------------------------------------------

    def add_text_query(self, text: str) -> None:
        """Encode ``text`` off the GUI thread; its trace starts once the embedding is ready."""
        text = text.strip()
        if not text or text in self._text_embeddings or any(t == text for t, _ in self._encoding):
            return
        try:
            model = self._load_model()
        except MyostreamError as exc:
            self.show_error(str(exc))
            return
        if model is None:
            self.show_error("Free-text queries need a model: start a source that one fits, or calibrate one.")
            return
        self.text.status.setText(f"encoding “{text}” …")
        assert self.model_path is not None
        self._encoding.append((text, self._text_jobs.submit(self._encode, self.model_path, model, text)))

    def _encoder(self, checkpoint: Path, model: Any) -> Any:
        """The checkpoint's text encoder, loaded once; a failure is remembered as one sentence (job thread)."""
        if self._text_error is not None:
            raise MyostreamError(self._text_error)
        if self.text_encoder is None:
            try:
                self.text_encoder = load_text_encoder(checkpoint, model)
            except MyostreamError as exc:
                self._text_error = f"Free-text queries are off: {exc}"
                raise MyostreamError(self._text_error) from None
            except Exception as exc:  # a broken model folder: transformers and torch raise many types
                self._text_error = (
                    f"Free-text queries are off: the text encoder of {str(checkpoint)!r} could not be loaded ({exc})."
                )
                raise MyostreamError(self._text_error) from None
        return self.text_encoder

    def _encode(self, checkpoint: Path, model: Any, text: str) -> np.ndarray:
        return np.asarray(self._encoder(checkpoint, model).encode([text]), np.float32)[0]

    def _preload_text_encoder(self, checkpoint: Path, model: Any) -> None:
        """Load the text encoder in the background, so the first typed query is encoded at once."""
        try:
            self._encoder(checkpoint, model)
        except MyostreamError:
            pass  # said in the banner when the user actually types a query

    def _poll_encoding(self) -> None:
        still = []
        for text, future in self._encoding:
            if not future.done():
                still.append((text, future))
                continue
            try:
                embedding = future.result()
                queries = {**self._text_embeddings, text: embedding}
                if self.pipeline is not None:
                    self.pipeline.set_text_queries(queries)
            except Exception as exc:  # MyostreamError, or a model that failed while encoding
                said = str(exc) if isinstance(exc, MyostreamError) else f"Could not encode “{text}”: {exc}"
                self.show_error(said)
                continue
            self._text_embeddings = queries
            self.text.add_query(text)
        self._encoding = still
        if not still:
            self.text.status.setText("")
        removed = self.text.take_removed()
        if removed:
            for text in removed:
                self._text_embeddings.pop(text, None)
            if self.pipeline is not None:
                self.pipeline.set_text_queries(self._text_embeddings)

    # -- drawing ------------------------------------------------------------------------

    def _tick(self) -> None:
        self._poll_start()
        self._poll_swap()
        self._poll_encoding()
        self._poll_lsl_listing()
        pipeline = self.pipeline
        if pipeline is None:
            return
        try:
            self._draw(pipeline)
        except Exception as exc:  # never a frozen window: say it once, keep drawing what still works
            self.show_error(f"The window could not draw ({exc!r}); it keeps running. Please report this.")

    def _draw(self, pipeline: Pipeline) -> None:
        if pipeline.error is not None:
            error = pipeline.error
            self.stop()
            self.show_error(str(error) if isinstance(error, MyostreamError) else f"The pipeline stopped: {error!r}")
            return
        if pipeline.paused:
            self._update_status(pipeline)
            return
        if pipeline.ranker is None or pipeline.filtered is None:  # streaming unranked: the raw signal, centred
            assert pipeline.ring is not None
            span = pipeline.ring.latest(int(TRACE_SECONDS * pipeline.model_rate))
            if len(span):
                data = span.data if pipeline.channels is None else span.data[:, pipeline.channels]
                self.traces.show_samples(data - data.mean(axis=0))
            self.frames += 1
            self._update_status(pipeline)
            return
        # rankings of the model a swap replaced may still wait in the queue: only this model's count
        rankings = [r for r in pipeline.queue.drain() if len(r.scores) == len(pipeline.class_ids)]
        if rankings:
            newest = rankings[-1]
            self.last_ranking = newest
            self.rankings.count(rankings)
            self.text.add_rankings(rankings)
            now = time.monotonic()
            # Text and bars change every hop; reading them needs no more than ~10 updates a second.
            if now - self._last_list >= 0.1:
                self._last_list = now
                self.rankings.update_ranking(newest, pipeline.class_ids)
            self.heat.update_ranking(newest)
            self.text.redraw(newest.timestamp)
        assert pipeline.filtered is not None and pipeline.info is not None
        span = pipeline.filtered.latest(int(TRACE_SECONDS * pipeline.model_rate))
        self.traces.show_samples(span.data)
        self.frames += 1
        self._update_status(pipeline)

    def _poll_lsl_listing(self) -> None:
        if self._lsl_listing is None or not self._lsl_listing.done():
            return
        future, self._lsl_listing = self._lsl_listing, None
        try:
            streams = future.result()
        except Exception as exc:  # LSL unavailable: say so, keep the typed name
            self.show_error(f"Could not list LSL streams: {exc}")
            return
        if SOURCE_KINDS[self.source_kind.currentIndex()] != "LSL stream":
            return
        typed = self.source_detail.currentText()
        self.source_detail.blockSignals(True)
        self.source_detail.clear()
        for s in streams:
            self.source_detail.addItem(f"{s.name}  ({s.type}, {s.n_channels} ch, {s.rate:g} Hz)")
        self.source_detail.setCurrentText(typed)
        self.source_detail.blockSignals(False)

    _last_status = 0.0
    _last_list = 0.0

    def _update_status(self, pipeline: Pipeline) -> None:
        now = time.monotonic()
        if now - self._last_status < 0.25:
            return
        self._last_status = now
        s = pipeline.stats()
        lat = (
            "latency —"
            if np.isnan(s.latency_p50_ms)
            else f"latency p50 {s.latency_p50_ms:.1f} ms · p99 {s.latency_p99_ms:.1f} ms (last 10 s)"
        )
        self.status_labels["rate"].setText(f"rate {s.rate:,.0f} / {s.nominal_rate:g} Hz")
        self.status_labels["lost"].setText(f"lost {s.lost:,} samples")
        self.status_labels["latency"].setText(lat)
        self.status_labels["device"].setText(f"{getattr(pipeline.ranker, 'backend', 'torch')} {s.device}")
        if s.paused:
            self._set_state("paused")
        elif getattr(pipeline.source, "exhausted", False):  # a replay that reached its end
            self._set_state(f"replay finished · {self.source_spec}")
        elif s.silent_s >= SILENCE_S:  # an outage as it happens, not an average that drifts
            self._set_state(f"no samples for {s.silent_s:.1f} s · {self.source_spec}", alarm=True)
        else:
            self._set_state(self._running_text())

    def _set_state(self, text: str, alarm: bool = False) -> None:
        label = self.status_labels["state"]
        label.setText(text)
        label.setStyleSheet(f"color: {BAD}; font-weight: 600;" if alarm else "")

    @property
    def swapping_model(self) -> bool:
        """A model picked while streaming is still being loaded or swapped in."""
        return self._swapping is not None

    def show_error(self, text: str) -> None:
        """A sentence in the banner that stays until the next one: what went wrong."""
        self.banner.setStyleSheet(f"background: {BAD}; color: white; padding: 6px 12px; border-radius: 6px;")
        self.banner.setText(text)
        self.banner.show()

    def show_notice(self, text: str) -> None:
        """A sentence in the banner that is news, not an error (until the next one)."""
        self.banner.setStyleSheet(f"background: {PANEL_RAISED}; color: {TEXT}; padding: 6px 12px; border-radius: 6px;")
        self.banner.setText(text)
        self.banner.show()

    # -- calibration ---------------------------------------------------------------------

    def calibrate(
        self, offer: str | None = None, protocol: Any = None, person: str | None = None, speed: float | None = None
    ) -> None:
        """Open the calibration in place of the rankings (``offer``: why it is offered, when no model fits);
        ``protocol`` (name, .toml or :class:`~myostream.calibrate.Protocol`), ``person`` and ``speed``
        fill the form in."""
        self.calibration.open(offer=offer, protocol=protocol, person=person, speed=speed)

    def calibration_base(self) -> tuple[Path | None, str | None]:
        """What a calibration starts from: the torch checkpoint ranking now (for a person model, the base it
        was adapted from), else the bundled model that fits the stream, else None (a small model is trained
        from the session); and the device profile whose filter such a model takes, if the source has one."""
        from myostream.sources import spec_kind
        from myostream.stream.devices import load_profile

        profile = None
        if self.source_object is None and spec_kind(self.source_spec)[0] == "profile":
            try:
                profile = load_profile(self.source_spec).name
            except MyostreamError:
                profile = None
        path = self.model_path
        if self.model is not None and path is not None and getattr(self.model, "backend", "torch") == "torch":
            person = path / "person.json"
            if person.is_file():
                try:
                    base = json.loads(person.read_text(encoding="utf-8")).get("base")
                except (OSError, ValueError):
                    base = None
                if base and (Path(base) / "config.json").is_file():
                    return Path(base), profile
            return path, profile
        info = self.pipeline.info if self.pipeline is not None else None
        if info is None:
            return None, profile
        try:
            return bundled_for(mapped_channel_count(info, self.channels), info.rate).path, profile
        except MyostreamError:
            return None, profile

    def _hide_error(self) -> None:
        self.banner.hide()


def live_self_calibration(ranker: Any, windows: np.ndarray, stop: threading.Event) -> Any:
    """The pipeline's self-calibration (:func:`myostream.train.adapt.self_calibrate_ranker`) for a
    torch model; the ONNX runtime ranks as it is, and the window then never imports torch."""
    torch = sys.modules.get("torch")  # a torch model means torch is imported already
    if torch is None or not isinstance(ranker, torch.nn.Module):
        return None
    from myostream.train.adapt import self_calibrate_ranker

    return self_calibrate_ranker(ranker, windows, stop)


def live_command(
    source: str,
    model: str | None = None,
    backend: str = "auto",
    device: str = "auto",
    duration: float | None = None,
    queries: Sequence[str] = (),
    screenshot: str | None = None,
    channels: Sequence[int] | None = None,
    self_calibrate: bool = True,
) -> int:
    """``myostream live [--source SPEC] [--model CKPT] [--backend B] [--torch-device D] [--duration S] [--query TEXT]
    [--screenshot PNG] [--channels 0,1,...] [--no-self-calibration]``."""
    if screenshot:
        output_file(screenshot, "the screenshot")  # before the window opens, not when it closes
    app, owns_app = application()
    apply_theme(app)
    window = LiveWindow(
        source=source, model=model, device=device, backend=backend, channels=channels, self_calibrate=self_calibrate
    )
    try:
        window.start(block=True)  # a bad model or source is one sentence on the terminal, before any window
    except MyostreamError:
        window.shutdown()
        raise
    for text in queries:
        window.add_text_query(text)
    if screenshot:
        window.screenshot_on_close = Path(screenshot)
    if duration is not None:
        QtCore.QTimer.singleShot(int(duration * 1000), window.close)
    with closed_by_signals(window):  # Ctrl-C and SIGTERM close through shutdown(): screenshot, threads
        print(
            f"myostream live: ranking {window.source_spec} with {window.model_label.text()}; "
            "close the window or press Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        code = run_until_closed(window, owns_app)
    if window.close_error is not None:
        raise MyostreamError(window.close_error)
    return code
