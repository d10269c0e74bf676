"""The timeline (pyqtgraph): one curve per detector, the fused calibrated curve beside them, the threshold band, the
temporal attention weights and the video position; clicking or dragging on it asks to seek.

The x axis is the frame index, labelled in seconds (ticks at round seconds, from the video's frame rate). The mouse
wheel zooms the time axis around the cursor (Reset zoom shows the whole video again), and the line under the plot
reads out the score nearest the cursor: time, frame, model and P(fake).

Each detector's curve can be hidden (the "Detectors" menu, or a click on its sample in the legend); a hidden curve
is not drawn and not read out, and the fused curve always stays."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from dfdesk.gui.presenters import FUSED, attention_points, curve_names, fused_label
from dfdesk.gui.widgets.images import CURVE_COLOURS, FUSED_COLOUR
from dfdesk.services.results import AnalysisView

HOVER_HINT = "Point at a curve for its score; the wheel zooms in time."
NO_LEGEND_HINT = "Colour key: the Detectors menu. Point at a curve for its score."  # short: a narrow readout
MIN_PLOT_HEIGHT = 120  # px of scores plot (with its time axis) the legend may never squeeze it below
MIN_VISIBLE_FRAMES = 8  # the deepest zoom
ATTENTION_HEIGHT = 110


@dataclass(frozen=True)
class Reading:
    """The score nearest the cursor."""

    time_s: float
    frame_index: int
    model: str
    fake_probability: float

    @property
    def text(self) -> str:
        return f"{self.time_s:.2f} s · frame {self.frame_index} · {self.model} · P(fake) {self.fake_probability:.2f}"


class TimeAxis(pg.AxisItem):
    """A bottom axis over frame indices that reads in seconds: ticks fall on round seconds at the video's rate."""

    def __init__(self, **kwargs):
        super().__init__("bottom", **kwargs)
        self.fps = 25.0
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal: float, maxVal: float, size: float):
        levels = super().tickValues(minVal / self.fps, maxVal / self.fps, size)
        return [(spacing * self.fps, [value * self.fps for value in values]) for spacing, values in levels]

    def tickStrings(self, values, scale, spacing):
        step = spacing / self.fps
        decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
        return [f"{value / self.fps:.{decimals}f}" for value in values]


class SeekViewBox(pg.ViewBox):
    """A ViewBox that turns clicks and drags into seek requests instead of panning; the wheel zooms in time."""

    def __init__(self, on_seek, **kwargs):
        super().__init__(**kwargs)
        self._on_seek = on_seek
        self.setMouseEnabled(x=True, y=False)  # x: the wheel zooms the time axis; drags are seeks (below)
        self.setMenuEnabled(False)

    def _seek_to(self, scene_pos: QPointF) -> None:
        self._on_seek(self.mapSceneToView(scene_pos).x())

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == pg.QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self._seek_to(ev.scenePos())

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == pg.QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self._seek_to(ev.scenePos())


class TimelineView(QWidget):
    seek_requested = Signal(int)  # frame index

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.frame_count = 1
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.times: dict[str, np.ndarray] = {}  # curve name -> each point's time (s), as the analysis recorded it
        self.labels: dict[str, str] = {}  # curve name -> its words in the legend and the readout
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setToolTip("Click or drag to move the video to that frame; the wheel zooms the time axis")
        self.legend = self._new_legend(1)
        self.legend_shown = False  # in the layout (row 0) or, in too short a view, out of it: see _fit_legend
        self.scores = self.graphics.addPlot(row=1, col=0, viewBox=SeekViewBox(self._request_seek),
                                            axisItems={"bottom": TimeAxis()})
        self.attention = self.graphics.addPlot(row=2, col=0, viewBox=SeekViewBox(self._request_seek),
                                               axisItems={"bottom": TimeAxis()})
        self.readout = QLabel(HOVER_HINT)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the page
        self.reset_zoom_button = QPushButton("Reset zoom")
        self.reset_zoom_button.setToolTip("Show the whole video on the time axis")
        self.reset_zoom_button.clicked.connect(self.reset_zoom)
        self.detectors_button = QToolButton()
        self.detectors_button.setText("Detectors")
        self.detectors_button.setToolTip("Show or hide each detector's curve (the fused curve always shows)")
        self.detectors_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.detectors_button.setMenu(QMenu(self.detectors_button))
        self._setup_plots()
        self.graphics.scene().sigMouseMoved.connect(self.show_reading_at)
        self._build()
        self.apply_palette(self.palette())

    def _build(self) -> None:
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        bar.addWidget(self.readout, 1)
        bar.addWidget(self.detectors_button)
        bar.addWidget(self.reset_zoom_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(bar)

    def _setup_plots(self) -> None:
        self.scores.setLabel("left", "P(fake)")
        self.scores.setLabel("bottom", "time (s)")
        self.scores.setYRange(0, 1, padding=0.03)
        self.scores.showGrid(x=True, y=True, alpha=0.2)
        # 0, 0.5 and 1 labelled, quarters as grid lines only: five labels crowd a plot a 150 % desktop leaves short
        self.scores.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0.0, 0.5, 1.0)], [(0.25, ""), (0.75, "")]])
        self.attention.setLabel("left", "attention")
        self.attention.setLabel("bottom", "time (s)")
        self.attention.setXLink(self.scores)
        self.hover_marker = pg.ScatterPlotItem(size=11, pen=pg.mkPen("#ffb000", width=2), brush=None)
        self.scores.addItem(self.hover_marker, ignoreBounds=True)
        self.attention.setMaximumHeight(ATTENTION_HEIGHT)
        self.graphics.ci.layout.setRowStretchFactor(1, 4)
        self.graphics.ci.layout.setRowStretchFactor(2, 1)
        self.position_lines = [pg.InfiniteLine(0, angle=90, movable=False, pen=pg.mkPen("#ffb000", width=2))
                               for _ in range(2)]
        self.scores.addItem(self.position_lines[0], ignoreBounds=True)
        self.attention.addItem(self.position_lines[1], ignoreBounds=True)
        self.band = pg.LinearRegionItem((0.4, 0.6), orientation="horizontal", movable=False,
                                        brush=pg.mkBrush(210, 154, 34, 45), pen=pg.mkPen(None))
        self.band.setZValue(-10)
        self.band.setToolTip("Inconclusive zone: between the two decision thresholds (with a fitted ensemble, the "
                             "fused curve is the bounded likelihood ratio read at even prior odds)")
        self.scores.addItem(self.band, ignoreBounds=True)

    def apply_palette(self, palette: QPalette) -> None:
        self.graphics.setBackground(palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        for plot in (self.scores, self.attention):
            for name in ("left", "bottom"):
                plot.getAxis(name).setPen(pg.mkPen(text))
                plot.getAxis(name).setTextPen(pg.mkPen(text))
        self.legend.setLabelTextColor(text)
        self._legend_colour = text

    def show_analysis(self, view: AnalysisView) -> None:
        self.frame_count = max(view.evidence.video.frame_count, 1)
        for plot in (self.scores, self.attention):
            plot.getAxis("bottom").fps = view.evidence.video.fps if view.evidence.video.fps > 0 else 25.0
        for curve in self.curves.values():
            self.scores.removeItem(curve)
        self.curves.clear()
        self.times.clear()
        self.labels.clear()
        self.legend.clear()
        for index, name in enumerate(curve_names(view)):
            self.curves[name] = self._curve(name, view, index)
            self.labels[name] = fused_label(view) if name == FUSED else name
            self.legend.addItem(self.curves[name], self.labels[name])
        self._fill_detector_menu()
        if view.verdict is not None:
            self.band.setRegion((view.verdict.real_threshold, view.verdict.fake_threshold))
        self._show_attention(attention_points(view))
        self._fit_legend()
        for plot in (self.scores, self.attention):
            plot.getViewBox().setLimits(xMin=-0.5, xMax=self.frame_count - 0.5,
                                        minXRange=min(MIN_VISIBLE_FRAMES, self.frame_count))
        self.reset_zoom()

    def _fill_detector_menu(self) -> None:
        menu = self.detectors_button.menu()
        menu.clear()
        for name in self.detector_names():
            action = menu.addAction(_swatch(self.curves[name].opts["pen"].color()), name)
            action.setCheckable(True)
            action.setChecked(True)
            action.toggled.connect(lambda on, n=name: self.set_detector_visible(n, on))
        self.detectors_button.setEnabled(not menu.isEmpty())

    def detector_names(self) -> list[str]:
        """The curves the analyst may hide: every detector's, not the fused one."""
        return [name for name in self.curves if name != FUSED]

    def set_detector_visible(self, name: str, visible: bool) -> None:
        """Draw or hide one detector's curve; the fused curve is never hidden."""
        if name == FUSED or name not in self.curves:
            return
        self.curves[name].setVisible(visible)
        for action in self.detectors_button.menu().actions():
            if action.text() == name and action.isChecked() != visible:
                action.setChecked(visible)
        self._update_legend()

    def hidden_detectors(self) -> list[str]:
        return [name for name in self.detector_names() if not self.curves[name].isVisible()]

    def _legend_sample_clicked(self, curve: pg.PlotDataItem) -> None:
        """pyqtgraph's legend toggled ``curve``: keep the fused one drawn and the menu in step."""
        name = next((n for n, c in self.curves.items() if c is curve), None)
        if name == FUSED:
            curve.setVisible(True)
            self._update_legend()
        elif name is not None:
            self.set_detector_visible(name, curve.isVisible())

    def _update_legend(self) -> None:
        for sample, _label in self.legend.items:
            sample.update()  # a hidden curve's sample is drawn greyed

    def reset_zoom(self) -> None:
        """The whole video on the time axis."""
        self.scores.setXRange(0, self.frame_count - 1, padding=0.01)

    def visible_frames(self) -> tuple[float, float]:
        """The first and last frame index the time axis shows now."""
        low, high = self.scores.getViewBox().viewRange()[0]
        return low, high

    def _curve(self, name: str, view: AnalysisView, index: int) -> pg.PlotDataItem:
        points = [p for p in view.points[name] if p.track_index == _main_track(view)] or list(view.points[name])
        x = np.array([p.frame_index for p in points], float)
        y = np.array([p.fake_probability for p in points], float)
        self.times[name] = np.array([p.time_s for p in points], float)
        fused = name == FUSED
        colour = FUSED_COLOUR if fused else CURVE_COLOURS[index % len(CURVE_COLOURS)]
        pen = pg.mkPen(colour, width=3 if fused else 1.5)
        curve = self.scores.plot(x, y, pen=pen, name=name, symbol="o", symbolSize=5 if fused else 4,
                                 symbolBrush=colour, symbolPen=None)
        # a point takes the click (pyqtgraph's scatter accepts it): seek to that point, as anywhere else on the plot
        curve.sigPointsClicked.connect(lambda _curve, points, _event: self._request_seek(points[0].pos().x()))
        return curve

    def _show_attention(self, points: list[tuple[int, float]]) -> None:
        self.attention.clear()
        self.attention.addItem(self.position_lines[1], ignoreBounds=True)
        self.attention.setVisible(bool(points))
        self.attention.setMaximumHeight(ATTENTION_HEIGHT if points else 0)  # hidden, it keeps no empty band
        self.scores.showAxis("bottom", not points)  # the time axis under the lowest plot only
        if points:
            frames, weights = zip(*points)
            width = max(1.0, 0.8 * min(np.diff(frames), default=1.0)) if len(frames) > 1 else 1.0
            self.attention.addItem(pg.BarGraphItem(x=list(frames), height=list(weights), width=width,
                                                   brush=pg.mkBrush(QColor("#3fbfad"))))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self, self._fit_legend)  # once the plot has its new size too

    def _fit_legend(self) -> None:
        """As many legend columns as the width holds: a wider legend would widen the plot past the window's edge
        and hide the end of the video.  The legend is built anew when the count changes (pyqtgraph's legend keeps
        its old width when its columns are only rearranged).  When its rows would leave the scores plot less than
        ``MIN_PLOT_HEIGHT`` (a short timeline, as on a 150 % desktop at 1366x768), it leaves the layout and the hint
        points to the Detectors menu, whose entries carry each curve's colour."""
        columns = legend_columns(self.legend, self.graphics.viewport().width())
        if columns != self.legend.columnCount:
            self._rebuild_legend(columns)
        room = self.graphics.viewport().height() - (ATTENTION_HEIGHT if self.attention.isVisible() else 0)
        shown = room - self.legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).height() >= MIN_PLOT_HEIGHT
        if shown != self.legend_shown:
            if shown:
                self.graphics.addItem(self.legend, row=0, col=0)
            else:
                self.graphics.removeItem(self.legend)
            self.legend_shown = shown
        if self.readout.text() in (HOVER_HINT, NO_LEGEND_HINT):  # a hint, not a reading: the one for this state
            self.readout.setText(self.hint)
        self.graphics.ci.setGeometry(self.graphics.range)  # lay out again in the view's size, now that it fits

    def _rebuild_legend(self, columns: int) -> None:
        if self.legend_shown:
            self.graphics.removeItem(self.legend)
        self.legend, self.legend_shown = self._new_legend(columns), False
        for name, curve in self.curves.items():
            self.legend.addItem(curve, self.labels[name])
        self.legend.setLabelTextColor(self._legend_colour)

    def _new_legend(self, columns: int) -> pg.LegendItem:
        """A legend outside the layout (``_fit_legend`` puts it in its own row, never over the curves), its rows
        closer than pyqtgraph spaces its 20 px samples."""
        legend = pg.LegendItem(colCount=columns, labelTextSize="8pt", verSpacing=-6)
        legend.sigSampleClicked.connect(self._legend_sample_clicked)
        return legend

    @property
    def hint(self) -> str:
        return HOVER_HINT if self.legend_shown else NO_LEGEND_HINT

    def set_position(self, frame_index: int) -> None:
        for line in self.position_lines:
            line.setValue(frame_index)

    @property
    def position(self) -> int:
        return int(round(self.position_lines[0].value()))

    def _request_seek(self, x: float) -> None:
        self.seek_requested.emit(int(round(min(max(x, 0), self.frame_count - 1))))

    def reading_at(self, scene_pos: QPointF) -> Reading | None:
        """The curve point nearest ``scene_pos`` (in screen distance) when the cursor is over the scores plot."""
        box = self.scores.getViewBox()
        if not box.sceneBoundingRect().contains(scene_pos):
            return None
        cursor_x = box.mapSceneToView(scene_pos).x()
        best: tuple[float, Reading] | None = None
        for name, curve in self.curves.items():
            if not curve.isVisible():  # a hidden curve is not read out
                continue
            x, y = curve.getData()
            if x is None or not len(x):
                continue
            i = int(np.argmin(np.abs(x - cursor_x)))
            offset = box.mapViewToScene(QPointF(float(x[i]), float(y[i]))) - scene_pos
            distance = math.hypot(offset.x(), offset.y())
            if best is None or distance < best[0]:
                best = (distance, Reading(float(self.times[name][i]), int(x[i]), self.labels[name], float(y[i])))
        return best[1] if best else None

    def show_reading_at(self, scene_pos: QPointF) -> None:
        reading = self.reading_at(scene_pos)
        self.readout.setText(reading.text if reading else self.hint)
        self.hover_marker.setData([reading.frame_index] if reading else [],
                                  [reading.fake_probability] if reading else [])


def legend_columns(legend: pg.LegendItem, width: float) -> int:
    """The most columns in which ``legend``'s entries fit ``width`` pixels (at least one)."""
    entries = [sample.effectiveSizeHint(Qt.SizeHint.PreferredSize).width()
               + label.effectiveSizeHint(Qt.SizeHint.PreferredSize).width() for sample, label in legend.items]
    left, _top, right, _bottom = legend.layout.getContentsMargins()
    spacing = legend.layout.horizontalSpacing()
    for columns in range(len(entries), 1, -1):
        needed = sum(max(entries[c::columns]) for c in range(columns)) + left + right + spacing * (2 * columns - 1)
        if needed <= width:
            return columns
    return 1


def _swatch(colour: QColor) -> QIcon:
    """A square of a curve's colour: the Detectors menu is the curves' key when the legend has no room."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(colour)
    return QIcon(pixmap)


def _main_track(view: AnalysisView) -> int:
    return next((t.track_index for t in view.tracks if t.is_main), 0)
