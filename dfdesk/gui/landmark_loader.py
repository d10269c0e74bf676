"""Finds the 68 landmarks of the faces in the player's frame on a thread of its own, like frame_loader.py decodes.

The first request loads MTCNN and the face mesh (a second or two); each frame then takes tens of milliseconds.
Requests are coalesced the same way as the frame loader's: while one frame is being worked on, newer requests
replace each other and only the newest is done next, so playing or dragging the slider does not queue up work.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from dfdesk.core.faces import FaceSettings, shared_detector
from dfdesk.core.landmarks import shared_landmarker
from dfdesk.core.types import Frame

FindLandmarks = Callable[[np.ndarray], list[np.ndarray]]


def faces_and_landmarks(image: np.ndarray) -> list[np.ndarray]:
    """(68, 2) points of every face MTCNN finds in the RGB ``image`` (the analysis's default face settings)."""
    faces = shared_detector(FaceSettings()).detect([Frame(0, 0.0, image)])[0].faces
    return shared_landmarker().landmarks(image, faces)


class _Worker(QObject):
    """Lives on the loader's thread."""

    found = Signal(int, object)  # frame index, list of (68, 2) arrays
    failed = Signal(int, str)
    wake = Signal()

    def __init__(self, find: FindLandmarks):
        super().__init__()
        self._find = find
        self._lock = threading.Lock()
        self._wanted: Frame | None = None
        self.wake.connect(self._work_on_newest)  # queued: runs on the worker's thread

    def want(self, frame: Frame) -> None:
        with self._lock:
            self._wanted = frame

    @Slot()
    def _work_on_newest(self) -> None:
        with self._lock:
            frame, self._wanted = self._wanted, None
        if frame is None:  # an earlier wake-up already took the newest request
            return
        try:
            points = self._find(frame.image)
        except Exception as exc:  # reported to the player, never raised on the thread
            self.failed.emit(frame.index, f"landmarks could not be found: {exc}")
            return
        self.found.emit(frame.index, points)


class LandmarkLoader(QObject):
    """``request(frame)`` from the GUI thread; ``found(index, points)`` or ``failed(index, message)`` come back."""

    found = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, find: FindLandmarks = faces_and_landmarks, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("landmark-loader")
        self._worker = _Worker(find)
        self._worker.moveToThread(self._thread)
        self._worker.found.connect(self.found)
        self._worker.failed.connect(self.failed)
        self._thread.start()

    def request(self, frame: Frame) -> None:
        self._worker.want(frame)
        self._worker.wake.emit()

    def close(self) -> None:
        """Stop the thread (after the frame being worked on, if any)."""
        self._thread.quit()
        self._thread.wait()
