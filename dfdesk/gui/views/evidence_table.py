"""The evidence of one case: a table model over EvidenceRow and the page holding it (add, analyse, resume, open,
details, and a context menu with Details, Copy hash and Show in folder).

A row whose analysis is running in this window says "analysing…" with its progress; ``refresh`` keeps the
selection and leaves the table alone when nothing changed, so it can follow the database."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui import dialogs
from dfdesk.gui.jobs import Job, JobProgress, JobQueue
from dfdesk.gui.presenters import format_duration, percent
from dfdesk.gui.queries import CaseRow, EvidenceRow, case_row, evidence_rows
from dfdesk.gui.tasks import IngestSummary, ingest_files
from dfdesk.gui.views.evidence_details import EvidenceDetailsDialog, copy_text, show_in_folder
from dfdesk.gui.views.row_model import RowTableModel
from dfdesk.gui.widgets.buttons import push_button
from dfdesk.gui.widgets.images import verdict_colour
from dfdesk.services.verdicts import short_headline
from dfdesk.store.database import Database

COLUMNS = ("Name", "Duration", "Resolution", "SHA-256", "Status", "Verdict", "P(fake)")
STATUS_COLUMN = COLUMNS.index("Status")
ANALYSING = "analysing…"
VIDEO_FILTER = "Videos (*.mp4 *.mov *.avi *.mkv *.webm *.m4v *.mpg *.mpeg *.ts *.wmv *.flv);;All files (*)"


class EvidenceTableModel(RowTableModel):
    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent)
        self.analysing: dict[int, str] = {}  # evidence id -> what its running analysis is doing

    def set_analysing(self, evidence_id: int, text: str | None) -> None:
        """Show ``text`` in the evidence's Status cell while its analysis runs here (None: the database's status)."""
        if text is None:
            self.analysing.pop(evidence_id, None)
        else:
            self.analysing[evidence_id] = text
        for number, row in enumerate(self.rows):
            if row.id == evidence_id:
                cell = self.index(number, STATUS_COLUMN)
                self.dataChanged.emit(cell, cell)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole and index.column() == STATUS_COLUMN and row.id in self.analysing:
            return self.analysing[row.id]
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
    """The row's cells; the verdict in the product's short words ("no manipulation detected", never "real")."""
    return (row.file_name, format_duration(row.duration_s), row.resolution, row.sha_short, row.status,
            short_headline(row.verdict) if row.verdict else "—", percent(row.fake_probability))


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
        self.add_button = push_button("Add videos…", "Add evidence files to this case (Ctrl+O)", self.choose_files)
        self.analyse_button = push_button("Analyse", "Run the enabled detectors on the selected videos", self._analyse)
        self.resume_button = push_button("Resume", "Finish the selected video's interrupted, failed or cancelled "
                                     "analysis in place, with the settings it was started with", self._resume)
        self.open_button = push_button("Open analysis", "Review the latest analysis of the selected video",
                                   self._open_analysis)
        self.details_button = push_button("Details…", "Everything recorded about the selected video: codec, frame "
                                      "rate, frames, audio, full SHA-256, path, intake and audit events",
                                      self.show_details)
        self.details_dialog: EvidenceDetailsDialog | None = None
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
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        buttons = QHBoxLayout()
        buttons.addWidget(self.hint, 1)
        for button in (self.add_button, self.analyse_button, self.resume_button, self.open_button,
                       self.details_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def show_case(self, case_id: int | None) -> None:
        """Show the case's evidence; the same rows again leave the table (and its selection) as it was."""
        with self.db.unit_of_work() as session:
            self.case = case_row(session, case_id) if case_id is not None else None
            rows = evidence_rows(session, case_id) if self.case else []
        if rows != self.model.rows:
            self._set_rows_keeping_selection(rows)
        self.title.setText(self.case.name + (" (closed)" if self.case.closed else "") if self.case
                           else "No case open: create or open one on the left")
        self._update_buttons()

    def _set_rows_keeping_selection(self, rows: list[EvidenceRow]) -> None:
        selected = {row.id for row in self.selected_rows()}
        self.model.set_rows(rows)
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for number, row in enumerate(rows):
            if row.id in selected:
                self.table.selectionModel().select(self.model.index(number, 0), flags)

    def refresh(self) -> None:
        self.show_case(self.case.id if self.case else None)

    def track_analysis(self, evidence_id: int, job: Job) -> None:
        """The row says "analysing…" (with the job's progress) until ``job`` ends, then shows the database again."""
        self.model.set_analysing(evidence_id, ANALYSING)
        job.progress.connect(lambda progress: self.model.set_analysing(evidence_id, _analysing_text(progress)))
        job.finished.connect(lambda: self.model.set_analysing(evidence_id, None))
        job.finished.connect(self.refresh)

    def selected_rows(self) -> list[EvidenceRow]:
        return [self.model.rows[i.row()] for i in self.table.selectionModel().selectedRows()]

    def _update_buttons(self) -> None:
        open_case = self.case is not None and not self.case.closed
        selected = self.selected_rows()
        self.add_button.setEnabled(open_case and self.ingest_job is None)
        self.analyse_button.setEnabled(open_case and bool(selected))
        self.resume_button.setEnabled(open_case and len(selected) == 1 and selected[0].resumable_id is not None)
        self.open_button.setEnabled(len(selected) == 1 and selected[0].analysis_id is not None)
        self.details_button.setEnabled(len(selected) == 1)

    def show_details(self) -> EvidenceDetailsDialog | None:
        """Opens the details of the selected video (not blocking: jobs keep reporting)."""
        selected = self.selected_rows()
        if len(selected) != 1:
            return None
        dialog = self.details_dialog = EvidenceDetailsDialog(self.db, selected[0].id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def context_menu(self, row: EvidenceRow) -> QMenu:
        """Details, Copy hash and Show in folder for ``row``."""
        menu = QMenu(self)
        menu.addAction("Details…", self.show_details)
        menu.addAction("Copy SHA-256", lambda: copy_text(row.sha256))
        menu.addAction("Show in folder", lambda: self._show_in_folder(row.path))
        return menu

    def _show_context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        if not self.table.selectionModel().isRowSelected(index.row()):
            self.table.selectRow(index.row())
        self.context_menu(self.model.rows[index.row()]).exec(self.table.viewport().mapToGlobal(position))

    def _show_in_folder(self, path: str) -> None:
        if problem := show_in_folder(path):
            dialogs.show_error(self, "Show in folder", problem)

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

    def _ingested(self, summary: IngestSummary) -> None:
        """One message: the refused files (and those already in the case), or only the files already there."""
        known = _already_there_text(summary.already_there)
        if summary.refused:
            text = summary.refusal_text() + (f"\n\n{known}" if known else "")
            dialogs.show_error(self, "Some files were not added", text)
        elif known:
            dialogs.show_info(self, "Already in this case", known)

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


def _analysing_text(progress: JobProgress) -> str:
    """"analysing…" with the stage now running and how far it is: the whole analysis' share when the job knows its
    plan, else the stage's."""
    if progress.overall is not None:
        return f"{ANALYSING} {progress.stage} {int(100 * progress.overall)}%"  # of the whole analysis
    if progress.total <= 0:
        return f"{ANALYSING} {progress.stage}"
    return f"{ANALYSING} {progress.stage} {100 * min(progress.done, progress.total) // progress.total}%"  # as the bar


def _already_there_text(names: list[str]) -> str:
    """Says which files were already evidence of the case (same SHA-256): nothing new was added for them."""
    if not names:
        return ""
    listed = "\n".join(f"• {name}" for name in names)
    return (f"{len(names)} file(s) were already in this case (same SHA-256), so no new evidence was added; the "
            f"attempt is recorded in the audit log.\n\n{listed}")
