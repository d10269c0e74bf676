"""Run as a program by test_window_fit.py, on an offscreen screen of a given size and scale: opens the main window as
the app does (first start), with an analysis page, and prints its geometry as JSON."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def rect(r) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dfdesk-fit-"))
    os.environ["DFDESK_DATA_DIR"] = str(work / "data")
    from PySide6.QtCore import QPoint, QSettings

    from dfdesk.gui.app import make_app
    from dfdesk.gui.jobs import JobQueue
    from dfdesk.gui.main_window import MainWindow
    from dfdesk.gui.settings import AppSettings
    from dfdesk.store.database import Database
    from tests.fixtures import clips
    from tests.fixtures.analyses import make_saved_analysis

    app = make_app()
    clips.make_face_clip(work / "face.mp4")
    db = Database(work / "cases.sqlite")
    jobs = JobQueue()
    window = MainWindow(db, AppSettings(QSettings(str(work / "s.ini"), QSettings.Format.IniFormat)), jobs)
    window.show()
    page = window.open_analysis(make_saved_analysis(db, work / "face.mp4"))
    for _ in range(50):
        app.processEvents()
    status = window.statusBar()
    finding = page.finding
    about = window.help_menu.show_about()
    for _ in range(50):
        app.processEvents()
    print(json.dumps({
        "available": rect(window.screen().availableGeometry()),
        "frame": rect(window.frameGeometry()),
        "minimum": [window.minimumSizeHint().width(), window.minimumSizeHint().height()],
        "status_bar": rect(status.geometry().translated(status.mapToGlobal(QPoint(0, 0)) - status.pos())),
        "status_bar_visible": status.isVisible(),
        "finding_whole": finding.visibleRegion().boundingRect() == finding.rect(),
        "about_frame": rect(about.frameGeometry()),
        "about_scrolls": about.text.verticalScrollBar().maximum() > 0,
    }))
    about.close()
    page.shutdown()
    jobs.shutdown()
    db.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main()
