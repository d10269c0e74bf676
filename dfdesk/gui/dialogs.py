"""Readable messages for the analyst: one dialog, plain words, never a traceback.

Messages open window-modal without blocking (``open``), so background jobs keep reporting.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget


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
