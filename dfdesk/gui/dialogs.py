"""Readable messages for the analyst: one dialog, plain words, never a traceback.

Messages open window-modal without blocking (``open``), so background jobs keep reporting.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox, QWidget


def _message(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, name: str) -> QMessageBox:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName(name)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()
    return box


def show_error(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    return _message(parent, QMessageBox.Icon.Warning, title, text, "errorDialog")


def show_info(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    return _message(parent, QMessageBox.Icon.Information, title, text, "infoDialog")


def open_messages() -> list[QMessageBox]:
    """The message boxes now showing (tests read them)."""
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def ask(parent: QWidget | None, title: str, question: str) -> bool:
    answer = QMessageBox.question(parent, title, question)
    return answer == QMessageBox.StandardButton.Yes


def stream_choice(parent: QWidget | None, file_name: str, streams: list[dict]) -> QInputDialog:
    """The question asked before analysing a file with several video streams: which one (the default one
    preselected; the analysis warns about the others).  ``exec()`` it, then read :func:`chosen_stream`."""
    dialog = QInputDialog(parent)
    dialog.setObjectName("streamChoiceDialog")
    dialog.setWindowTitle("Several video streams")
    dialog.setLabelText(f"{file_name} holds {len(streams)} video streams; a player shows the default one, but "
                        "another may show a different video. Which stream should be analysed?")
    dialog.setComboBoxItems([_stream_label(s) for s in streams])
    dialog.setComboBoxEditable(False)
    default = next((s for s in streams if s["default"]), streams[0])
    dialog.setTextValue(_stream_label(default))
    return dialog


def chosen_stream(dialog: QInputDialog, streams: list[dict]) -> int:
    """The container index of the stream chosen in a :func:`stream_choice` dialog."""
    labels = [_stream_label(s) for s in streams]
    return streams[labels.index(dialog.textValue())]["index"]


def _stream_label(stream: dict) -> str:
    default = " (default)" if stream["default"] else ""
    return (f"stream {stream['index']}{default}: {stream['codec']} {stream['width']}x{stream['height']}, "
            f"{stream['frames']} frames")
