"""Entry point: `dfdesk` opens the GUI; `dfdesk SUBCOMMAND …` is the command line."""
from __future__ import annotations

import multiprocessing
import sys

SMOKE_GUI = "--smoke-gui"  # hidden: open the GUI, print one line once the main window is shown, quit (smoke tests)


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = sys.argv[1:] if argv is None else argv
    if not args or args == [SMOKE_GUI]:
        from dfdesk.gui.app import run_gui

        if args:
            _quit_once_main_window_shown()
        return run_gui()
    from dfdesk.cli.main import run_cli

    return run_cli(args)


def _quit_once_main_window_shown() -> None:
    """Once run_gui's event loop runs (its main window shown), print `main window shown: TITLE` and quit with 0;
    with no visible main window, print why and quit with 1. A watcher thread waits for the QApplication and posts
    the check to the GUI thread (a queued call), so run_gui itself runs unchanged."""
    import threading
    import time

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    deadline = time.monotonic() + 120

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


if __name__ == "__main__":
    sys.exit(main())
