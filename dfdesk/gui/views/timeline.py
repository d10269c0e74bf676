"""The timeline (pyqtgraph): one curve per detector, the fused calibrated curve beside them, the threshold band, the
temporal attention weights and the video position; clicking or dragging on it asks to seek."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from dfdesk.gui.presenters import FUSED, attention_points, curve_names, fused_label
from dfdesk.gui.widgets.images import CURVE_COLOURS, FUSED_COLOUR
from dfdesk.services.results import AnalysisView


class SeekViewBox(pg.ViewBox):
    """A ViewBox that turns clicks and drags into seek requests instead of panning."""

    def __init__(self, on_seek, **kwargs):
        super().__init__(**kwargs)
        self._on_seek = on_seek
        self.setMouseEnabled(x=False, y=False)
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
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setToolTip("Click or drag to move the video to that frame")
        self.legend = pg.LegendItem(colCount=6, labelTextSize="8pt")  # its own row: never over the curves
        self.graphics.addItem(self.legend, row=0, col=0)
        self.scores = self.graphics.addPlot(row=1, col=0, viewBox=SeekViewBox(self._request_seek))
        self.attention = self.graphics.addPlot(row=2, col=0, viewBox=SeekViewBox(self._request_seek))
        self._setup_plots()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.apply_palette(self.palette())

    def _setup_plots(self) -> None:
        self.scores.setLabel("left", "P(fake)")
        self.scores.setYRange(0, 1, padding=0.03)
        self.scores.showGrid(x=True, y=True, alpha=0.2)
        self.scores.getAxis("bottom").setStyle(showValues=False)
        self.attention.setLabel("left", "attention")
        self.attention.setLabel("bottom", "frame")
        self.attention.setXLink(self.scores)
        self.attention.setMaximumHeight(110)
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

    def show_analysis(self, view: AnalysisView) -> None:
        self.frame_count = max(view.evidence.frame_count, 1)
        for curve in self.curves.values():
            self.scores.removeItem(curve)
        self.curves.clear()
        self.legend.clear()
        for index, name in enumerate(curve_names(view)):
            self.curves[name] = self._curve(name, view, index)
            self.legend.addItem(self.curves[name], fused_label(view) if name == FUSED else name)
        if view.verdict is not None:
            self.band.setRegion((view.verdict.real_threshold, view.verdict.fake_threshold))
        self._show_attention(attention_points(view))
        self.scores.setXRange(0, self.frame_count - 1, padding=0.01)

    def _curve(self, name: str, view: AnalysisView, index: int) -> pg.PlotDataItem:
        points = [p for p in view.points[name] if p.track_index == _main_track(view)] or list(view.points[name])
        x = np.array([p.frame_index for p in points], float)
        y = np.array([p.fake_probability for p in points], float)
        fused = name == FUSED
        colour = FUSED_COLOUR if fused else CURVE_COLOURS[index % len(CURVE_COLOURS)]
        pen = pg.mkPen(colour, width=3 if fused else 1.5)
        return self.scores.plot(x, y, pen=pen, name=name, symbol="o", symbolSize=5 if fused else 4,
                                symbolBrush=colour, symbolPen=None)

    def _show_attention(self, points: list[tuple[int, float]]) -> None:
        self.attention.clear()
        self.attention.addItem(self.position_lines[1], ignoreBounds=True)
        self.attention.setVisible(bool(points))
        if points:
            frames, weights = zip(*points)
            width = max(1.0, 0.8 * min(np.diff(frames), default=1.0)) if len(frames) > 1 else 1.0
            self.attention.addItem(pg.BarGraphItem(x=list(frames), height=list(weights), width=width,
                                                   brush=pg.mkBrush(QColor("#3fbfad"))))

    def set_position(self, frame_index: int) -> None:
        for line in self.position_lines:
            line.setValue(frame_index)

    @property
    def position(self) -> int:
        return int(round(self.position_lines[0].value()))

    def _request_seek(self, x: float) -> None:
        self.seek_requested.emit(int(round(min(max(x, 0), self.frame_count - 1))))


def _main_track(view: AnalysisView) -> int:
    return next((t.track_index for t in view.tracks if t.is_main), 0)
