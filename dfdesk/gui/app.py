"""Composition root of the desktop app: opens the database, builds the main window, runs Qt."""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QMessageBox

from dfdesk import paths
from dfdesk.store.database import Database, DatabaseError


def run_gui(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("dfdesk")
    app.setOrganizationName("dfdesk")
    try:
        db = Database(paths.default_database_path())
    except DatabaseError as exc:
        QMessageBox.critical(None, "dfdesk", str(exc))
        return 2
    from dfdesk.gui.main_window import MainWindow

    window = MainWindow(db)
    window.show()
    return app.exec()
