"""The report's timeline chart: P(fake) over time per detector, drawn as vector graphics.

Drawn directly with reportlab's graphics shapes rather than with matplotlib: a matplotlib
figure can only enter a reportlab PDF as vector art through svglib or pdfrw (neither is a
dependency), and as a raster image it would blur when zoomed, the thing an examiner does
with a timeline.  Shapes stay vector, use the report's embedded font, keep the axis labels
as real (searchable) text, and draw 1500 points x several detectors in milliseconds.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors

from dfdesk.core.outcome import FramePoint

FUSED = "fused"
# Okabe-Ito: distinguishable by colour-blind readers; the fused line is black and thicker.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442", "#999999")
GAP_FACTOR = 3.0  # a time step this many typical steps long (no face there) breaks the line
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP, LEGEND_ROW = 34.0, 26.0, 14.0, 12.0
FAKE_RED, REAL_GREEN = colors.HexColor("#C00000"), colors.HexColor("#207020")


@dataclass(frozen=True)
class TimelineSpec:
    """What to draw: per-detector points of one face track, the x range and the decision thresholds."""

    series: dict[str, Sequence[FramePoint]]
    duration_s: float
    fake_threshold: float
    real_threshold: float
    track_index: int


def timeline_drawing(spec: TimelineSpec, width: float, height: float, font: str = "Helvetica") -> Drawing:
    names = sorted(n for n in spec.series if n != FUSED) + ([FUSED] if FUSED in spec.series else [])
    legend = [_series_entry(name, position) for position, name in enumerate(names)] + [
        (f"fake threshold {spec.fake_threshold:.2f}", FAKE_RED, 0.6, True),
        (f"lower threshold {spec.real_threshold:.2f}", REAL_GREEN, 0.6, True)]
    legend_rows = math.ceil(len(legend) / 3)
    drawing = Drawing(width, height)
    drawing.initialFontName = font  # the renderer's starting font; its default (Helvetica) is not embedded
    plot = _PlotArea(MARGIN_LEFT, MARGIN_BOTTOM + legend_rows * LEGEND_ROW,
                     width - MARGIN_LEFT - 8, height - MARGIN_BOTTOM - MARGIN_TOP - legend_rows * LEGEND_ROW,
                     max(spec.duration_s, 1e-6))
    _draw_axes(drawing, plot, font)
    _draw_threshold(drawing, plot, spec.fake_threshold, FAKE_RED)
    _draw_threshold(drawing, plot, spec.real_threshold, REAL_GREEN)
    for (_, colour, stroke, _), name in zip(legend, names):
        for segment in split_at_gaps(spec.series[name]):
            drawing.add(_polyline(plot, segment, colour, stroke))
    for position, entry in enumerate(legend):
        _draw_legend_entry(drawing, position, entry, font, legend_rows)
    return drawing


@dataclass(frozen=True)
class _PlotArea:
    x: float
    y: float
    width: float
    height: float
    duration_s: float

    def to_page(self, time_s: float, probability: float) -> tuple[float, float]:
        return (self.x + self.width * min(max(time_s / self.duration_s, 0.0), 1.0),
                self.y + self.height * min(max(probability, 0.0), 1.0))


def nice_step(span: float, target_ticks: int = 8) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``target_ticks`` ticks over ``span``."""
    raw = max(span, 1e-9) / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def split_at_gaps(points: Sequence[FramePoint]) -> list[list[FramePoint]]:
    """Consecutive runs of points, broken where the time step jumps (frames without a face)."""
    ordered = sorted(points, key=lambda p: p.time_s)
    if len(ordered) < 3:
        return [ordered] if ordered else []
    steps = sorted(b.time_s - a.time_s for a, b in zip(ordered, ordered[1:]))
    limit = GAP_FACTOR * max(steps[len(steps) // 2], 1e-9)
    runs, current = [], [ordered[0]]
    for previous, point in zip(ordered, ordered[1:]):
        if point.time_s - previous.time_s > limit:
            runs.append(current)
            current = []
        current.append(point)
    return [*runs, current]


def _series_entry(name: str, position: int) -> tuple[str, colors.Color, float, bool]:
    """Legend label, colour, line width and dashed-or-not of one series."""
    if name == FUSED:
        return "fused (verdict)", colors.black, 1.6, False
    return name, colors.HexColor(PALETTE[position % len(PALETTE)]), 0.8, False


def _polyline(plot: _PlotArea, points: Sequence[FramePoint], colour, stroke: float):
    coords = [c for p in points for c in plot.to_page(p.time_s, p.fake_probability)]
    if len(points) == 1:  # a lone point: a short tick so it stays visible
        x, y = coords
        return Line(x - 1, y, x + 1, y, strokeColor=colour, strokeWidth=stroke * 1.5)
    return PolyLine(coords, strokeColor=colour, strokeWidth=stroke, strokeLineJoin=1)


def _draw_axes(drawing: Drawing, plot: _PlotArea, font: str) -> None:
    grey = colors.HexColor("#D0D0D0")
    drawing.add(Rect(plot.x, plot.y, plot.width, plot.height, fillColor=None, strokeColor=colors.grey,
                     strokeWidth=0.5))
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        _, y = plot.to_page(0, tick)
        drawing.add(Line(plot.x, y, plot.x + plot.width, y, strokeColor=grey, strokeWidth=0.3))
        drawing.add(String(plot.x - 3, y - 2.5, f"{tick:.2f}", fontName=font, fontSize=6.5, textAnchor="end"))
    step = nice_step(plot.duration_s)
    for i in range(int(plot.duration_s / step + 1e-9) + 1):
        x, _ = plot.to_page(i * step, 0)
        drawing.add(Line(x, plot.y, x, plot.y - 2, strokeColor=colors.grey, strokeWidth=0.5))
        drawing.add(String(x, plot.y - 9, f"{i * step:g}", fontName=font, fontSize=6.5, textAnchor="middle"))
    drawing.add(String(plot.x + plot.width / 2, plot.y - 18, "time (s)", fontName=font, fontSize=7,
                       textAnchor="middle"))
    drawing.add(String(plot.x, plot.y + plot.height + 5, "P(fake)", fontName=font, fontSize=7, textAnchor="middle"))


def _draw_threshold(drawing: Drawing, plot: _PlotArea, value: float, colour) -> None:
    _, y = plot.to_page(0, value)
    drawing.add(Line(plot.x, y, plot.x + plot.width, y, strokeColor=colour, strokeWidth=0.6,
                     strokeDashArray=[3, 2]))


def _draw_legend_entry(drawing: Drawing, position: int, entry: tuple, font: str, rows: int) -> None:
    label, colour, stroke, dashed = entry
    column, row = position % 3, position // 3
    x = MARGIN_LEFT + column * (drawing.width - MARGIN_LEFT) / 3
    y = (rows - row - 1) * LEGEND_ROW + 3
    drawing.add(Line(x, y + 2.5, x + 14, y + 2.5, strokeColor=colour, strokeWidth=stroke,
                     strokeDashArray=[3, 2] if dashed else None))
    drawing.add(String(x + 18, y, label, fontName=font, fontSize=7))
