"""numpy RGB arrays to Qt images, and the colours the views share (readable on light and dark palettes)."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage, QPixmap

VERDICT_COLOURS = {"fake": "#d64545", "real": "#2e9e5b", "inconclusive": "#d29a22", "no_face": "#8a8a8a"}
# one colour per detector curve, none near the fused curve's red or the position line's amber; ten, so that the
# shipped detectors and a few an admin adds never share one (six made the seventh, sbi_effnet_lite, lrnet_demo's blue)
CURVE_COLOURS = ("#4c9be8", "#e8844c", "#a66be8", "#3fbfad", "#e8c14c", "#e84c9b", "#5ba33b", "#8c6d46",
                 "#1f4e9c", "#8f8f8f")
FUSED_COLOUR = "#d64545"
TRACK_COLOURS = ("#ffd23f", "#3fd2ff", "#ff6f3f", "#9dff3f")


def verdict_colour(label: str | None) -> QColor:
    return QColor(VERDICT_COLOURS.get(label or "", "#8a8a8a"))


def rgb_to_qimage(image: np.ndarray) -> QImage:
    """A QImage owning a copy of an (H, W, 3) uint8 RGB array."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    return QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def rgb_to_pixmap(image: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(rgb_to_qimage(image))
