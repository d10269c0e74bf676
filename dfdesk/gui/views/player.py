"""A frame-accurate player: shows one decoded frame with face boxes and track ids; play, step, jump.

The "Landmarks" check box (off by default) also draws the 68 landmarks of the faces in the frame on screen,
found on demand on a thread of their own (gui/landmark_loader.py).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui.frame_loader import FrameLoader
from dfdesk.gui.frames import FrameSource
from dfdesk.gui.landmark_loader import LandmarkLoader
from dfdesk.gui.presenters import format_duration
from dfdesk.gui.widgets.images import TRACK_COLOURS, rgb_to_pixmap

Boxes = list[tuple[int, bool, tuple[float, float, float, float]]]
LANDMARK_COLOUR = "#00e5ff"


class FrameCanvas(QWidget):
    """Paints a frame scaled to fit, with its face boxes and landmarks; a message instead when there is no frame."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(240, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.pixmap: QPixmap | None = None
        self.boxes: Boxes = []
        self.landmarks: list[np.ndarray] = []  # (68, 2) frame-pixel points per face of the frame on screen
        self.message = ""

    def show_frame(self, pixmap: QPixmap, boxes: Boxes) -> None:
        """A new frame: its boxes; the previous frame's landmarks go (they come per frame, see show_landmarks)."""
        self.pixmap, self.boxes, self.landmarks, self.message = pixmap, boxes, [], ""
        self.update()

    def show_landmarks(self, landmarks: list[np.ndarray]) -> None:
        self.landmarks = list(landmarks)
        self.update()

    def show_message(self, message: str) -> None:
        self.pixmap, self.boxes, self.landmarks, self.message = None, [], [], message
        self.update()

    def image_rect(self) -> QRectF:
        if self.pixmap is None or self.pixmap.isNull():
            return QRectF()
        scale = min(self.width() / self.pixmap.width(), self.height() / self.pixmap.height())
        width, height = self.pixmap.width() * scale, self.pixmap.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#101010"))
        if self.pixmap is None:
            painter.setPen(QColor("#dddddd"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            return
        target = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(target, self.pixmap, QRectF(self.pixmap.rect()))
        self._paint_boxes(painter, target, target.width() / self.pixmap.width())
        self._paint_landmarks(painter, target, target.width() / self.pixmap.width())

    def _paint_boxes(self, painter: QPainter, target: QRectF, scale: float) -> None:
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        for track, is_main, (x1, y1, x2, y2) in self.boxes:
            colour = QColor(TRACK_COLOURS[track % len(TRACK_COLOURS)])
            painter.setPen(QPen(colour, 3 if is_main else 2))
            rect = QRectF(target.left() + x1 * scale, target.top() + y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale)
            painter.drawRect(rect)
            label = f"track {track}" + (" (main)" if is_main else "")
            baseline = max(rect.top() - 4, target.top() + painter.fontMetrics().ascent())
            painter.drawText(QPointF(rect.left() + 2, baseline), label)

    def _paint_landmarks(self, painter: QPainter, target: QRectF, scale: float) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(LANDMARK_COLOUR))
        radius = max(1.5, min(3.0, scale * 2))
        for points in self.landmarks:
            for x, y in points:  # frame pixel centres -> widget coordinates
                painter.drawEllipse(QPointF(target.left() + (x + 0.5) * scale, target.top() + (y + 0.5) * scale),
                                    radius, radius)


class PlayerView(QWidget):
    """Owns a FrameSource, decoded on a FrameLoader's thread; ``boxes_for(frame_index)`` says which boxes to draw.

    ``position`` is the frame on screen; ``target`` the frame last asked for (the slider and the frame box
    follow the target at once, the picture follows when it is decoded).
    """

    position_changed = Signal(int)

    def __init__(self, boxes_for: Callable[[int], Boxes], parent: QWidget | None = None):
        super().__init__(parent)
        self._boxes_for = boxes_for
        self.source: FrameSource | None = None
        self._loader: FrameLoader | None = None
        self.position = 0
        self.target = 0
        self.fps = 25.0
        self.canvas = FrameCanvas()
        self._frame = None  # the Frame on screen
        self._landmark_loader: LandmarkLoader | None = None
        self._timer = QTimer(self)
        self._timer.timeout.connect(lambda: self._advance_playback())
        self._build_controls()

    def _build_controls(self) -> None:
        style = self.style()
        self.play_button = _tool(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Play / pause (Space)")
        self.back_button = _tool(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward),
                                 "Previous frame (Left arrow)")
        self.forward_button = _tool(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward),
                                    "Next frame (Right arrow)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Drag to move through the video")
        self.frame_box = QSpinBox()
        self.frame_box.setToolTip("Jump to a frame number (frames counted from 0)")
        self.frame_box.setKeyboardTracking(False)
        self.time_label = QLabel()
        self.landmarks_box = QCheckBox("Landmarks")
        self.landmarks_box.setToolTip("Draw the 68 facial landmarks of the faces in the frame shown")
        self.landmarks_box.toggled.connect(self._landmarks_toggled)
        self.play_button.clicked.connect(self.toggle_play)
        self.back_button.clicked.connect(lambda: self.step(-1))
        self.forward_button.clicked.connect(lambda: self.step(1))
        self.slider.valueChanged.connect(self.seek)
        self.frame_box.valueChanged.connect(self.seek)
        controls = QHBoxLayout()
        for widget in (self.back_button, self.play_button, self.forward_button):
            controls.addWidget(widget)
        controls.addWidget(self.slider, 1)
        controls.addWidget(QLabel("Frame"))
        controls.addWidget(self.frame_box)
        controls.addWidget(self.time_label)
        controls.addWidget(self.landmarks_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(controls)

    def open(self, source: FrameSource, fps: float) -> None:
        self.close_source()
        self.source, self.fps = source, fps if fps > 0 else 25.0
        self._loader = FrameLoader(source, self)
        self._loader.loaded.connect(self._show)
        self._loader.failed.connect(self._failed)
        last = max(source.frame_count - 1, 0)
        for widget in (self.slider, self.frame_box):
            widget.blockSignals(True)
            widget.setRange(0, last)
            widget.blockSignals(False)
        self.position = self.target = -1
        self.seek(0)

    def show_problem(self, message: str) -> None:
        self.close_source()
        self.canvas.show_message(message)
        for widget in (self.play_button, self.back_button, self.forward_button, self.slider, self.frame_box):
            widget.setEnabled(False)

    @property
    def is_playing(self) -> bool:
        return self._timer.isActive()

    def toggle_play(self) -> None:
        if self.source is None:
            return
        if self.is_playing:
            self.pause()
        else:
            if self.target >= self.source.frame_count - 1:
                self.seek(0)
            self._timer.start(max(1, round(1000 / self.fps)))
            self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))

    def pause(self) -> None:
        self._timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))

    def step(self, delta: int) -> None:
        self.pause()
        self.seek(self.target + delta)

    def seek(self, index: int) -> None:
        """Ask for frame ``index``; it is shown when decoded (``position_changed`` then)."""
        if self._loader is None:
            return
        index = max(0, min(int(index), self._loader.frame_count - 1))
        if index == self.target:
            return
        self.target = index
        self._sync_controls(index)
        self._loader.request(index)

    @property
    def busy(self) -> bool:
        """True while the frame asked for last is not on screen yet."""
        return self._loader is not None and self.target != self.position

    def _show(self, frame) -> None:
        self.position, self._frame = frame.index, frame
        self.canvas.show_frame(rgb_to_pixmap(frame.image), self._boxes_for(frame.index))
        if self.landmarks_box.isChecked():
            self._request_landmarks(frame)
        if frame.index == self.target:
            self.time_label.setText(format_duration(frame.time_s))
        self.position_changed.emit(self.position)

    def _failed(self, index: int, message: str) -> None:
        self.pause()
        if index == self.target:
            self.canvas.show_message(message)

    def _landmarks_toggled(self, on: bool) -> None:
        if on and self._frame is not None:
            self._request_landmarks(self._frame)
        elif not on:
            self.canvas.show_landmarks([])

    def _request_landmarks(self, frame) -> None:
        if self._landmark_loader is None:
            self._landmark_loader = LandmarkLoader(parent=self)
            self._landmark_loader.found.connect(self._landmarks_found)
            self._landmark_loader.failed.connect(self._landmarks_failed)
        self._landmark_loader.request(frame)

    def _landmarks_found(self, index: int, points: list) -> None:
        if index == self.position and self.landmarks_box.isChecked():  # not a frame already replaced
            self.canvas.show_landmarks(points)

    def _landmarks_failed(self, _index: int, message: str) -> None:
        self.landmarks_box.setToolTip(message)

    def _sync_controls(self, index: int) -> None:
        for widget in (self.slider, self.frame_box):
            widget.blockSignals(True)
            widget.setValue(index)
            widget.blockSignals(False)

    def _advance_playback(self) -> None:
        if self._loader is None or self.target >= self._loader.frame_count - 1:
            self.pause()
            return
        if not self.busy:  # a frame still decoding: this tick is skipped, playback never queues up
            self.seek(self.target + 1)

    def close_source(self) -> None:
        self.pause()
        if self._loader is not None:
            self._loader.close()  # stops the decoding thread, then closes the file
            self._loader.deleteLater()
            self._loader = None
        if self._landmark_loader is not None:  # made again when the next frame wants landmarks
            self._landmark_loader.close()
            self._landmark_loader.deleteLater()
            self._landmark_loader = None
        self.source, self._frame = None, None


def _tool(icon, tooltip: str) -> QToolButton:
    button = QToolButton()
    button.setIcon(icon)
    button.setToolTip(tooltip)
    button.setAutoRaise(True)
    return button
