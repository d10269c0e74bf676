"""Drives the real desktop app offscreen, as an analyst would, for the GUI crash-safety test.

    python -m tests.reliability.gui_driver analyse CLIP   # start the app, open/create the case, add CLIP,
                                                          # select it and press Analyse; quit when the job ends
    python -m tests.reliability.gui_driver startup        # start the app, print `ready`, quit

The app is started through its own composition root (``dfdesk.gui.app.run_gui``, unchanged: database from
DFDESK_DATA_DIR, QSettings, JobQueue, MainWindow); this script only schedules the analyst's clicks on Qt's event
loop. Settings (meso4_df only, 4 frames, CPU) are written to the app's QSettings first, as the Settings dialog
would: the caller points XDG_CONFIG_HOME at a temporary folder so no real settings are touched.

One line per marker on stdout, flushed at once, so the parent can SIGKILL at a chosen point:
``ready`` (main window up, startup done), ``ingested``, ``started`` (the analysis job is running in its worker),
``progress STAGE DONE/TOTAL`` and ``event NAME`` (each thing the worker yields, as the views receive it),
``done ID`` / ``failed MESSAGE`` / ``cancelled``, ``finished``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CASE = "GUI crash case"
MODELS = ("meso4_df",)
FRAMES = 4


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def configure() -> None:
    from dfdesk.gui.settings import AppSettings

    settings = AppSettings()
    settings.enabled_models = MODELS
    settings.frames = FRAMES
    settings.device = "cpu"
    settings.sampling = "uniform"
    settings.sync()


def main_window():
    from PySide6.QtWidgets import QApplication

    from dfdesk.gui.main_window import MainWindow

    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))


def quit_app(window) -> None:
    from PySide6.QtWidgets import QApplication

    window.close()  # closeEvent: no job left, so no question; layout saved, then the loop ends
    QApplication.quit()


def fail(message: str) -> None:
    from PySide6.QtWidgets import QApplication

    emit(f"driver-error {message}")
    QApplication.exit(3)


def startup_only() -> None:
    window = main_window()
    emit("ready")
    quit_app(window)


def analyse(clip: Path) -> None:
    window = main_window()
    emit("ready")
    case_id = next((row.id for row in window.cases.rows() if row.name == CASE), None)
    if case_id is None:  # the New… button, with the name typed into its prompt
        window.cases.prompt = lambda *_args: CASE
        window.cases.ask_create()
    else:  # a double-click on the case in the list
        window.open_case(case_id)
    page = window.evidence
    if page.case is None or page.case.name != CASE:
        return fail("the case did not open")
    ingest = page.add_files([clip])  # what dropping the file on the page does
    if ingest is None:
        return fail("adding the video was refused")
    ingest.failed.connect(lambda message: fail(f"ingest failed: {message}"))
    ingest.finished.connect(lambda: _press_analyse(window, clip.name))


def _press_analyse(window, file_name: str) -> None:
    page = window.evidence
    rows = [i for i, row in enumerate(page.model.rows) if row.file_name == file_name]
    if not rows:
        return fail("the added video is not in the evidence table")
    emit("ingested")
    page.table.selectRow(rows[0])
    if not page.analyse_button.isEnabled():
        return fail("the Analyse button is disabled")
    window.jobs.job_added.connect(lambda job: _watch(window, job))
    page.analyse_button.click()


def _watch(window, job) -> None:
    if not job.gpu:  # only the analysis job (the one GPU-bound job the Analyse button submits)
        return
    emit(f"started {job.state}")
    job.progress.connect(lambda p: emit(f"progress {p.stage.replace(' ', '_')} {p.done}/{p.total}"))
    job.event.connect(lambda item: emit(f"event {type(item).__name__}"))
    job.done.connect(lambda analysis_id: emit(f"done {analysis_id}"))
    job.failed.connect(lambda message: emit(f"failed {message}"))
    job.cancelled.connect(lambda: emit("cancelled"))
    job.finished.connect(lambda: (emit("finished"), _quit_when_idle(window)))


def _quit_when_idle(window) -> None:
    """The opened analysis page starts its own job (face crops); quitting waits for it, as the analyst would."""
    if window.jobs.active_count() == 0:
        quit_app(window)
    else:
        window.jobs.job_finished.connect(lambda _job: _quit_when_idle(window) if window.isVisible() else None)


def main(argv: list[str]) -> int:
    from PySide6.QtCore import QTimer

    from dfdesk.gui.app import make_app, run_gui

    mode = argv[0]
    make_app([sys.argv[0]])  # the same QApplication run_gui will find and use
    configure()
    if mode == "startup":
        QTimer.singleShot(0, startup_only)
    elif mode == "analyse":
        clip = Path(argv[1]).resolve()
        QTimer.singleShot(0, lambda: analyse(clip))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return run_gui()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
