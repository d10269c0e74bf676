"""The one way in from the command line to the desktop app: ``dfdesk.__main__`` imports only this module of
dfdesk.gui (an import-linter contract in pyproject.toml holds it so), and only when no sub-command is given.

``launch(smoke=True)`` is the hidden ``dfdesk --smoke-gui`` that the bundle's smoke test relies on: it opens the
GUI, prints one line once the main window is shown, and quits.
"""
from __future__ import annotations

import sys
import threading
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

from dfdesk.gui.app import run_gui

SMOKE_DEADLINE_S = 120


def launch(smoke: bool = False) -> int:
    """Run the GUI until it quits; with ``smoke``, quit as soon as the main window is shown."""
    if smoke:
        _quit_once_main_window_shown()
    return run_gui()


def _quit_once_main_window_shown() -> None:
    """Once run_gui's event loop runs (its main window shown), print `main window shown: TITLE` and quit with 0;
    with no visible main window, print why and quit with 1. A watcher thread waits for the QApplication and posts
    the check to the GUI thread (a queued call), so run_gui itself runs unchanged."""
    deadline = time.monotonic() + SMOKE_DEADLINE_S

    def check() -> None:
        app = QApplication.instance()
        app.processEvents()  # let the first expose and paint events through
        shown = [w for w in app.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible()]
        if shown and shown[0].windowHandle() is not None and shown[0].windowHandle().isExposed():
            print(f"main window shown: {shown[0].windowTitle()}", flush=True)
            app.exit(0)
        elif time.monotonic() < deadline:
            QTimer.singleShot(50, app, check)  # the event loop ran before show(): look again
        else:
            print("dfdesk: no main window was shown", file=sys.stderr, flush=True)
            app.exit(1)

    def watch() -> None:
        while (app := QApplication.instance()) is None:
            time.sleep(0.01)
        QTimer.singleShot(0, app, check)  # queued into the GUI thread's event loop

    threading.Thread(target=watch, name="smoke-gui", daemon=True).start()
