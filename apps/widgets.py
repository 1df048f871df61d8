"""Widgets and colours shared by the myostream apps (live retrieval, calibration recorder).

:class:`TracePlot` draws many EMG channels fast enough for 16 channels at 2 kHz: it is
fed the newest samples a few dozen times a second (from a QTimer, never per sample),
min/max-decimates them to about two points per pixel column, and updates one
``PlotDataItem`` per channel, each channel on its own row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

# One dark palette for every app: panels, text, accents and a channel colour cycle that
# stays distinguishable on the dark background.
BACKGROUND = "#16181d"
PANEL = "#1f2229"
PANEL_RAISED = "#282c35"
BORDER = "#343946"
TEXT = "#e6e8ee"
TEXT_DIM = "#9aa1b1"
ACCENT = "#4da3ff"
GOOD = "#4cc38a"
WARN = "#f0b43c"
BAD = "#ef5b5b"
CHANNEL_COLORS = (
    "#4da3ff",
    "#f28e2b",
    "#59c76f",
    "#e15759",
    "#b07aa1",
    "#edc948",
    "#76b7b2",
    "#ff9da7",
    "#9c755f",
    "#a0cbe8",
    "#ffbe7d",
    "#8cd17d",
    "#d4a6c8",
    "#86bcb6",
    "#f1ce63",
    "#bab0ac",
)
FONT_FAMILY = "Inter, Segoe UI, Helvetica Neue, Arial, sans-serif"

STYLESHEET = f"""
QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: 10pt; }}
QFrame#panel {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 8px; }}
QLabel#title {{ color: {TEXT_DIM}; font-size: 9pt; font-weight: 600; letter-spacing: 1px; background: transparent; }}
QLabel {{ background: transparent; }}
QPushButton {{ background: {PANEL_RAISED}; border: 1px solid {BORDER}; border-radius: 6px; padding: 5px 12px; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked {{ background: {ACCENT}; color: {BACKGROUND}; }}
QPushButton#primary {{ background: {ACCENT}; color: {BACKGROUND}; font-weight: 600; border: none; }}
QPushButton:disabled {{ color: {TEXT_DIM}; }}
QLineEdit, QComboBox {{ background: {PANEL_RAISED}; border: 1px solid {BORDER}; border-radius: 6px; padding: 4px 8px; }}
QLineEdit:focus, QComboBox:focus {{ border-color: {ACCENT}; }}
QComboBox QAbstractItemView {{ background: {PANEL_RAISED}; selection-background-color: {ACCENT}; }}
QToolBar {{ background: {PANEL}; border: none; border-bottom: 1px solid {BORDER}; spacing: 6px; padding: 4px; }}
QStatusBar {{ background: {PANEL}; color: {TEXT_DIM}; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ color: {TEXT_DIM}; padding: 0 8px; }}
QSplitter::handle {{ background: {BACKGROUND}; }}
QProgressBar {{ background: {PANEL_RAISED}; border: none; border-radius: 4px; max-height: 8px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 4px; }}
"""


def channel_color(i: int) -> str:
    return CHANNEL_COLORS[i % len(CHANNEL_COLORS)]


def apply_theme(app: QtWidgets.QApplication) -> None:
    """The shared look: dark palette, readable font, pyqtgraph on the same background."""
    app.setStyle("Fusion")
    font = QtGui.QFont()
    font.setFamilies([f.strip() for f in FONT_FAMILY.split(",")])
    font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(STYLESHEET)
    pg.setConfigOptions(background=PANEL, foreground=TEXT_DIM, antialias=False)


def application() -> tuple[QtWidgets.QApplication, bool]:
    """The QApplication, and whether this call created it (False inside a host such as pytest-qt or IPython)."""
    existing = QtWidgets.QApplication.instance()
    if existing is not None:
        return existing, False  # type: ignore[return-value]
    import sys

    return QtWidgets.QApplication(sys.argv[:1]), True


def run_until_closed(window: QtWidgets.QWidget, owns_app: bool) -> int:
    """Show ``window`` and run the event loop until it is closed.

    A program that created the QApplication runs ``app.exec()``. Inside a host that owns
    the application, quitting it would end the host's event handling (pyqtgraph also tears
    its scenes down on ``aboutToQuit``), so a local loop runs until the window is hidden.
    """
    app = QtWidgets.QApplication.instance()
    window.show()
    if owns_app:
        return int(app.exec())
    loop = QtCore.QEventLoop()
    watch = QtCore.QTimer(interval=50)
    watch.timeout.connect(lambda: loop.quit() if not window.isVisible() else None)
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    watch.start()
    try:
        loop.exec()
    finally:
        watch.stop()
        app.setQuitOnLastWindowClosed(quit_on_close)
    return 0


@contextmanager
def closed_by_signals(window: QtWidgets.QWidget) -> Iterator[None]:
    """While inside, Ctrl-C (SIGINT) and a polite kill (SIGTERM) close ``window`` the normal way.

    Its ``closeEvent`` then runs as for a click on the close button: the recorder closes its
    session file complete, the live window writes its screenshot and stops its threads.
    Python runs signal handlers only between bytecodes, so a timer wakes the interpreter
    while Qt's event loop waits in C++. The previous handlers come back on exit (a host
    such as pytest keeps its own).
    """
    import signal

    # Closing from the event loop, not from inside the handler: a signal that arrives before the
    # window is shown would otherwise close it first, and showing it afterwards would run forever.
    previous = {
        signum: signal.signal(signum, lambda *_: QtCore.QTimer.singleShot(0, window.close))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    wake = QtCore.QTimer(interval=200)
    wake.timeout.connect(lambda: None)
    wake.start()
    try:
        yield
    finally:
        wake.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def panel(
    title: str, body: QtWidgets.QWidget | QtWidgets.QLayout, detail: QtWidgets.QWidget | None = None
) -> QtWidgets.QFrame:
    """A rounded panel with a small caps title (and an optional ``detail`` widget at its right) above ``body``."""
    frame = QtWidgets.QFrame()
    frame.setObjectName("panel")
    layout = QtWidgets.QVBoxLayout(frame)
    layout.setContentsMargins(10, 8, 10, 10)
    layout.setSpacing(6)
    head = QtWidgets.QHBoxLayout()
    label = QtWidgets.QLabel(title.upper())
    label.setObjectName("title")
    head.addWidget(label)
    head.addStretch(1)
    if detail is not None:
        head.addWidget(detail)
    layout.addLayout(head)
    if isinstance(body, QtWidgets.QLayout):
        layout.addLayout(body)
    else:
        layout.addWidget(body)
    return frame


class Bar(QtWidgets.QWidget):
    """A thin horizontal bar for a value in [0, 1], painted directly (cheap to update many times a second)."""

    def __init__(self, color: str = ACCENT, height: int = 6) -> None:
        super().__init__()
        self.value = 0.0
        self.color = QtGui.QColor(color)
        self._track = QtGui.QColor(BORDER)
        self.setFixedHeight(height)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

    def set_value(self, value: float, color: str | None = None) -> None:
        value = min(1.0, max(0.0, float(value)))
        new_color = QtGui.QColor(color) if color else self.color
        if abs(value - self.value) > 1e-3 or new_color != self.color:
            self.value, self.color = value, new_color
            self.update()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        r = self.height() / 2
        painter.setBrush(self._track)
        painter.drawRoundedRect(QtCore.QRectF(self.rect()), r, r)
        if self.value > 0:
            painter.setBrush(self.color)
            painter.drawRoundedRect(
                QtCore.QRectF(0, 0, max(self.height(), self.value * self.width()), self.height()), r, r
            )
        painter.end()


class ElidedLabel(QtWidgets.QLabel):
    """A one-line label that ends in "…" when its text does not fit (full text in the tooltip)."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(10, self.width())
        self.setText(self.fontMetrics().elidedText(self._full, QtCore.Qt.TextElideMode.ElideRight, width))


def style_plot(plot: pg.PlotItem) -> None:
    """Axes in the theme's dim text colour, a faint grid, no mouse zoom on live plots."""
    for name in ("left", "bottom", "right"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(BORDER))
        axis.setTextPen(pg.mkPen(TEXT_DIM))
        # Axes redraw with every curve update otherwise; a cached pixmap makes that a blit.
        axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()


def peak_decimate(data: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max decimation of ``data [n, C]`` to at most ``max_points`` rows.

    Returns ``(index, values)``: the (fractional) sample index of each kept row and the
    rows; every bin of samples contributes its minimum and its maximum, so spikes stay
    visible however far the trace is zoomed out.
    """
    n = len(data)
    if n <= max_points:
        return np.arange(n, dtype=np.float64), data
    factor = int(np.ceil(n / (max_points // 2)))
    bins = n // factor
    skip = n - bins * factor  # drop the oldest few samples so bins align with the newest one
    blocks = data[skip:].reshape(bins, factor, data.shape[1])
    out = np.empty((2 * bins, data.shape[1]), data.dtype)
    out[0::2] = blocks.min(axis=1)
    out[1::2] = blocks.max(axis=1)
    centres = skip + factor * np.arange(bins, dtype=np.float64) + (factor - 1) / 2
    return np.repeat(centres, 2), out


class _RowCurve(pg.PlotCurveItem):
    """One channel's curve with a fixed bounding box (its row over the visible time span).

    pyqtgraph would otherwise recompute the data's min/max (NaN-aware) on every update of
    every curve, for a box that never changes here.
    """

    def __init__(self, rect: QtCore.QRectF, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rect = rect

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 (Qt's name)
        return self._rect

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N803 (pyqtgraph's name)
        r = self._rect
        return (r.left(), r.right()) if ax == 0 else (r.top(), r.bottom())


class DisplayScale:
    """The full scale of a live display: up at once with a louder signal, down slowly with a quieter
    one, and never below ``floor`` of the loudest signal of the last ``memory`` updates, so rest after
    a gesture stays small instead of being blown up to full scale while the scale releases."""

    def __init__(self, release: float, memory: int, floor: float = 0.3) -> None:
        self.release, self.keep, self.floor = release, 1.0 - 1.0 / memory, floor
        self.reset()

    def reset(self) -> None:
        self.value = self.loud = 0.0

    def update(self, peak: float) -> float:
        """Take the newest peak; the scale to draw it at (0 until something was seen)."""
        self.value = peak if peak > self.value else self.release * self.value + (1.0 - self.release) * peak
        self.loud = max(peak, self.keep * self.loud)
        return max(self.value, self.floor * self.loud)


class TracePlot(pg.PlotWidget):
    """Scrolling multichannel traces, one row per channel, newest sample at t = 0.

    Call :meth:`show_samples` with the newest ``seconds`` of samples (e.g.
    ``ring.latest(n).data``) from a timer. All rows share one amplitude scale, which
    follows the signal (fast up, slow down) so relative channel amplitudes stay readable.
    """

    def __init__(
        self,
        channel_names: Sequence[str],
        rate: float,
        seconds: float = 5.0,
        max_points: int = 1200,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent=parent)
        self.seconds = float(seconds)
        self.max_points = int(max_points)
        self.frames = 0
        self._scale = DisplayScale(release=0.97, memory=30 * 30)  # drawn at ~30 fps: the last half minute
        self._curves: list[_RowCurve] = []
        item = self.getPlotItem()
        style_plot(item)
        item.showGrid(x=True, y=False, alpha=0.15)
        item.setLabel("bottom", "time (s)")
        item.setXRange(-self.seconds, 0, padding=0.0)
        item.getViewBox().disableAutoRange()
        self.set_channels(channel_names, rate)

    @property
    def n_channels(self) -> int:
        return len(self._curves)

    def set_channels(self, channel_names: Sequence[str], rate: float) -> None:
        """Rebuild the rows for a new source."""
        item = self.getPlotItem()
        for curve in self._curves:
            item.removeItem(curve)
        self.rate = float(rate)
        self.channel_names = tuple(channel_names)
        self._curves = []
        for i in range(len(self.channel_names)):
            # a row spans y = -i +- 0.5; the box leaves room for spikes that overshoot it
            curve = _RowCurve(
                QtCore.QRectF(-self.seconds, -i - 2.0, self.seconds, 4.0),
                pen=pg.mkPen(channel_color(i), width=1),
                skipFiniteCheck=True,
            )
            item.addItem(curve)
            self._curves.append(curve)
        n = len(self.channel_names)
        item.getAxis("left").setTicks([[(-float(i), name) for i, name in enumerate(self.channel_names)]])
        item.setYRange(-n + 0.4, 0.6, padding=0.0)
        self._scale.reset()

    def show_samples(self, data: np.ndarray) -> None:
        """Draw the newest samples ``data [n, C]`` (the last row is the newest)."""
        if len(data) == 0 or data.shape[1] != self.n_channels:
            return
        # about two points per pixel column: more cannot be seen, and every point costs paint time
        width = int(self.getPlotItem().getViewBox().width())
        index, values = peak_decimate(data, max(200, min(self.max_points, 2 * width)))
        t = (index - (len(data) - 1)) / self.rate
        peak = float(np.percentile(np.abs(values), 99.5)) if values.size else 0.0
        scale = self._scale.update(peak)
        gain = 0.45 / scale if scale > 0 else 1.0
        for i, curve in enumerate(self._curves):
            curve.setData(t, values[:, i] * gain - i)
        self.frames += 1
