"""The evidence of one case: a table model over EvidenceRow and the page holding it (add, analyse, resume, open)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui import dialogs
from dfdesk.gui.jobs import Job, JobQueue
from dfdesk.gui.presenters import format_duration, percent
from dfdesk.gui.queries import CaseRow, EvidenceRow, case_row, evidence_rows
from dfdesk.gui.tasks import ingest_files
from dfdesk.gui.widgets.images import verdict_colour
from dfdesk.store.database import Database

COLUMNS = ("Name", "Duration", "Resolution", "SHA-256", "Status", "Verdict", "P(fake)")
VIDEO_FILTER = "Videos (*.mp4 *.mov *.avi *.mkv *.webm *.m4v *.mpg *.mpeg *.ts *.wmv *.flv);;All files (*)"


class EvidenceTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[EvidenceRow] = []

    def set_rows(self, rows: list[EvidenceRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cells(row)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.path}\nSHA-256 {row.sha256}"
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 5 and row.verdict:
            return verdict_colour(row.verdict)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (1, 2, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _cells(row: EvidenceRow) -> tuple[str, ...]:
    return (row.file_name, format_duration(row.duration_s), row.resolution, row.sha_short, row.status,
            row.verdict or "—", percent(row.fake_probability))


class EvidencePage(QWidget):
    """Shows the open case's evidence; files can be dropped on it or chosen with Add videos."""

    analyse_requested = Signal(list)  # evidence ids
    analysis_opened = Signal(int)  # analysis id
    resume_requested = Signal(int)  # id of an interrupted, failed or cancelled analysis

    def __init__(self, db: Database, jobs: JobQueue, analyst: Callable[[], str], parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.jobs, self.analyst = db, jobs, analyst
        self.case: CaseRow | None = None
        self.ingest_job: Job | None = None
        self.model = EvidenceTableModel(self)
        self.table = QTableView()
        self.title = QLabel()
        self.hint = QLabel("Drop video files here or use Add videos… (Ctrl+O).")
        self.add_button = _button("Add videos…", "Add evidence files to this case (Ctrl+O)", self.choose_files)
        self.analyse_button = _button("Analyse", "Run the enabled detectors on the selected videos", self._analyse)
        self.resume_button = _button("Resume", "Finish the selected video's interrupted, failed or cancelled "
                                     "analysis in place, with the settings it was started with", self._resume)
        self.open_button = _button("Open analysis", "Review the latest analysis of the selected video",
                                   self._open_analysis)
        self.setAcceptDrops(True)
        self._build()
        self.show_case(None)

    def _build(self) -> None:
        self.title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _index: self._open_analysis())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        buttons = QHBoxLayout()
        buttons.addWidget(self.hint, 1)
        for button in (self.add_button, self.analyse_button, self.resume_button, self.open_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def show_case(self, case_id: int | None) -> None:
        with self.db.unit_of_work() as session:
            self.case = case_row(session, case_id) if case_id is not None else None
            rows = evidence_rows(session, case_id) if self.case else []
        self.model.set_rows(rows)
        self.title.setText(self.case.name + (" (closed)" if self.case.closed else "") if self.case
                           else "No case open: create or open one on the left")
        self._update_buttons()

    def refresh(self) -> None:
        self.show_case(self.case.id if self.case else None)

    def selected_rows(self) -> list[EvidenceRow]:
        return [self.model.rows[i.row()] for i in self.table.selectionModel().selectedRows()]

    def _update_buttons(self) -> None:
        open_case = self.case is not None and not self.case.closed
        selected = self.selected_rows()
        self.add_button.setEnabled(open_case and self.ingest_job is None)
        self.analyse_button.setEnabled(open_case and bool(selected))
        self.resume_button.setEnabled(open_case and len(selected) == 1 and selected[0].resumable_id is not None)
        self.open_button.setEnabled(len(selected) == 1 and selected[0].analysis_id is not None)

    def choose_files(self) -> None:
        if not self.add_button.isEnabled():
            return
        files, _ = QFileDialog.getOpenFileNames(self, "Add videos", "", VIDEO_FILTER)
        if files:
            self.add_files([Path(f) for f in files])

    def add_files(self, files: list[Path]) -> Job | None:
        if self.case is None or self.case.closed or self.ingest_job is not None:
            return None
        case_name, actor = self.case.name, self.analyst()
        self.ingest_job = self.jobs.submit(f"Adding {len(files)} video(s) to {case_name}",
                                           lambda ctx: ingest_files(self.db, case_name, files, actor, ctx))
        self.ingest_job.done.connect(self._ingested)
        self.ingest_job.finished.connect(self._ingest_finished)
        self._update_buttons()
        return self.ingest_job

    def _ingested(self, summary) -> None:
        if summary.refused:
            dialogs.show_error(self, "Some files were not added", summary.refusal_text())

    def _ingest_finished(self) -> None:
        self.ingest_job = None
        self.refresh()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and self.case is not None and not self.case.closed:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.add_files(files)

    def _analyse(self) -> None:
        self.analyse_requested.emit([row.id for row in self.selected_rows()])

    def _resume(self) -> None:
        selected = self.selected_rows()
        if len(selected) == 1 and selected[0].resumable_id is not None:
            self.resume_requested.emit(selected[0].resumable_id)

    def _open_analysis(self) -> None:
        selected = self.selected_rows()
        if len(selected) == 1 and selected[0].analysis_id is not None:
            self.analysis_opened.emit(selected[0].analysis_id)


def _button(text: str, tooltip: str, slot) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tooltip)
    button.clicked.connect(slot)
    return button
