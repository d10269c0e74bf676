"""Composition root of the desktop app: settings, database, job queue and main window, then Qt's loop."""
from __future__ import annotations

import sys

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from dfdesk import paths
from dfdesk.gui.jobs import JobQueue
from dfdesk.gui.settings import AppSettings
from dfdesk.services.recovery import mark_interrupted
from dfdesk.store.database import Database, DatabaseError


def make_app(argv: list[str] | None = None) -> QApplication:
    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("dfdesk")
    app.setOrganizationName("dfdesk")
    pg.setConfigOptions(antialias=True)
    return app


def apply_data_folder(settings: AppSettings) -> None:
    """The data folder chosen in Settings wins over the default (``$DFDESK_DATA_DIR`` wins over both); passed to
    dfdesk.paths, not written into this process's environment."""
    paths.choose_data_dir(settings.data_folder or None)


def run_gui(argv: list[str] | None = None) -> int:
    app = make_app(argv)
    settings = AppSettings()
    apply_data_folder(settings)
    try:
        db = Database(paths.default_database_path())
    except DatabaseError as exc:
        QMessageBox.critical(None, "dfdesk", str(exc))
        return 2
    mark_interrupted(db)  # analyses a killed dfdesk left `running` become `interrupted` (resumable)
    from dfdesk.gui.main_window import MainWindow

    jobs = JobQueue()
    window = MainWindow(db, settings, jobs)
    window.show()
    try:
        return app.exec()
    finally:
        jobs.shutdown()
        db.close()
