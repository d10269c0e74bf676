"""Evidence details: every fact the intake probed and recorded for one video, its full SHA-256 with Copy, its path
with "Show in folder", and the audit events of this evidence with a button that verifies the whole chain.

``load_details`` and ``fact_rows`` are plain functions (a frozen row read in one unit of work, then words), so
the dialog only lays them out; ``copy_text`` and ``show_in_folder`` are also used by the evidence table's
context menu.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from dfdesk.gui import dialogs
from dfdesk.gui.presenters import format_duration
from dfdesk.gui.widgets.buttons import push_button
from dfdesk.services import audit
from dfdesk.services.results import EvidenceView, evidence_view
from dfdesk.store.database import Database
from dfdesk.store.tables import Evidence


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: datetime
    actor: str
    action: str


@dataclass(frozen=True)
class EvidenceDetails(EvidenceView):
    """One evidence row as the panel shows it, with its audit events (no live ORM object leaves the unit of
    work)."""

    events: tuple[AuditLine, ...] = ()


def load_details(session: Session, evidence_id: int) -> EvidenceDetails:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise LookupError(f"no evidence {evidence_id}")
    events = tuple(AuditLine(e.id, e.at, e.actor, e.action) for e in audit.events_for(session, evidence_id=evidence_id))
    return EvidenceDetails(**vars(evidence_view(evidence, evidence.case)), events=events)


def local_time(at: datetime) -> str:
    """A stored time (UTC; SQLite returns it without a zone) in the analyst's zone, the zone named."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)")


def fact_rows(details: EvidenceDetails) -> list[tuple[str, str]]:
    """(label, text) for every probed and recorded fact, in the order the panel shows them."""
    rotation = f"{details.video.rotation}° clockwise to show upright" if details.video.rotation else "none"
    return [
        ("Case", details.case_name),
        ("File", details.file_name),
        ("Size", f"{details.video.size_bytes:,} bytes"),
        ("Container", details.video.container or "—"),
        ("Video codec", details.video.codec or "—"),
        ("Pixel format", details.video.pixel_format or "—"),
        ("Bit depth", f"{details.video.bit_depth} bit"),
        ("Resolution", f"{details.video.width}×{details.video.height} (as displayed)"),
        ("Rotation", rotation),
        ("Frame rate", f"{details.video.fps:.3f} fps" + (" (variable)" if details.video.is_vfr else " (constant)")),
        ("Frames", f"{details.video.frame_count:,}"),
        ("Duration", f"{format_duration(details.video.duration_s)} ({details.video.duration_s:.3f} s)"),
        ("Audio", "yes" if details.video.has_audio else "none"),
        ("Ingested", f"{local_time(details.ingested_at)} by {details.ingested_by}"),
    ]


def copy_text(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def open_url(url: QUrl) -> bool:
    """Hands ``url`` to the desktop (file manager, viewer); replaceable in tests."""
    return QDesktopServices.openUrl(url)


def show_in_folder(path: str) -> str:
    """Opens the folder holding ``path``; returns "" or a one-line reason why it could not."""
    folder = Path(path).parent
    if not folder.is_dir():
        return f"The folder {folder} is not reachable (moved, or on media not connected)."
    if not open_url(QUrl.fromLocalFile(str(folder))):
        return f"No file manager could open {folder}."
    return ""


def verify_text(problems: list[audit.ChainProblem]) -> str:
    if not problems:
        return "Audit chain verified: every event is intact, in order and signed."
    first = problems[0]
    return f"Audit chain NOT intact: {len(problems)} problem(s); first at event {first.event_id}: {first.problem}"


class EvidenceDetailsDialog(QDialog):
    """The details of one evidence row: facts, hash, path, audit events, chain check."""

    def __init__(self, db: Database, evidence_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.db = db
        with db.unit_of_work() as session:
            self.details = load_details(session, evidence_id)
        self.setObjectName("evidenceDetailsDialog")
        self.setWindowTitle(f"Evidence details: {self.details.file_name}")
        self.hash_label = _selectable(self.details.sha256, monospace=True)
        self.path_label = _selectable(self.details.path)
        self.copy_button = push_button("Copy", "Copy the full SHA-256 to the clipboard",
                                   lambda: copy_text(self.details.sha256))
        self.folder_button = push_button("Show in folder", "Open the folder holding the evidence file",
                                     self._show_folder)
        self.events = QListWidget()
        self.verify_button = push_button("Verify chain", "Check every event of this database's audit log: hashes, "
                                     "order and signatures", self.verify_chain)
        self.verify_result = QLabel()
        self.verify_result.setWordWrap(True)
        self._build()

    def _build(self) -> None:
        form = QFormLayout()
        for label, text in fact_rows(self.details):
            form.addRow(f"{label}:", _selectable(text))
        form.addRow("SHA-256:", _with_button(self.hash_label, self.copy_button))
        form.addRow("Path:", _with_button(self.path_label, self.folder_button))
        for line in self.details.events:
            self.events.addItem(f"#{line.id}  {local_time(line.at)}  {line.actor}  {line.action}")
        self.events.setMaximumHeight(110)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Audit events of this evidence:"))
        layout.addWidget(self.events)
        layout.addLayout(_with_button(self.verify_result, self.verify_button))
        layout.addWidget(buttons)

    def _show_folder(self) -> None:
        if problem := show_in_folder(self.details.path):
            dialogs.show_error(self, "Show in folder", problem)

    def verify_chain(self) -> list[audit.ChainProblem]:
        with self.db.unit_of_work() as session:
            problems = audit.verify(session)
        self.verify_result.setText(verify_text(problems))
        return problems


def _selectable(text: str, monospace: bool = False) -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(not monospace)
    if monospace:
        label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return label


def _with_button(label: QLabel, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(label, 1)
    row.addWidget(button)
    return row
