"""Face gallery: the most suspicious frames, with heat-map overlays (opacity slider, toggle per detector).

The cards run as a horizontal strip (scrolling sideways): as many rows as the height holds, thumbnails as large as
the rows allow but small enough that ``VISIBLE`` of them stand side by side.
"""
from __future__ import annotations

from math import ceil
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui.presenters import GalleryItem, percent
from dfdesk.gui.widgets.images import rgb_to_pixmap

MIN_THUMB, MAX_THUMB = 96, 256
VISIBLE = 3  # thumbnails side by side before they grow with the height


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
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"Frame {item.frame_index}, track {item.track_index}: click to show it in the player")
        self.image = QLabel()
        self.image.setFixedSize(MIN_THUMB, MIN_THUMB)
        self.caption = QLabel(f"frame {item.frame_index} · {item.time_s:.2f} s\n"
                              f"P(fake) {percent(item.fake_probability)}")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
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

    def render(self, overlays: list[QImage], opacity: float) -> None:
        ratio = self.devicePixelRatioF()
        pixmap = compose(self.face, overlays, opacity, round(self.image.width() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        self.image.setPixmap(pixmap)


class GalleryView(QWidget):
    seek_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.cards: list[GalleryCard] = []
        self.toggles: dict[str, QCheckBox] = {}
        self._heatmaps: dict[str, QImage] = {}
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setToolTip("Heat-map opacity")
        self.opacity.valueChanged.connect(self.refresh)
        self.toggle_row = QHBoxLayout()
        self.empty = QLabel("No face frames to show.")
        self.grid = QGridLayout()
        self.scroll = _Strip(self._arrange)
        self.rows, self.side = 1, MIN_THUMB
        self._build()

    def _build(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(QLabel("<b>Most suspicious frames</b>"))
        controls.addSpacing(12)
        controls.addWidget(QLabel("Heat map"))
        controls.addWidget(self.opacity, 1)
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
        layout.addLayout(self.toggle_row)
        layout.addWidget(self.empty)
        layout.addWidget(self.scroll, 1)

    def show_items(self, items: list[GalleryItem], detectors: list[str]) -> None:
        for card in self.cards:
            self.grid.removeWidget(card)
            card.deleteLater()
        self.cards = []
        self._set_toggles(detectors)
        self.empty.setVisible(not items)
        for item in items:
            card = GalleryCard(item)
            card.clicked.connect(self.seek_requested)
            self.cards.append(card)
        self._arrange(force=True)

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

    def _set_toggles(self, detectors: list[str]) -> None:
        for box in self.toggles.values():
            box.deleteLater()
        self.toggles = {}
        for name in detectors:
            box = QCheckBox(name)
            box.setChecked(True)
            box.setToolTip(f"Show the heat maps of {name}")
            box.toggled.connect(self.refresh)
            self.toggle_row.addWidget(box)
            self.toggles[name] = box

    def set_face(self, track_index: int, frame_index: int, image, pts: int | None = None, check: str = "") -> None:
        """A decoded face crop arrived (from the worker): show it in its card with where its pixels came from.

        ``image`` None: the decoded pixels differ from what the analysis scored, and ``check`` says so instead.
        """
        for card in self.cards:
            if (card.item.track_index, card.item.frame_index) != (track_index, frame_index):
                continue
            if image is None:
                card.caption.setText(f"frame {frame_index}: face not shown\n{check}")
                card.caption.setWordWrap(True)
                continue
            card.face = rgb_to_pixmap(image)
            card.setToolTip(f"Frame {frame_index} (decoded pts {pts}), track {track_index}: {check}. "
                            "Click to show it in the player")
            card.render(self._overlays(card.item), self.opacity.value() / 100)

    def enabled_detectors(self) -> list[str]:
        return [name for name, box in self.toggles.items() if box.isChecked()]

    def refresh(self) -> None:
        for card in self.cards:
            card.render(self._overlays(card.item), self.opacity.value() / 100)

    def _overlays(self, item: GalleryItem) -> list[QImage]:
        return [self._heatmap(path) for name, path in item.heatmaps.items()
                if name in self.enabled_detectors() and not self._heatmap(path).isNull()]

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
