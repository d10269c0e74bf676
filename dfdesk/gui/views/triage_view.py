"""The triage table of a case: every analysed video, strongest evidence of manipulation first; the files a batch
refused, with their reasons; CSV and JSON export; a double-click opens the video's analysis.

The page reads the table from the database (``services.batch_triage``) on the main thread; while a batch runs it
follows the batch job's events and reads the table again shortly after each finished video.  Folders and files
dropped on it are triaged into its case.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui.jobs import Job, JobProgress
from dfdesk.gui.presenters import format_duration
from dfdesk.gui.views.row_model import RowTableModel
from dfdesk.gui.widgets.buttons import push_button
from dfdesk.gui.widgets.images import verdict_colour
from dfdesk.services.batch import REFUSED, VideoSettled
from dfdesk.services.batch_triage import (
    SORTED_BY,
    TriageRow,
    case_name,
    order_note,
    triage_rows,
    write_csv,
    write_json,
)
from dfdesk.store.database import Database

COLUMNS = ("#", "File", "Evidence", "Finding", "Faces", "Duration", "Strongest detector", "Peak frame",
           "SHA-256", "Computed on")
REFRESH_DELAY_MS = 400  # results arriving close together refresh the table once


def ask_export_path(parent: QWidget, title: str, suggested: str, kinds: str) -> Path | None:
    out, _ = QFileDialog.getSaveFileName(parent, title, suggested, kinds)
    return Path(out) if out else None


class TriageTableModel(RowTableModel):
    columns = COLUMNS

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole and section == 2:
            return f"Sorted by {SORTED_BY}"
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cells(index.row() + 1, row)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.path}\nSHA-256 {row.sha256}\nDouble-click to open the analysis"
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 3:
            return verdict_colour(row.verdict)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (0, 4, 5, 7):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def cells(rank: int, row: TriageRow) -> tuple[str, ...]:
    words = row.verdict_text[:1].upper() + row.verdict_text[1:]
    strongest = f"{row.strongest_detector} ({row.strongest_detector_p:.2f})" if row.strongest_detector else "—"
    peak = f"{row.peak_frame} ({row.peak_time_s:.1f} s)" if row.peak_frame is not None else "—"
    return (str(rank), row.file, row.evidence, words, str(row.faces), format_duration(row.duration_s), strongest,
            peak, row.sha256[:16] + "…", row.computed_on or "—")


class TriagePage(QWidget):
    """One case's triage table (a tab of the main window)."""

    analysis_opened = Signal(int)
    batch_requested = Signal(list)  # paths dropped on the page, to triage into this case
    ask_export_path = staticmethod(ask_export_path)  # replaceable (tests, scripted use)
    analysis_id = None  # not an analysis page (the main window looks tabs up by analysis id)

    def __init__(self, db: Database, case_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.case_id = db, case_id
        with db.unit_of_work() as session:
            self.case_name = case_name(session, case_id)
        self.title = f"Triage: {self.case_name}"
        self.refused: list[tuple[str, str]] = []
        self.model = TriageTableModel(self)
        self.table = QTableView()
        self.heading = QLabel(self.title)
        self.status = QLabel("")
        self.status.setWordWrap(True)  # a long note wraps instead of widening the window past the screen
        self.refused_list = QListWidget()
        self.refused_label = QLabel("Not analysed")
        self.csv_button = push_button("Export CSV…", "The table as a spreadsheet", self.export_csv)
        self.json_button = push_button("Export JSON…", "The table and the refused files, for scripts", self.export_json)
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_DELAY_MS, timeout=self.refresh)
        self.setAcceptDrops(True)
        self._build()
        self.refresh()

    def _build(self) -> None:
        self.heading.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.refused_list.setToolTip("Files a batch did not analyse, with the reason; nothing was recorded for them")
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.refused_label)
        lower_layout.addWidget(self.refused_list)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.json_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        lower.setVisible(False)
        self._lower = lower

    # --- contents --------------------------------------------------------------------------------
    def refresh(self) -> None:
        with self.db.unit_of_work() as session:
            rows = triage_rows(session, self.case_id)
        self.model.set_rows(rows)
        self.csv_button.setEnabled(bool(rows))
        self.json_button.setEnabled(bool(rows or self.refused))
        if not self.status.text() or self.status.property("idle"):
            self._show_idle()

    def _show_idle(self) -> None:
        count = len(self.model.rows)
        text = (f"{count} analysed video(s); drop a folder here to triage it into this case"
                if count else "No analysed video yet: drop a folder here, or use Analyse all")
        if note := order_note(self.model.rows):
            text += f". {note}"
        self.status.setText(text)
        self.status.setProperty("idle", True)

    def show_refused(self, path: str, reason: str) -> None:
        self.refused.append((path, reason))
        self.refused_list.addItem(f"{Path(path).name}: {reason}")
        self.refused_list.item(self.refused_list.count() - 1).setToolTip(path)
        self.refused_label.setText(f"Not analysed ({len(self.refused)})")
        self._lower.setVisible(True)
        self.json_button.setEnabled(True)

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.model.rows):
            self.analysis_opened.emit(self.model.rows[row].analysis_id)

    # --- following a batch -----------------------------------------------------------------------
    def watch(self, job: Job) -> None:
        """Follow a batch job: its progress in the status line, each refusal listed, the table kept current."""
        self.refused.clear()
        self.refused_list.clear()
        self._lower.setVisible(False)
        job.progress.connect(self._show_progress)
        job.event.connect(self._on_event)
        job.finished.connect(self._on_finished)

    def _show_progress(self, progress: JobProgress) -> None:
        self.status.setProperty("idle", False)
        self.status.setText(progress.message)

    def _on_event(self, event: object) -> None:
        if not isinstance(event, VideoSettled):
            return
        if event.status == REFUSED:
            self.show_refused(event.path, event.detail)
        else:
            self._refresh_timer.start()

    def _on_finished(self) -> None:
        self._refresh_timer.stop()
        self.status.setProperty("idle", True)
        self.refresh()

    # --- export ----------------------------------------------------------------------------------
    def export_csv(self) -> Path | None:
        return self._export("Export the triage table", "CSV (*.csv)", ".csv",
                            lambda out: write_csv(self.model.rows, out))

    def export_json(self) -> Path | None:
        return self._export("Export the triage table", "JSON (*.json)", ".json",
                            lambda out: write_json(self.model.rows, out, self.case_name, self.refused))

    def _export(self, title: str, kinds: str, suffix: str, write: Callable[[Path], None]) -> Path | None:
        out = self.ask_export_path(self, title, f"triage-{self.case_name}{suffix}", kinds)
        if out is not None:
            write(out)
            self.status.setText(f"Saved {out}")
        return out

    # --- dropped folders -------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.batch_requested.emit(paths)

    def shutdown(self) -> None:
        self._refresh_timer.stop()
