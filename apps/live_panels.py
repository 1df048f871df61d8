"""The panels of the live retrieval window: ranked descriptions, RMS/attention strip, text→EMG trace.

Each panel is fed from the GUI thread with :class:`~myostream.stream.pipeline.HopRanking` s
the pipeline's worker thread produced; none of them touches the model. A ranking the
model's rejection rule did not accept shows "no confident match" where the first
description would be, and its candidates greyed below it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from myostream.apps.widgets import (
    ACCENT,
    BORDER,
    GOOD,
    PANEL_RAISED,
    TEXT,
    TEXT_DIM,
    WARN,
    Bar,
    DisplayScale,
    ElidedLabel,
    style_plot,
)
from PyQt6 import QtCore, QtWidgets

from myostream.rejection import Rejection
from myostream.stream.pipeline import HopRanking

#: what the first row says when the model is not confident about the window
NO_MATCH = "no confident match"
#: each confidence measure in words, for the "no confident match" explanation
MEASURE_WORDS = {"margin": "lead over the second", "softmax": "probability", "top1": "cosine score"}

#: Colours of the semantic queries' attention lines and of the free-text query traces.
QUERY_COLORS = ("#ffffff", "#7fe0ff", "#ffd166", "#ff8fab", "#b8f28c", "#c3a6ff", "#ffb38a", "#8ff0d6")


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = (scores - scores.max()) / temperature
    e = np.exp(z)
    return e / e.sum()


def _set_text(label: QtWidgets.QLabel, text: str) -> None:
    """Set a label's text only when it changed (each change costs a relayout)."""
    if label.text() != text:
        label.setText(text)


class RankingRow(QtWidgets.QFrame):
    """One candidate: rank, label, probability and cosine score, canonical description, bar.

    The best candidate's row shows its whole description; the others one elided line
    (the whole text is in the tooltip), so five rows fit without scrolling.
    """

    def __init__(self, rank: int) -> None:
        super().__init__()
        self.setObjectName("row")
        self.first = rank == 1
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setHorizontalSpacing(8)
        layout.setVerticalSpacing(3)
        self.rank_text = str(rank)
        self.rank = QtWidgets.QLabel(self.rank_text)
        self.rank.setFixedWidth(18)
        self.rank.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignHCenter)
        self.label = QtWidgets.QLabel()
        self.truth = QtWidgets.QLabel()
        self.truth.setStyleSheet(f"color: {GOOD}; font-size: 9pt; font-weight: 600;")
        # plain-text labels: rich text would be re-laid out as a document on every update
        self.prob = QtWidgets.QLabel()
        self.prob.setStyleSheet(f"color: {TEXT}; font-weight: 600;")
        # fixed room, so a row switching between a candidate and "no confident match" keeps its layout
        self.prob.setMinimumWidth(self.prob.fontMetrics().horizontalAdvance("100%") + 8)
        self.prob.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.score = QtWidgets.QLabel()
        self.score.setStyleSheet(f"color: {TEXT_DIM};")
        self.score.setMinimumWidth(self.score.fontMetrics().horizontalAdvance("cos +0.00") + 4)
        self.score.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        if self.first:
            self.description: QtWidgets.QLabel = QtWidgets.QLabel()
            self.description.setWordWrap(True)
            self.description.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
            self.description.setMinimumHeight(4 * self.description.fontMetrics().lineSpacing() + 4)
        else:
            self.description = ElidedLabel()
        self.description.setStyleSheet(f"color: {TEXT_DIM}; font-size: 9pt;")
        self.bar = Bar()
        layout.addWidget(self.rank, 0, 0, 3, 1)
        layout.addWidget(self.label, 0, 1)
        layout.addWidget(self.truth, 0, 2)
        layout.addWidget(self.prob, 0, 3)
        layout.addWidget(self.score, 0, 4)
        layout.addWidget(self.bar, 1, 1, 1, 4)
        layout.addWidget(self.description, 2, 1, 1, 4)
        layout.setColumnStretch(1, 1)
        self.class_id = ""
        self._look: tuple[bool, bool, bool] | None = None
        self._style(true=False)

    def _style(self, true: bool, dim: bool = False, verdict: bool = False) -> None:
        """Frame and text colours: the true gesture's row green, greyed candidates (the model is not
        confident), the first row amber when it says "no confident match"."""
        if (true, dim, verdict) == self._look:
            return
        self._look = (true, dim, verdict)
        border = WARN if verdict else GOOD if true else (ACCENT if self.first and not dim else BORDER)
        self.setStyleSheet(
            f"QFrame#row {{ background: {PANEL_RAISED}; border: 1px solid {border}; border-radius: 6px; }}"
        )
        size = "14pt" if self.first else "11pt"
        color = WARN if verdict else TEXT_DIM if dim else TEXT
        self.label.setStyleSheet(f"color: {color}; font-size: {size}; font-weight: 600;")
        self.prob.setStyleSheet(f"color: {TEXT_DIM if dim else TEXT}; font-weight: 600;")
        rank = WARN if verdict else ACCENT if self.first and not dim else TEXT_DIM
        self.rank.setStyleSheet(f"color: {rank}; font-size: {size}; font-weight: 700;")

    def _set_description(self, description: str) -> None:
        if isinstance(self.description, ElidedLabel):
            self.description.set_full_text(description)
        else:
            self.description.setText(description)

    def set_candidate(
        self,
        class_id: str,
        label: str,
        description: str,
        score: float,
        prob: float,
        true: bool,
        rank: int | None = None,
        dim: bool = False,
    ) -> None:
        """Show one candidate; ``rank`` its place in the ranking (default: the row's), ``dim`` greys it."""
        if class_id != self.class_id:
            self.class_id = class_id
            self.label.setText(label)
            self._set_description(description)
        _set_text(self.rank, str(rank) if rank is not None else self.rank_text)
        _set_text(self.prob, f"{prob:.0%}")
        _set_text(self.score, f"cos {score:+.2f}")
        _set_text(self.truth, "✓ true gesture" if true else "")
        self.bar.set_value(prob, GOOD if true else TEXT_DIM if dim else ACCENT)
        self._style(true, dim)

    def set_verdict(self, title: str, description: str) -> None:
        """Show a verdict instead of a candidate (the first row's "no confident match")."""
        self.class_id = ""  # the next candidate redraws its label and description
        _set_text(self.label, title)
        self._set_description(description)
        _set_text(self.rank, "–")
        for label in (self.prob, self.score, self.truth):
            _set_text(label, "")
        self.bar.set_value(0.0)
        self._style(true=False, verdict=True)


class RankingPanel(QtWidgets.QWidget):
    """The top-k descriptions of the newest window, updated in place (no widget churn)."""

    def __init__(self, k: int = 5) -> None:
        super().__init__()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.truth = QtWidgets.QLabel("true gesture: unknown")
        self.truth.setStyleSheet(f"color: {TEXT_DIM};")
        # elided rather than widening the panel (the whole line is in its tooltip)
        self.agreement = ElidedLabel("")
        self.agreement.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.agreement.setStyleSheet(f"color: {TEXT_DIM};")
        head = QtWidgets.QHBoxLayout()
        head.addWidget(self.truth)
        head.addWidget(self.agreement, 1)
        layout.addLayout(head)
        self.rows = [RankingRow(i + 1) for i in range(k)]
        for row in self.rows:
            layout.addWidget(row)
        self.rows[0].description.setText("The descriptions the model ranks highest for the newest window appear here.")
        layout.addStretch(1)
        self.catalog: Mapping[str, tuple[str, str]] = {}
        self.temperature = 0.07
        self.rejection: Rejection | None = None
        self.updates = 0
        #: per recent hop with a known truth: (top-1 is the truth, the model was confident)
        self._hits: deque[tuple[bool, bool]] = deque(maxlen=200)

    def set_catalog(
        self, catalog: Mapping[str, tuple[str, str]], temperature: float, rejection: Rejection | None = None
    ) -> None:
        """``class id -> (label, canonical description)``; ``temperature`` turns scores into probabilities;
        ``rejection`` is the model's rule (it explains a "no confident match")."""
        self.catalog = dict(catalog)
        self.temperature = temperature
        self.rejection = rejection
        self._hits.clear()
        for row in self.rows:
            row.class_id = ""

    def labels(self) -> list[str]:
        """The labels shown, best first (what a user reads; tests read it too)."""
        return [row.label.text() for row in self.rows]

    def count(self, rankings: Sequence[HopRanking]) -> None:
        """Note, for every ranking (also those not drawn), whether its top class is the true one
        and whether the model was confident about it."""
        self._hits.extend(
            (r.top[0].class_id == r.true_class, r.confident) for r in rankings if r.true_class is not None
        )

    def update_ranking(self, ranking: HopRanking, class_ids: Sequence[str]) -> None:
        probs = softmax(ranking.scores, self.temperature)
        index = {c: i for i, c in enumerate(class_ids)}
        rows = self.rows
        if not ranking.confident:  # the first row says so; the candidates follow it, greyed
            rows[0].set_verdict(NO_MATCH, self._no_match_text(ranking))
            rows = rows[1:]
        for rank, (row, cand) in enumerate(zip(rows, ranking.top), start=1):
            label, description = self.catalog.get(cand.class_id, (cand.label, ""))
            row.set_candidate(
                cand.class_id,
                label,
                description,
                cand.score,
                float(probs[index[cand.class_id]]),
                true=cand.class_id == ranking.true_class,
                rank=rank,
                dim=not ranking.confident,
            )
        if ranking.true_class is None:
            _set_text(self.truth, "true gesture: unknown (live device)")
            self.agreement.set_full_text("")
        else:
            label = self.catalog.get(ranking.true_class, (ranking.true_class, ""))[0]
            _set_text(self.truth, f"true gesture: <b style='color:{TEXT}'>{label}</b>")
            self.agreement.set_full_text(self._agreement_text())
        self.updates += 1

    def _no_match_text(self, ranking: HopRanking) -> str:
        best = self.catalog.get(ranking.top[0].class_id, (ranking.top[0].label, ""))[0]
        why = ""
        rule = self.rejection
        if rule is not None and ranking.confidence is not None:
            why = (
                f" (its {MEASURE_WORDS[rule.measure]} is {ranking.confidence:.2f}; the model shows matches "
                f"above {rule.threshold:.2f})"
            )
        return (
            f"The best guess, {best}, is not confident enough to show{why}. The hand may be between "
            "gestures or doing something the catalog does not hold."
        )

    def _agreement_text(self) -> str:
        hits = np.array(self._hits, bool).reshape(-1, 2)
        text = f"top-1 = truth in {hits[:, 0].mean():.0%} of the last {len(hits)} hops"
        if self.rejection is not None and len(hits):
            shown = hits[hits[:, 1], 0]
            text += f" · confident {hits[:, 1].mean():.0%}"
            if len(shown):
                text += f", right {shown.mean():.0%}"
        return text


class HeatStrip(pg.PlotWidget):
    """RMS per patch × channel of the current window, with each query's attention over the patches.

    The attention lines share the image's x axis (one point per patch); the right axis
    gives their value. :attr:`legend` is a small HTML label naming the line colours, for
    the panel header.
    """

    def __init__(self) -> None:
        super().__init__()
        item = self.getPlotItem()
        style_plot(item)
        item.setLabel("bottom", "patch (time →)")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        item.addItem(self.image)
        item.showAxis("right")
        for name in ("left", "right", "bottom"):  # empty until the first window sets them
            item.getAxis(name).setTicks([[]])
        item.getAxis("bottom").enableAutoSIPrefix(False)
        self.legend = QtWidgets.QLabel()
        self._lines: list[pg.PlotDataItem] = []
        self._shape: tuple[int, int] = (0, 0)
        self._channel_names: tuple[str, ...] = ()
        self._top = 0.0
        self._level = DisplayScale(release=0.98, memory=600)  # a window per hop: the last half minute at 50 ms
        self.updates = 0

    def set_channels(self, channel_names: Sequence[str]) -> None:
        self._channel_names = tuple(channel_names)
        self._shape = (0, 0)
        self._level.reset()

    def _layout(self, patches: int, channels: int, queries: int) -> None:
        item = self.getPlotItem()
        for line in self._lines:
            item.removeItem(line)
        self._lines = []
        names = []
        for m in range(queries):
            color = QUERY_COLORS[m % len(QUERY_COLORS)]
            self._lines.append(item.plot(pen=pg.mkPen(color, width=2), dynamicRangeLimit=None))
            names.append(f"<span style='color:{color}'>━ q{m + 1}</span>")
        self.legend.setText("attention of " + " ".join(names) if names else "no semantic queries")
        self.legend.setStyleSheet(f"color: {TEXT_DIM}; font-size: 9pt;")
        labels = (
            self._channel_names
            if len(self._channel_names) == channels
            else tuple(f"ch{i + 1}" for i in range(channels))
        )
        step = -(-channels // 8)  # at most 8 channel labels, so 16 rows stay readable
        item.getAxis("left").setTicks([[(i + 0.5, n) for i, n in enumerate(labels) if i % step == 0]])
        item.getAxis("bottom").setTicks([[(p + 0.5, str(p + 1)) for p in range(patches)]])
        item.setXRange(0, patches, padding=0.0)
        item.setYRange(0, channels, padding=0.0)
        self._shape = (patches, channels)

    def update_ranking(self, ranking: HopRanking) -> None:
        rms = ranking.rms  # [patches, C]
        patches, channels = rms.shape
        queries = len(ranking.attention)
        if self._shape != (patches, channels) or len(self._lines) != queries:
            self._layout(patches, channels, queries)
        # row-major image [rows = channels, cols = patches]; channel 1 at the bottom
        # One colour scale across windows (fast up, slow down), so rest looks dark next to a gesture.
        level = self._level.update(float(rms.max()))
        self.image.setImage(rms.T, autoLevels=False, levels=(0.0, level or 1.0))
        self.image.setRect(QtCore.QRectF(0, 0, patches, channels))
        if queries:
            # Uniform attention is 1/patches; keep at least twice that as full height so a
            # flat line reads as flat instead of being stretched to the top.
            top = max(float(ranking.attention.max()), 2.0 / patches) * 1.1
            x = np.arange(patches) + 0.5
            for line, att in zip(self._lines, ranking.attention):
                line.setData(x, att / top * channels)
            if round(top, 2) != self._top:  # re-render the axis only when its scale changes
                self._top = round(top, 2)
                ticks = [(v / top * channels, f"{v:.2f}") for v in np.linspace(0, top / 1.1, 3)]
                self.getPlotItem().getAxis("right").setTicks([ticks])
        self.updates += 1


class TextQueryPanel(QtWidgets.QWidget):
    """Free-text descriptions typed by the user and their similarity to the live EMG over time."""

    #: emitted with the text the user asked to add (the window encodes it off the GUI thread)
    query_requested = QtCore.pyqtSignal(str)

    def __init__(self, seconds: float = 20.0) -> None:
        super().__init__()
        self.seconds = seconds
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        row = QtWidgets.QHBoxLayout()
        self.edit = QtWidgets.QLineEdit()
        self.edit.setPlaceholderText(
            "Type any description, e.g. “make a fist” or “point with the index finger”, then Enter"
        )
        self.add = QtWidgets.QPushButton("Add query")
        self.add.setObjectName("primary")
        self.status = QtWidgets.QLabel("")
        self.status.setStyleSheet(f"color: {TEXT_DIM};")
        row.addWidget(self.edit, 1)
        row.addWidget(self.add)
        layout.addLayout(row)
        self.chips = QtWidgets.QHBoxLayout()
        self.chips.setSpacing(6)
        self.chips.addWidget(self.status)
        self.chips.addStretch(1)
        layout.addLayout(self.chips)
        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        style_plot(item)
        item.showGrid(x=True, y=True, alpha=0.12)
        item.setLabel("bottom", "time (s)")
        item.setLabel("left", "cosine")
        item.getAxis("left").enableAutoSIPrefix(False)
        item.setXRange(-seconds, 0, padding=0.0)
        item.enableAutoRange(axis="y")
        self.legend = item.addLegend(
            offset=(8, 4), labelTextColor=TEXT, brush=pg.mkBrush(22, 24, 29, 200), pen=pg.mkPen(BORDER)
        )
        self.legend.hide()  # an empty legend still draws its frame
        layout.addWidget(self.plot, 1)
        self.edit.returnPressed.connect(self._request)
        self.add.clicked.connect(self._request)
        self._traces: dict[str, tuple[deque[tuple[float, float]], pg.PlotDataItem, QtWidgets.QWidget]] = {}
        self._removed: list[str] = []
        self.updates = 0

    def _request(self) -> None:
        text = self.edit.text().strip()
        if text and text not in self._traces:
            self.query_requested.emit(text)
            self.edit.clear()

    @property
    def queries(self) -> list[str]:
        return list(self._traces)

    def take_removed(self) -> list[str]:
        removed, self._removed = self._removed, []
        return removed

    def add_query(self, text: str) -> None:
        """Start a trace for ``text`` (its embedding is already with the pipeline)."""
        if text in self._traces:
            return
        color = QUERY_COLORS[(len(self._traces) + 1) % len(QUERY_COLORS)]
        curve = self.plot.getPlotItem().plot(pen=pg.mkPen(color, width=2), name=text, dynamicRangeLimit=None)
        chip = QtWidgets.QPushButton(f"{text}  ✕")
        chip.setToolTip("remove this query")
        chip.setStyleSheet(
            f"QPushButton {{ border: 1px solid {color}; color: {color}; border-radius: 10px; padding: 2px 10px; }}"
        )
        chip.clicked.connect(lambda _=False, t=text: self.remove_query(t))
        self.chips.insertWidget(self.chips.count() - 2, chip)
        self._traces[text] = (deque(maxlen=4000), curve, chip)
        self.legend.show()

    def remove_query(self, text: str) -> None:
        if text not in self._traces:
            return
        _, curve, chip = self._traces.pop(text)
        self.plot.getPlotItem().removeItem(curve)
        self.legend.removeItem(curve)
        chip.deleteLater()
        self._removed.append(text)
        self.legend.setVisible(bool(self._traces))

    def add_rankings(self, rankings: Sequence[HopRanking]) -> None:
        for r in rankings:
            for text, score in r.text_scores.items():
                if text in self._traces:
                    self._traces[text][0].append((r.timestamp, score))

    def redraw(self, now: float) -> None:
        """Redraw every trace with time relative to ``now`` (the newest window's timestamp)."""
        for points, curve, _ in self._traces.values():
            while points and points[0][0] < now - self.seconds - 1:
                points.popleft()
            if points:
                arr = np.asarray(points)
                curve.setData(arr[:, 0] - now, arr[:, 1])
        if self._traces:
            self.updates += 1

    def clear_history(self) -> None:
        for points, curve, _ in self._traces.values():
            points.clear()
            curve.setData([], [])
