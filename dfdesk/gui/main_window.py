"""The main window shell: case list and status bar with the compute device."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QListWidget, QMainWindow

from dfdesk import __version__
from dfdesk.services import cases
from dfdesk.services.devices import device_description
from dfdesk.store.database import Database


class MainWindow(QMainWindow):
    def __init__(self, db: Database):
        super().__init__()
        self.db = db
        self.setWindowTitle(f"dfdesk {__version__}")
        self.resize(1280, 800)
        self.case_list = QListWidget()
        self.setCentralWidget(self.case_list)
        self.device_label = QLabel(device_description())
        self.statusBar().addPermanentWidget(self.device_label)
        self.refresh_cases()

    def refresh_cases(self) -> None:
        self.case_list.clear()
        with self.db.unit_of_work() as session:
            for case in cases.list_cases(session):
                self.case_list.addItem(f"{case.name}  ({len(case.evidence)} video(s))")
