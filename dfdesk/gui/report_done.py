"""The message after a report is written: where it is, its SHA-256, and buttons to open it or show its folder."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from dfdesk.gui import dialogs, tasks
from dfdesk.gui.views import evidence_details

OPEN, SHOW_IN_FOLDER = "Open", "Show in folder"


def show_report_written(parent: QWidget | None, result) -> QMessageBox:
    """Opens (without blocking) the "Report written" message with Open, Show in folder and Close."""
    box = QMessageBox(QMessageBox.Icon.Information, "Report written", tasks.report_message(result),
                      QMessageBox.StandardButton.Close, parent)
    box.setObjectName("reportWrittenDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    actions = {box.addButton(OPEN, QMessageBox.ButtonRole.ActionRole): open_report,
               box.addButton(SHOW_IN_FOLDER, QMessageBox.ButtonRole.ActionRole): show_report_folder}
    box.buttonClicked.connect(lambda button: _act(parent, actions, button, Path(result.path)))
    box.open()
    return box


def _act(parent: QWidget | None, actions: dict, button: QAbstractButton, path: Path) -> None:
    action = actions.get(button)
    problem = action(path) if action else ""
    if problem:
        dialogs.show_error(parent, "Report", problem)


def open_report(path: Path) -> str:
    """Opens the PDF in the desktop's viewer; "" or a one-line reason why it could not."""
    if not path.is_file():
        return f"The report {path} is no longer there."
    return "" if evidence_details.open_url(QUrl.fromLocalFile(str(path))) else f"No application could open {path}."


def show_report_folder(path: Path) -> str:
    """Opens the folder holding the PDF; "" or a one-line reason why it could not."""
    return evidence_details.show_in_folder(str(path))
