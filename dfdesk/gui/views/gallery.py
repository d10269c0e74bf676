"""Face gallery: the most suspicious frames, each card naming the detector whose score and heat map it shows.

One detector at a time (the "Scored by" choice): the cards show its P(fake) at their frame and its heat map where it
made one, never several maps stacked on one face; "fused" shows the fused score and no map.

The cards run as a horizontal strip (scrolling sideways): as many rows as the height holds, thumbnails as large as
the rows allow but small enough that ``VISIBLE`` of them stand side by side.
"""
from __future__ import annotations

from math import ceil
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui.presenters import FUSED, GalleryItem, percent
from dfdesk.gui.widgets.images import rgb_to_pixmap
from dfdesk.services.results import AnalysisView

MIN_THUMB, MAX_THUMB = 96, 256
VISIBLE = 3  # thumbnails side by side before they grow with the height
CARD_EXTRA_GUESS = 56  # a card's caption and margins before any card exists
Scores = dict[tuple[int, int], dict[str, float]]  # (track, frame) -> detector (or "fused") -> P(fake)


def frame_scores(view: AnalysisView) -> Scores:
    """Each scorer's P(fake) per (track, frame); where a detector made a heat map, the score that map explains."""
    scores: Scores = {}
    for name, points in view.points.items():
        for point in points:
            scores.setdefault((point.track_index, point.frame_index), {})[name] = point.fake_probability
    for heatmap in view.heatmaps:
        scores.setdefault((heatmap.track_index, heatmap.frame_index), {})[heatmap.detector] = heatmap.fake_probability
    return scores


def default_scorer(items: list[GalleryItem], scorers: list[str], scores: Scores) -> str:
    """The detector with a heat map on the first (most suspicious) card that scores it highest, so that card shows
    at once why it ranks first; else the first scorer with a heat map on some card; else the first one."""
    if items and (on_first := [name for name in scorers if name in items[0].heatmaps]):
        at_first = scores.get((items[0].track_index, items[0].frame_index), {})
        return max(on_first, key=lambda name: at_first.get(name, -1.0))  # ties: the first in ``scorers``
    mapped = {name for item in items for name in item.heatmaps}
    return next((name for name in scorers if name in mapped), scorers[0] if scorers else FUSED)


def strip_geometry(width: int, height: int, extra: tuple[int, int], count: int) -> tuple[int, int]:
    """(rows, thumbnail side) for ``count`` cards in a ``width`` x ``height`` strip; ``extra`` is what a card
    adds around its thumbnail (caption, margins, spacing)."""
    extra_w, extra_h = extra
    rows = max(1, min(count, height // (MIN_THUMB + extra_h)))
    by_height = height // rows - extra_h
    by_width = width // max(1, min(VISIBLE, ceil(count / rows))) - extra_w
    return rows, max(MIN_THUMB, min(MAX_THUMB, by_height, by_width))


def compose(face: QPixmap | None, overlays: list[QImage], opacity: float, side: int) -> QPixmap:
    """The face crop scaled to ``side``, with each heat map drawn over it at ``opacity``."""
    canvas = QPixmap(side, side)
    canvas.fill(Qt.GlobalColor.black)
    painter = QPainter(canvas)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    target = QRectF(0, 0, side, side)
    if face is not None and not face.isNull():
        target = _fit(face.width(), face.height(), side)
        painter.drawPixmap(target, face, QRectF(face.rect()))
    painter.setOpacity(opacity)
    for overlay in overlays:
        painter.drawImage(target, overlay)
    painter.end()
    return canvas


def _fit(width: int, height: int, side: int) -> QRectF:
    scale = side / max(width, height, 1)
    return QRectF((side - width * scale) / 2, (side - height * scale) / 2, width * scale, height * scale)


class GalleryCard(QFrame):
    clicked = Signal(int)

    def __init__(self, item: GalleryItem, parent: QWidget | None = None):
        super().__init__(parent)
        self.item = item
        self.face: QPixmap | None = None
        self.problem = ""  # why the face is not shown (its decoded pixels differ from what was scored)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"Frame {item.frame_index}, track {item.track_index}: click to show it in the player")
        self.image = QLabel()
        self.image.setFixedSize(MIN_THUMB, MIN_THUMB)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the card
        self._caption_lines: tuple[tuple[str, ...], ...] = ()  # each line's forms, longest first
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.item.frame_index)

    def extra(self) -> tuple[int, int]:
        """What the card adds around its thumbnail, in width and height."""
        margins = self.layout().contentsMargins()
        frame = 2 * self.frameWidth()
        return margins.left() + margins.right() + frame, self.sizeHint().height() - self.image.height()

    def show_scorer(self, name: str, probability: float | None) -> None:
        """Name the detector whose score (and heat map) the card shows, with that score."""
        score = percent(probability) if probability is not None else "not scored here"
        frame, time = self.item.frame_index, f"{self.item.time_s:.2f} s"
        self._caption_lines = ((f"frame {frame} · {time}", f"#{frame} · {time}", f"#{frame}"), (f"{name} {score}",))
        self._fit_caption()
        self.caption.setToolTip(f"P(fake) by {name} at this frame: {score}")

    def show_problem(self, reason: str) -> None:
        """The face is not shown, and why: the whole reason, wrapped, never shortened."""
        self.problem, self._caption_lines = reason, ()
        self.caption.setText(f"frame {self.item.frame_index}: face not shown\n{reason}")
        self.caption.setWordWrap(True)

    @property
    def full_caption(self) -> str:
        """The caption before any shortening to the card's width."""
        return "\n".join(line[0] for line in self._caption_lines) if self._caption_lines else self.caption.text()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_caption()

    def _fit_caption(self) -> None:
        """Each caption line in its first form that fits the card's width ("frame 31 · 1.24 s", then "#31 · 1.24 s",
        then "#31": the frame number is never lost), the last form shortened in the middle ("mesoi…4_df 97%")."""
        if not self._caption_lines:
            return
        width = max(self.contentsRect().width() - 8, 1)
        metrics = self.caption.fontMetrics()
        self.caption.setText("\n".join(_first_that_fits(forms, metrics, width) for forms in self._caption_lines))

    def render(self, overlays: list[QImage], opacity: float) -> None:
        ratio = self.devicePixelRatioF()
        pixmap = compose(self.face, overlays, opacity, round(self.image.width() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        self.image.setPixmap(pixmap)


def _first_that_fits(forms: tuple[str, ...], metrics, width: int) -> str:
    fitting = next((form for form in forms if metrics.horizontalAdvance(form) <= width), None)
    return fitting if fitting is not None else metrics.elidedText(forms[-1], Qt.TextElideMode.ElideMiddle, width)


class GalleryView(QWidget):
    seek_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.cards: list[GalleryCard] = []
        self.scores: Scores = {}
        self._heatmaps: dict[str, QImage] = {}
        self.scorer = QComboBox()
        self.scorer.setToolTip("Whose score and heat map the cards show: one detector at a time")
        self.scorer.currentTextChanged.connect(lambda _name: self.refresh())
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setToolTip("Heat-map opacity")
        self.opacity.setMinimumWidth(50)
        self.opacity.setMaximumWidth(160)
        self.opacity.valueChanged.connect(self.refresh)
        self.empty = QLabel("No face frames to show.")
        self.grid = QGridLayout()
        self.scroll = _Strip(self._arrange)
        self.rows, self.side = 1, MIN_THUMB
        self._build()

    def _build(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(QLabel("<b>Most suspicious frames</b>"))
        controls.addStretch(1)
        controls.addWidget(QLabel("P(fake) by"))
        controls.addWidget(self.scorer)
        controls.addWidget(QLabel("Heat map"))
        controls.addWidget(self.opacity)
        holder = QWidget()
        outer = QVBoxLayout(holder)
        outer.setContentsMargins(0, 0, 0, 0)
        strip = QHBoxLayout()
        strip.addLayout(self.grid)
        strip.addStretch(1)
        outer.addLayout(strip)
        outer.addStretch(1)
        self.scroll.setWidget(holder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.empty)
        layout.addWidget(self.scroll, 1)

    def minimumSizeHint(self) -> QSize:
        """Tall enough for one row of legible faces: a splitter never squeezes the strip below that."""
        hint = super().minimumSizeHint()
        extra_h = self.cards[0].extra()[1] if self.cards else CARD_EXTRA_GUESS
        frame = 2 * self.scroll.frameWidth()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        controls = self.layout().itemAt(0).sizeHint().height() + self.layout().spacing()
        return QSize(hint.width(), controls + MIN_THUMB + extra_h + self.grid.spacing() + frame + bar)

    def show_items(self, items: list[GalleryItem], scorers: list[str], scores: Scores | None = None) -> None:
        """Cards for ``items``; ``scorers`` (detectors, then "fused") are the choices, ``scores`` their P(fake)."""
        for card in self.cards:
            self.grid.removeWidget(card)
            card.deleteLater()
        self.cards, self.scores = [], scores or {}
        self.empty.setVisible(not items)
        for item in items:
            card = GalleryCard(item)
            card.clicked.connect(self.seek_requested)
            self.cards.append(card)
        self.scorer.blockSignals(True)
        self.scorer.clear()
        self.scorer.addItems(scorers)
        self.scorer.setCurrentText(default_scorer(items, scorers, self.scores))
        self.scorer.blockSignals(False)
        self._name_scorer()  # before the layout: the caption's height counts in the thumbnail's size
        self._arrange(force=True)

    def choose_scorer(self, name: str) -> None:
        self.scorer.setCurrentText(name)

    def _arrange(self, force: bool = False) -> None:
        """Lay the cards out for the strip's present size, in reading order."""
        if not self.cards:
            return
        spacing = self.grid.spacing()
        extra_w, extra_h = self.cards[0].extra()
        width, height = self.scroll.room()
        rows, side = strip_geometry(width, height, (extra_w + spacing, extra_h + spacing), len(self.cards))
        if (rows, side) == (self.rows, self.side) and not force:
            return
        self.rows, self.side = rows, side
        columns = ceil(len(self.cards) / rows)
        for position, card in enumerate(self.cards):
            card.image.setFixedSize(side, side)
            self.grid.removeWidget(card)
            self.grid.addWidget(card, position // columns, position % columns)
        self.refresh()

    def set_face(self, track_index: int, frame_index: int, image, pts: int | None = None, check: str = "") -> None:
        """A decoded face crop arrived (from the worker): show it in its card with where its pixels came from.

        ``image`` None: the decoded pixels differ from what the analysis scored, and ``check`` says so instead.
        """
        for card in self.cards:
            if (card.item.track_index, card.item.frame_index) != (track_index, frame_index):
                continue
            if image is None:
                card.show_problem(check)
                continue
            card.face = rgb_to_pixmap(image)
            card.setToolTip(f"Frame {frame_index} (decoded pts {pts}), track {track_index}: {check}. "
                            "Click to show it in the player")
            card.render(self._overlays(card.item), self.opacity.value() / 100)

    def refresh(self) -> None:
        """Show every card with the chosen scorer's score and heat map."""
        self._name_scorer()
        for card in self.cards:
            card.render(self._overlays(card.item), self.opacity.value() / 100)

    def _name_scorer(self) -> None:
        name = self.scorer.currentText()
        for card in self.cards:
            if not card.problem:  # a card blanked by the pixel check keeps saying why
                key = (card.item.track_index, card.item.frame_index)
                card.show_scorer(name, self.scores.get(key, {}).get(name))

    def _overlays(self, item: GalleryItem) -> list[QImage]:
        """The chosen scorer's heat map of this card, if it made one: at most one map per face."""
        path = item.heatmaps.get(self.scorer.currentText())
        return [self._heatmap(path)] if path and not self._heatmap(path).isNull() else []

    def _heatmap(self, path: str) -> QImage:
        if path not in self._heatmaps:
            self._heatmaps[path] = QImage(path) if Path(path).is_file() else QImage()
        return self._heatmaps[path]


class _Strip(QScrollArea):
    """The scroll area of the cards; calls ``on_resize`` when its size changes."""

    def __init__(self, on_resize):
        super().__init__()
        self.on_resize = on_resize
        self.setWidgetResizable(True)

    def room(self) -> tuple[int, int]:
        """Width and height the cards may fill: inside the frame, above the horizontal scroll bar."""
        frame = 2 * self.frameWidth()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        return self.width() - frame, self.height() - frame - bar

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.on_resize()
