"""Small widget factories the views share."""
from __future__ import annotations

from PySide6.QtWidgets import QPushButton


def push_button(text: str, tooltip: str, slot) -> QPushButton:
    """A push button with its tooltip, connected to ``slot``."""
    button = QPushButton(text)
    button.setToolTip(tooltip)
    button.clicked.connect(slot)
    return button
