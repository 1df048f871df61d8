"""Review of a recorded session: the whole trace with its label segments, editable.

Each segment (a run of one gesture and repetition, see
:func:`myostream.data.session.segments_from_labels`) is a draggable region over the
traces: drag an edge to correct an onset, pick another label, or delete it (its
samples become rest). Saving rewrites only the labels; the samples stay as recorded.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from myostream.apps.widgets import BAD, GOOD, TEXT, TEXT_DIM, WARN, panel, style_plot
from PyQt6 import QtCore, QtGui, QtWidgets

from myostream.data.session import Segment, labels_from_segments, read_session, save_labels, segments_from_labels

#: Fill colours of label classes (index 1, 2, ...); rest holds are grey, unlabelled hatched red.
CLASS_COLORS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#86bcb6",
    "#d4a6c8",
    "#a0cbe8",
)
REST_COLOR = "#8d96a8"
TRACE = "#c3cad8"
UNLABELLED = -1


def class_color(label: int) -> str:
    if label == UNLABELLED:
        return BAD
    return REST_COLOR if label == 0 else CLASS_COLORS[(label - 1) % len(CLASS_COLORS)]


def _brush(label: int, alpha: int) -> QtGui.QBrush:
    color = QtGui.QColor(class_color(label))
    color.setAlpha(alpha)
    style = QtCore.Qt.BrushStyle.BDiagPattern if label == UNLABELLED else QtCore.Qt.BrushStyle.SolidPattern
    return QtGui.QBrush(color, style)


class SegmentRegion(pg.LinearRegionItem):
    """A label segment drawn over the traces; emits ``clicked`` on a left click."""

    clicked = QtCore.pyqtSignal(object)

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 (pyqtgraph API)
        super().mouseClickEvent(ev)
        if ev.button() == QtCore.Qt.MouseButton.LeftButton and not ev.isAccepted():
            ev.accept()
            self.clicked.emit(self)


class ReviewView(QtWidgets.QWidget):
    """Whole-session traces with draggable label segments, a segment list and an editor."""

    record_another = QtCore.pyqtSignal()
    saved = QtCore.pyqtSignal(str)

    def __init__(self, path: str | Path, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.recording = rec = read_session(self.path)
        self.rate = rec.rate
        self.n = rec.n_samples
        self.label_names = rec.label_names
        assert rec.repetition is not None
        self.segments: list[Segment] = segments_from_labels(rec.labels, rec.repetition)
        self._saved = list(self.segments)
        self.selected: int | None = None
        self.regions: list[SegmentRegion] = []
        self._captions: list[pg.TextItem] = []
        self._syncing = False

        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        style_plot(item)
        for side in ("left", "bottom"):  # this plot zooms and pans: cached axis pixmaps went stale
            item.getAxis(side).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.NoCache)
        item.setMouseEnabled(x=True, y=False)
        item.showGrid(x=True, y=False, alpha=0.12)
        item.setLabel("bottom", "time (s)")
        self._draw_traces()

        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Gesture", "Rep", "Start (s)", "Length (s)"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_table_selection)

        self.label_box = QtWidgets.QComboBox()
        for k, name in enumerate(self.label_names):
            self.label_box.addItem(_swatch(class_color(k)), name, k)
        self.label_box.addItem(_swatch(BAD), "unlabelled (excluded)", UNLABELLED)
        self.label_box.activated.connect(lambda _i: self._on_label_chosen())
        self.delete_button = QtWidgets.QPushButton("Delete segment")
        self.delete_button.clicked.connect(lambda: self.selected is not None and self.delete(self.selected))
        QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Delete), self, activated=self.delete_button.click)
        editor = QtWidgets.QFormLayout()
        editor.addRow("Label", self.label_box)
        editor.addRow("", self.delete_button)
        hint = QtWidgets.QLabel(
            "Drag a segment's edges to move its onset or end; click a segment or a row to select it. "
            "Deleted segments become rest; 'unlabelled' keeps samples out of training."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color: {TEXT_DIM};")
        editor_box = QtWidgets.QVBoxLayout()
        editor_box.addLayout(editor)
        editor_box.addWidget(hint)

        self.save_button = QtWidgets.QPushButton("Save labels")
        self.save_button.setObjectName("primary")
        self.save_button.setMinimumHeight(36)
        self.save_button.clicked.connect(self.save)
        self.revert_button = QtWidgets.QPushButton("Revert")
        self.revert_button.clicked.connect(self.revert)
        self.another_button = QtWidgets.QPushButton("Record another session")
        self.another_button.clicked.connect(self.record_another.emit)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button, 1)

        side = QtWidgets.QVBoxLayout()
        side.addWidget(panel("Segments", self.table), 1)
        side.addWidget(panel("Edit selected", editor_box))
        side.addLayout(buttons)
        side.addWidget(self.another_button)
        side_widget = QtWidgets.QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(380)

        meta = rec.meta
        title = QtWidgets.QLabel(f"Review · subject {rec.subject} · session {rec.session} · {rec.exercise}")
        title.setStyleSheet(f"font-size: 15pt; font-weight: 600; color: {TEXT};")
        state = "complete" if meta.get("complete") else "incomplete (recording was interrupted)"
        info = QtWidgets.QLabel(
            f"{self.path.name} · {rec.duration:.1f} s · {rec.n_channels} ch @ {rec.rate:g} Hz · {rec.unit} · {state}"
        )
        info.setStyleSheet(f"color: {TEXT_DIM};")
        self.dirty_label = QtWidgets.QLabel()
        top = QtWidgets.QHBoxLayout()
        heading = QtWidgets.QVBoxLayout()
        heading.addWidget(title)
        heading.addWidget(info)
        top.addLayout(heading, 1)
        top.addWidget(self.dirty_label)

        body = QtWidgets.QHBoxLayout()
        body.addWidget(panel("Session with label segments", self.plot), 1)
        body.addWidget(side_widget)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(top)
        layout.addLayout(body, 1)

        self._rebuild()
        if self.segments:
            self.select(0)

    # -- drawing --------------------------------------------------------------------------
    def _draw_traces(self) -> None:
        rec, item = self.recording, self.plot.getPlotItem()
        emg = np.asarray(rec.emg, np.float32)
        centred = emg - emg.mean(axis=0) if len(emg) else emg
        # One scale for all channels, robust to a few spikes, so lanes do not overlap.
        scale = float(np.percentile(np.abs(centred), 99.99)) if centred.size else 1.0
        gain = 0.48 / scale if scale > 0 else 1.0
        t = np.arange(self.n) / self.rate
        # Neutral traces: the colours belong to the label segments.
        pen = pg.mkPen(TRACE, width=1)
        for i in range(rec.n_channels):
            curve = item.plot(t, centred[:, i] * gain - i, pen=pen)
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        item.getAxis("left").setTicks([[(-float(i), name) for i, name in enumerate(rec.channel_names)]])
        end = max(self.n / self.rate, 1.0 / self.rate)
        item.setLimits(xMin=0.0, xMax=end, yMin=-rec.n_channels, yMax=1.2)
        item.getViewBox().sigXRangeChanged.connect(lambda *_: self._fit_captions())
        item.getViewBox().sigResized.connect(lambda *_: self._fit_captions())
        item.setXRange(0.0, end, padding=0.0)
        item.setYRange(-rec.n_channels + 0.4, 1.1, padding=0.0)

    def _rebuild(self) -> None:
        item = self.plot.getPlotItem()
        for region, caption in zip(self.regions, self._captions):
            item.removeItem(region)
            item.removeItem(caption)
        self.regions, self._captions = [], []
        for seg in self.segments:
            region = SegmentRegion(values=(seg.start / self.rate, seg.stop / self.rate), swapMode="block")
            region.setZValue(-10)
            region.sigRegionChangeFinished.connect(self._on_region_moved)
            region.clicked.connect(lambda r: self.select(self.regions.index(r)))
            # Written downwards along the segment's onset, so it fits even when zoomed out.
            caption = pg.TextItem("", color=TEXT, anchor=(0.0, 1.0), angle=-90, fill=pg.mkBrush(22, 24, 29, 170))
            item.addItem(region)
            item.addItem(caption)
            self.regions.append(region)
            self._captions.append(caption)
        self.table.setRowCount(len(self.segments))
        for i in range(len(self.segments)):
            self._refresh(i)
        self._update_bounds()
        self._fit_captions()
        if self.selected is not None and self.selected >= len(self.segments):
            self.selected = None
        self._mark_dirty()

    def _refresh(self, i: int) -> None:
        """Redraw segment ``i``: region colours, caption, table row."""
        seg, region = self.segments[i], self.regions[i]
        chosen = i == self.selected
        region.setBrush(_brush(seg.label, 150 if chosen else 60))
        region.setHoverBrush(_brush(seg.label, 170))
        edge = pg.mkPen(TEXT, width=2) if chosen else pg.mkPen(class_color(seg.label), width=1)
        for line in region.lines:
            line.setPen(edge)
            line.setHoverPen(pg.mkPen(WARN, width=3))
        name = self._name(seg.label)
        self._captions[i].setText(f"{name} {seg.repetition}" if seg.repetition else name)
        self._captions[i].setPos(seg.start / self.rate, 1.1)
        cells = (
            name,
            str(seg.repetition or ""),
            f"{seg.start / self.rate:.2f}",
            f"{(seg.stop - seg.start) / self.rate:.2f}",
        )
        for col, text in enumerate(cells):
            cell = QtWidgets.QTableWidgetItem(text)
            if col == 0:
                cell.setIcon(_swatch(class_color(seg.label)))
            self.table.setItem(i, col, cell)

    def _fit_captions(self) -> None:
        """Show a segment's caption only where it fits inside the segment on screen."""
        viewbox = self.plot.getPlotItem().getViewBox()
        (x0, x1), width = viewbox.viewRange()[0], viewbox.width()
        px_per_s = width / (x1 - x0) if x1 > x0 else 0.0
        for seg, caption in zip(self.segments, self._captions):
            needed = caption.textItem.boundingRect().height() + 2
            caption.setVisible((seg.stop - seg.start) / self.rate * px_per_s >= needed)

    def _name(self, label: int) -> str:
        return "unlabelled" if label == UNLABELLED else self.label_names[label]

    def _update_bounds(self) -> None:
        for i, region in enumerate(self.regions):
            lo = self.segments[i - 1].stop if i > 0 else 0
            hi = self.segments[i + 1].start if i + 1 < len(self.segments) else self.n
            region.setBounds((lo / self.rate, hi / self.rate))

    def _mark_dirty(self) -> None:
        dirty = self.segments != self._saved
        self.dirty_label.setText("● unsaved changes" if dirty else "✓ labels saved")
        self.dirty_label.setStyleSheet(f"color: {WARN if dirty else GOOD}; font-weight: 600;")
        self.save_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)
        has = self.selected is not None
        self.delete_button.setEnabled(has)
        self.label_box.setEnabled(has)

    # -- editing --------------------------------------------------------------------------
    def select(self, i: int) -> None:
        previous, self.selected = self.selected, i
        for j in {previous, i} - {None}:
            if j is not None and j < len(self.segments):
                self._refresh(j)
        self._syncing = True
        self.table.selectRow(i)
        self.label_box.setCurrentIndex(self.label_box.findData(self.segments[i].label))
        self._syncing = False
        seg = self.segments[i]
        (x0, x1), _ = self.plot.getPlotItem().viewRange()
        if seg.stop / self.rate < x0 or seg.start / self.rate > x1:
            width = x1 - x0
            centre = (seg.start + seg.stop) / 2 / self.rate
            self.plot.getPlotItem().setXRange(centre - width / 2, centre + width / 2, padding=0.0)
        self._mark_dirty()

    def move(self, i: int, start: int, stop: int) -> None:
        """Set segment ``i`` to samples ``[start, stop)``, clipped to its neighbours."""
        lo = self.segments[i - 1].stop if i > 0 else 0
        hi = self.segments[i + 1].start if i + 1 < len(self.segments) else self.n
        start, stop = max(lo, min(start, hi - 1)), min(hi, max(stop, lo + 1))
        if stop > start:
            self.segments[i] = dataclasses.replace(self.segments[i], start=start, stop=stop)
        seg = self.segments[i]
        self._syncing = True
        self.regions[i].setRegion((seg.start / self.rate, seg.stop / self.rate))
        self._syncing = False
        self._refresh(i)
        self._update_bounds()
        self._mark_dirty()

    def relabel(self, i: int, label: int) -> None:
        """Give segment ``i`` another label (an index into ``label_names``, or -1 = unlabelled)."""
        if not -1 <= label < len(self.label_names):
            raise ValueError(f"label {label} is not one of this session's {len(self.label_names)} labels or -1")
        self.segments[i] = dataclasses.replace(self.segments[i], label=label)
        self._refresh(i)
        self._mark_dirty()

    def delete(self, i: int) -> None:
        """Remove segment ``i``; its samples become rest."""
        del self.segments[i]
        self.selected = None
        self._rebuild()
        if self.segments:
            self.select(min(i, len(self.segments) - 1))

    def revert(self) -> None:
        self.segments = list(self._saved)
        self.selected = None
        self._rebuild()
        if self.segments:
            self.select(0)

    def save(self) -> None:
        """Write the edited labels into the session file (samples untouched)."""
        labels, repetition = labels_from_segments(self.n, self.segments)
        save_labels(self.path, labels, repetition)
        self._saved = list(self.segments)
        self._mark_dirty()
        self.saved.emit(str(self.path))

    def _on_region_moved(self, region: SegmentRegion) -> None:
        if self._syncing:
            return
        i = self.regions.index(region)
        x0, x1 = region.getRegion()
        self.move(i, int(round(x0 * self.rate)), int(round(x1 * self.rate)))
        if self.selected != i:
            self.select(i)

    def _on_table_selection(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if not self._syncing and len(rows) == 1:
            row = rows.pop()
            if row != self.selected:
                self.select(row)

    def _on_label_chosen(self) -> None:
        if self.selected is not None and not self._syncing:
            self.relabel(self.selected, int(self.label_box.currentData()))


def _swatch(color: str, size: int = 12) -> QtGui.QIcon:
    pix = QtGui.QPixmap(size, size)
    pix.fill(QtGui.QColor(color))
    return QtGui.QIcon(pix)
