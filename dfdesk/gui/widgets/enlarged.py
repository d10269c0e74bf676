"""A full-screen window that borrows one widget out of a QSplitter and gives it back where it was.

The analysis page shows its player here ("Enlarge"): the same widget, so playback, decoding and its controls carry
on unchanged. Escape, the widget's own button (``give_back``) or closing the window puts it back at its index
with the splitter's sizes as they were.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget


class EnlargedWindow(QWidget):
    """Holds ``widget`` full screen until given back; ``returned`` is emitted once it is back in ``splitter``."""

    returned = Signal()

    def __init__(self, widget: QWidget, splitter: QSplitter, title: str, keys: dict[str, Callable[[], None]],
                 parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.widget, self.splitter = widget, splitter
        self._index, self._sizes = splitter.indexOf(widget), splitter.sizes()
        for sequence, action in keys.items():  # the page's keys work here too (it is another window)
            QShortcut(QKeySequence(sequence), self).activated.connect(action)
        QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)
        self.layout().addWidget(widget)  # taken out of the splitter
        if parent is not None and parent.screen() is not None:
            self.setScreen(parent.screen())

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)

    def give_back(self) -> None:
        self.close()

    def closeEvent(self, event) -> None:
        if self.splitter.indexOf(self.widget) < 0:
            self.splitter.insertWidget(self._index, self.widget)
            self.splitter.setSizes(self._sizes)
            self.widget.show()
            self.returned.emit()
        event.accept()
