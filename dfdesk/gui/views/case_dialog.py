"""The case details dialog: the lab's case number, the examiner and a description, edited from the case list.

It only collects the text; the case browser saves it through :func:`dfdesk.services.cases.update_case_details`,
which audits what changed.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from dfdesk.services import text_limits


@dataclass(frozen=True)
class CaseDetails:
    """What the dialog shows and returns."""

    name: str
    number: str
    description: str
    created_by: str
    examiner: str = ""  # empty: not recorded


class CaseDetailsDialog(QDialog):
    """Number, examiner and description of one case; the name is shown (Rename… changes it), the creator is
    read-only.  The fields stop at the services' limits (:mod:`dfdesk.services.text_limits`)."""

    def __init__(self, details: CaseDetails, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("caseDetailsDialog")
        self.setWindowTitle(f"Case details: {details.name}")
        self.number = QLineEdit(details.number)
        self.number.setMaxLength(text_limits.CASE_NUMBER)
        self.number.setPlaceholderText("the lab's case number, printed on every report")
        self.examiner = QLineEdit(details.examiner)
        self.examiner.setMaxLength(text_limits.EXAMINER)
        self.examiner.setPlaceholderText("who examines the evidence, printed on every report")
        self.description = QPlainTextEdit(details.description)
        self.description.setPlaceholderText("what the case is about, who asked, what is to be decided")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._build(details)

    def _build(self, details: CaseDetails) -> None:
        form = QFormLayout()
        form.addRow("Case:", QLabel(details.name))
        form.addRow("Opened by:", QLabel(details.created_by))
        form.addRow("Case number:", self.number)
        form.addRow("Examiner:", self.examiner)
        form.addRow("Description:", self.description)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        note = QLabel("Changes are recorded in the audit log with their old and new values.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.resize(460, 300)

    def values(self) -> tuple[str, str, str]:
        """(number, description, examiner) as typed."""
        return self.number.text(), self.description.toPlainText(), self.examiner.text()
