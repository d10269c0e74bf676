"""Case browser: search, create, open (one click), rename, edit the number, examiner and description, close and
reopen cases.

``refresh`` re-reads the list and leaves it untouched when nothing changed, so the main window can call it
whenever the database changes (another process's cases and evidence counts appear without a restart)."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui import dialogs
from dfdesk.gui.queries import CaseRow, case_rows
from dfdesk.gui.views.case_dialog import CaseDetails, CaseDetailsDialog
from dfdesk.gui.widgets.buttons import push_button
from dfdesk.services import cases
from dfdesk.store.database import Database

Prompt = Callable[[QWidget, str, str, str], str | None]  # (parent, title, label, text) -> text or None


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, text)
    return value if ok else None


class CaseBrowser(QWidget):
    case_opened = Signal(int)
    cases_changed = Signal()
    analyse_all_requested = Signal(int)  # case id: triage every video of the case not analysed yet

    def __init__(self, db: Database, analyst: Callable[[], str], prompt: Prompt = ask_text,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.analyst, self.prompt = db, analyst, prompt
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search cases by name or number")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.refresh)
        self.list = QListWidget()
        self.list.setToolTip("Click a case to open it")
        self.list.itemClicked.connect(self._open_item)
        self.list.itemActivated.connect(self._open_item)  # Enter on the keyboard
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.new_button = push_button("New…", "Create a new case", self.ask_create)
        self.rename_button = push_button("Rename…", "Rename the selected case", self.ask_rename)
        self.close_button = push_button("Close", "Close the selected case (it stays in the database, read-only "
                                    "for new evidence)", self.toggle_closed)
        self.details_button = push_button("Details…", "The case number, examiner and description (printed on reports)",
                                      self.ask_details)
        self.details_dialog: CaseDetailsDialog | None = None
        self.analyse_all_button = push_button("Analyse all", "Triage every video of the selected case that is not "
                                          "analysed yet, strongest evidence of manipulation first",
                                          self._analyse_all)
        self._build()
        self.refresh()
        self._update_buttons()

    def _build(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.new_button, self.rename_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        more = QHBoxLayout()
        more.addWidget(self.details_button)
        more.addWidget(self.analyse_all_button, 1)
        layout.addLayout(more)

    def refresh(self) -> None:
        """Re-read the cases; the list is rebuilt only when a row changed (no flicker, the selection stays)."""
        selected = self.selected_case_id()
        with self.db.unit_of_work() as session:
            rows = case_rows(session, self.search.text())
        if rows == self.rows():
            return
        self.list.clear()
        for row in rows:
            self.list.addItem(_item(row))
            if row.id == selected:
                self.list.setCurrentRow(self.list.count() - 1)
        self._update_buttons()

    def rows(self) -> list[CaseRow]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole + 1) for i in range(self.list.count())]

    def selected_case_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def select(self, case_id: int) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == case_id:
                self.list.setCurrentRow(i)

    def _selected_row(self) -> CaseRow | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole + 1) if item else None

    def _open_item(self, item: QListWidgetItem) -> None:
        self.case_opened.emit(item.data(Qt.ItemDataRole.UserRole))

    def _update_buttons(self) -> None:
        row = self._selected_row()
        self.rename_button.setEnabled(row is not None)
        self.details_button.setEnabled(row is not None)
        self.close_button.setEnabled(row is not None)
        self.close_button.setText("Reopen" if row and row.closed else "Close")
        self.analyse_all_button.setEnabled(row is not None and not row.closed)

    def _analyse_all(self) -> None:
        row = self._selected_row()
        if row is not None and not row.closed:
            self.analyse_all_requested.emit(row.id)

    def ask_create(self) -> None:
        name = self.prompt(self, "New case", "Case name:", "")
        if name is not None:
            self._change(lambda session: cases.create_case(session, name, self.analyst()), open_it=True)

    def ask_rename(self) -> None:
        row = self._selected_row()
        if row is None:
            return
        name = self.prompt(self, "Rename case", "New name:", row.name)
        if name is not None and name != row.name:
            self._change(lambda session: cases.rename_case(session, row.id, name, self.analyst()))

    def ask_details(self) -> CaseDetailsDialog | None:
        """Opens the details dialog (window-modal, not blocking); Save writes through the case service."""
        row = self._selected_row()
        if row is None:
            return None
        with self.db.unit_of_work() as session:
            case = cases.get_case(session, row.id)
            details = CaseDetails(case.name, case.number, case.description, case.created_by, case.examiner or "")
        dialog = self.details_dialog = CaseDetailsDialog(details, self)
        dialog.accepted.connect(lambda: self._save_details(row.id, *dialog.values()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _save_details(self, case_id: int, number: str, description: str, examiner: str) -> None:
        self._change(lambda session: cases.update_case_details(session, case_id, number, description,
                                                               self.analyst(), examiner=examiner))

    def toggle_closed(self) -> None:
        row = self._selected_row()
        if row is not None:
            self._change(lambda session: cases.set_case_closed(session, row.id, not row.closed, self.analyst()))

    def _change(self, action, open_it: bool = False) -> None:
        try:
            with self.db.unit_of_work() as session:
                case_id = action(session).id
        except cases.CaseError as exc:
            dialogs.show_error(self, "Case not changed", str(exc))
            return
        self.refresh()
        self.select(case_id)
        self.cases_changed.emit()
        if open_it:
            self.case_opened.emit(case_id)


def _item(row: CaseRow) -> QListWidgetItem:
    item = QListWidgetItem(row.label)
    item.setData(Qt.ItemDataRole.UserRole, row.id)
    item.setData(Qt.ItemDataRole.UserRole + 1, row)
    if row.closed:
        font = item.font()
        font.setItalic(True)
        item.setFont(font)
    return item
