"""A frame-accurate player: shows one decoded frame with face boxes and track ids; play, step, jump.

The "Landmarks" check box (off by default) also draws the 68 landmarks of the faces in the frame on screen,
found on demand on a thread of their own (gui/landmark_loader.py).

The picture zooms (the wheel around the cursor, or the -/+/Fit buttons; past 2 screen pixels per video pixel the
pixels are drawn square, not smoothed) and pans by dragging; "Enlarge" asks the page to show the player full screen;
"Export frame" writes the decoded pixels of the frame on screen as a PNG with its frame index, pts, time and the
evidence SHA-256 in the file (gui/frames.py).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
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

from dfdesk.gui import dialogs
from dfdesk.gui.frame_loader import FrameLoader
from dfdesk.gui.frames import FrameSource, frame_png_text, save_frame_png
from dfdesk.gui.landmark_loader import LandmarkLoader
from dfdesk.gui.presenters import format_duration
from dfdesk.gui.widgets.images import TRACK_COLOURS, rgb_to_pixmap

Boxes = list[tuple[int, bool, tuple[float, float, float, float]]]
LANDMARK_COLOUR = "#00e5ff"
ZOOM_STEP = 1.25  # one wheel notch or button press
MAX_ZOOM = 32.0  # times the fitted size
SHARP_SCALE = 2.0  # screen pixels per video pixel from which pixels are drawn square (no smoothing)


def ask_png_path(parent: QWidget, suggested: str) -> Path | None:
    out, _ = QFileDialog.getSaveFileName(parent, "Export frame", suggested, "PNG image (*.png)")
    return Path(out) if out else None


class FrameCanvas(QWidget):
    """Paints a frame scaled to fit (or zoomed and panned), with its face boxes and landmarks; a message instead
    when there is no frame."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(200, 120)  # small at 1366x768 beside the timeline; "Enlarge" shows it large
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.pixmap: QPixmap | None = None
        self.boxes: Boxes = []
        self.landmarks: list[np.ndarray] = []  # (68, 2) frame-pixel points per face of the frame on screen
        self.message = ""
        self.zoom = 1.0  # times the size that fits the widget
        self.centre: QPointF | None = None  # the image point at the widget's centre (None: the image's centre)
        self._drag_from: QPointF | None = None
        self.setToolTip("The wheel zooms around the cursor; drag to move a zoomed picture")

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
        """Where the picture lies in widget coordinates, at the present zoom and pan (may exceed the widget)."""
        if self.pixmap is None or self.pixmap.isNull():
            return QRectF()
        scale = self._fit_scale() * self.zoom
        width, height = self.pixmap.width() * scale, self.pixmap.height() * scale
        centre = self._clamped_centre(scale)
        return QRectF(self.width() / 2 - centre.x() * scale, self.height() / 2 - centre.y() * scale, width, height)

    def _fit_scale(self) -> float:
        return min(self.width() / self.pixmap.width(), self.height() / self.pixmap.height())

    def _clamped_centre(self, scale: float) -> QPointF:
        """The pan centre, kept so that a zoomed picture never leaves empty space where it could fill the widget."""
        width, height = self.pixmap.width(), self.pixmap.height()
        centre = self.centre or QPointF(width / 2, height / 2)
        return QPointF(_clamp(centre.x(), width, self.width() / scale),
                       _clamp(centre.y(), height, self.height() / scale))

    def fit(self) -> None:
        """Back to the whole frame fitted (a new video starts so)."""
        self.zoom, self.centre = 1.0, None
        self.zoom_changed.emit(self.zoom)
        self.update()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` times the fitted size, keeping the image point under ``anchor`` (widget point) still."""
        if self.pixmap is None or self.pixmap.isNull():
            return
        zoom = max(1.0, min(MAX_ZOOM, zoom))
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        before = self.image_point(anchor)
        scale = self._fit_scale() * zoom
        centre = QPointF(before.x() - (anchor.x() - self.width() / 2) / scale,
                         before.y() - (anchor.y() - self.height() / 2) / scale)
        self.zoom, self.centre = zoom, centre if zoom > 1.0 else None
        self.zoom_changed.emit(self.zoom)
        self.update()

    def image_point(self, widget_point: QPointF) -> QPointF:
        """The image pixel coordinates under ``widget_point``."""
        rect = self.image_rect()
        scale = rect.width() / self.pixmap.width()
        return QPointF((widget_point.x() - rect.left()) / scale, (widget_point.y() - rect.top()) / scale)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if steps and self.pixmap is not None:
            self.set_zoom(self.zoom * ZOOM_STEP ** steps, event.position())
            event.accept()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.zoom > 1.0:
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_from is None:
            return
        rect = self.image_rect()
        scale = rect.width() / self.pixmap.width()
        moved = (event.position() - self._drag_from) / scale
        centre = self._clamped_centre(scale)
        self.centre = QPointF(centre.x() - moved.x(), centre.y() - moved.y())
        self._drag_from = event.position()
        self.update()

    def mouseReleaseEvent(self, _event) -> None:
        self._drag_from = None
        self.unsetCursor()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#101010"))
        if self.pixmap is None:
            painter.setPen(QColor("#dddddd"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            return
        target = self.image_rect()
        sharp = target.width() / self.pixmap.width() >= SHARP_SCALE  # zoomed in: each video pixel a square
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not sharp)
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
    enlarge_requested = Signal()
    ask_png_path = staticmethod(ask_png_path)  # replaceable (tests, scripted use)

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
        self.evidence_sha256, self.evidence_file = "", ""
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
        self.zoom_out_button = _text_tool("−", "Zoom out (or the mouse wheel over the picture)")
        self.zoom_in_button = _text_tool("+", "Zoom in (or the mouse wheel over the picture); drag to move")
        self.fit_button = _text_tool("Fit", "The zoom; click to show the whole frame again")
        self.enlarge_button = _tool(style.standardIcon(QStyle.StandardPixmap.SP_TitleBarMaxButton), "")
        self.set_enlarged(False)
        self.export_button = _tool(style.standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton),
                                   "Export frame: save the decoded frame on screen as a PNG, with its frame index, "
                                   "time and the evidence SHA-256 in the file")
        self.zoom_out_button.clicked.connect(lambda: self.canvas.set_zoom(self.canvas.zoom / ZOOM_STEP))
        self.zoom_in_button.clicked.connect(lambda: self.canvas.set_zoom(self.canvas.zoom * ZOOM_STEP))
        self.fit_button.clicked.connect(self.canvas.fit)
        self.canvas.zoom_changed.connect(lambda zoom: self.fit_button.setText("Fit" if zoom == 1 else f"{zoom:.1f}×"))
        self.enlarge_button.clicked.connect(self.enlarge_requested)
        self.export_button.clicked.connect(self.ask_export)
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
        for widget in (self.zoom_out_button, self.fit_button, self.zoom_in_button, self.export_button,
                       self.enlarge_button):
            controls.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(controls)

    def open(self, source: FrameSource, fps: float, evidence_sha256: str = "", evidence_file: str = "") -> None:
        """Show ``source``; the evidence hash and file name go into exported frames."""
        self.close_source()
        self.source, self.fps = source, fps if fps > 0 else 25.0
        self.evidence_sha256, self.evidence_file = evidence_sha256, evidence_file
        self.canvas.fit()
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
        for widget in (self.play_button, self.back_button, self.forward_button, self.slider, self.frame_box,
                       self.export_button):
            widget.setEnabled(False)

    @property
    def is_playing(self) -> bool:
        return self._timer.isActive()

    def set_enlarged(self, enlarged: bool) -> None:
        """The Enlarge button says where it leads: full screen, or back to the page."""
        icon = QStyle.StandardPixmap.SP_TitleBarNormalButton if enlarged else QStyle.StandardPixmap.SP_TitleBarMaxButton
        self.enlarge_button.setIcon(self.style().standardIcon(icon))
        self.enlarge_button.setToolTip("Back to the page (Esc)" if enlarged
                                       else "Enlarge: the player full screen (Esc comes back)")

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

    def ask_export(self) -> Path | None:
        if self._frame is None:
            return None
        suggested = f"{Path(self.evidence_file).stem or 'frame'}-frame{self._frame.index}.png"
        out = self.ask_png_path(self, suggested)
        return self.export_frame(out) if out else None

    def export_frame(self, path: Path) -> Path | None:
        """Write the frame on screen (its decoded pixels, no boxes) as a PNG with where it came from."""
        frame = self._frame
        if frame is None:
            return None
        text = frame_png_text(frame, self.source.time_base, self.evidence_sha256, self.evidence_file)
        try:
            save_frame_png(frame, path, text)
        except OSError as exc:
            dialogs.show_error(self, "Frame not exported", f"{path} could not be written: {exc}")
            return None
        return path

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


def _clamp(centre: float, extent: float, visible: float) -> float:
    """A pan centre on one axis: the middle when the picture is narrower than the view, else inside its edges."""
    if visible >= extent:
        return extent / 2
    return min(max(centre, visible / 2), extent - visible / 2)


def _text_tool(text: str, tooltip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tooltip)
    button.setAutoRaise(True)
    return button


def _tool(icon, tooltip: str) -> QToolButton:
    button = QToolButton()
    button.setIcon(icon)
    button.setToolTip(tooltip)
    button.setAutoRaise(True)
    return button
