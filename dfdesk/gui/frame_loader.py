"""Decodes the player's frames on a thread of their own, so a far seek never freezes the window.

A seek in a long group of pictures can mean hundreds of frames to decode (0.4 s for FF++ 750_743 at
1080p).  Requests are coalesced: while one frame is being decoded, newer requests replace each other
and only the newest is decoded next, so dragging the slider does not queue up work.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

from dfdesk.core.probe import VideoError
from dfdesk.gui.frames import FrameSource


class _Decoder(QObject):
    """Lives on the loader's thread; the only user of the FrameSource."""

    loaded = Signal(object)  # Frame
    failed = Signal(int, str)  # index, message
    wake = Signal()

    def __init__(self, source: FrameSource):
        super().__init__()
        self.source = source
        self._lock = threading.Lock()
        self._wanted: int | None = None
        self.wake.connect(self._decode_newest)  # queued: the decoder runs on its own thread

    def want(self, index: int) -> None:
        with self._lock:
            self._wanted = index

    @Slot()
    def _decode_newest(self) -> None:
        with self._lock:
            index, self._wanted = self._wanted, None
        if index is None:  # an earlier wake-up already took the newest request
            return
        try:
            frame = self.source.frame(index)
        except VideoError as exc:
            self.failed.emit(index, str(exc))
            return
        self.loaded.emit(frame)


class FrameLoader(QObject):
    """``request(index)`` from the GUI thread; ``loaded(Frame)`` or ``failed(index, message)`` come back on it."""

    loaded = Signal(object)
    failed = Signal(int, str)

    def __init__(self, source: FrameSource, parent: QObject | None = None):
        super().__init__(parent)
        self.source = source
        self._thread = QThread()
        self._thread.setObjectName("frame-loader")
        self._decoder = _Decoder(source)
        self._decoder.moveToThread(self._thread)
        self._decoder.loaded.connect(self.loaded)
        self._decoder.failed.connect(self.failed)
        self._thread.start()

    @property
    def frame_count(self) -> int:
        return self.source.frame_count

    def request(self, index: int) -> None:
        self._decoder.want(index)
        self._decoder.wake.emit()

    def close(self) -> None:
        """Stop the thread (after the frame being decoded, if any), then close the file."""
        self._thread.quit()
        self._thread.wait()
        self.source.close()
