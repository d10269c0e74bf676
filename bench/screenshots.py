"""Screenshots of every view on a real analysed clip, at 1366x768 and 1920x1080, light and dark.

    Xvfb :99 -screen 0 1920x1080x24 &  DISPLAY=:99 .venv/bin/python bench/screenshots.py [OUT_DIR] [--video V]
    ... bench/screenshots.py OUT_DIR --scale 1.5     the same screens at 150 % (window sizes in device pixels)

Besides the main window, the analysis page, the models and settings dialogs, it shoots the views of the analyst's
day: the Jobs dock with a running analysis (newest first, the evidence row "analysing…"), the case details, the
evidence details and the evidence rows' context menu, the Help menu's About and Keyboard shortcuts, the
timeline with the hover readout, zoomed in and with a detector hidden, the gallery showing one detector's heat
maps, and the player enlarged full screen and zoomed in.

Runs the real analysis of the clip (the product's default ensemble) before shooting.  Nothing from
../shared/data is copied.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
SIZES = ((1366, 768), (1920, 1080))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("/tmp/dfdesk-shots"))
    parser.add_argument("--video", type=Path)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--scale", type=float, default=1.0, help="Qt scale factor (1.5: a 150 %% desktop)")
    return parser.parse_args()


def analysed(db, video: Path, frames: int) -> int:
    from dfdesk.core.steps import run_to_end
    from dfdesk.gui import tasks
    from dfdesk.gui.workers import JobContext
    from dfdesk.services.ingest import ingest_video

    evidence_id = ingest_video(db, "Screenshots", video, "screenshots").evidence_id
    request = tasks.analysis_request(None, frames, "uniform", "auto")
    generator = tasks.run_analysis(db, evidence_id, request, "screenshots", JobContext(lambda: False, print))
    return run_to_end(generator)


def dark_palette():
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
                         (QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.AlternateBase, "#262626"),
                         (QPalette.ColorRole.Text, "#e6e6e6"), (QPalette.ColorRole.Button, "#353535"),
                         (QPalette.ColorRole.ButtonText, "#e6e6e6"), (QPalette.ColorRole.Highlight, "#3d6fb4"),
                         (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.ToolTipBase, "#353535"),
                         (QPalette.ColorRole.ToolTipText, "#e6e6e6"), (QPalette.ColorRole.PlaceholderText, "#9a9a9a")):
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))  # disabled reads as disabled
    return palette


def settle(app, jobs, rounds: int = 400, player=None) -> None:
    """Let queued jobs (and the player's frame decoding, when given) finish before a screenshot."""
    import time

    for _ in range(rounds):
        app.processEvents()
        if not jobs.active_count() and not (player is not None and player.busy):
            break
        time.sleep(0.01)
    app.processEvents()


def running_analysis(window, evidence_id: int, gate):
    """A job that looks like an analysis in its inference stage until ``gate`` is set, shown as the app shows one."""
    from dfdesk.core.types import Progress

    def work(ctx):
        yield Progress("inference", 3, 8, "meso4_df: scoring clips")
        while not gate.wait(0.01):
            ctx.check()

    def finished(ctx):
        yield Progress("report", 1, 1, "done")

    window.jobs.submit("Report analysis-1.pdf", finished)  # an older, finished job below it
    job = window.jobs.submit(f"Analysing {window._file_name(evidence_id)}", work, gpu=True)
    window.evidence.track_analysis(evidence_id, job)
    return job


def shoot_day_views(app, window, db, jobs, out: Path, tag: str) -> None:
    """Case details, evidence details and context menu, Help's About and shortcuts, the jobs dock while running."""
    import threading

    evidence = window.evidence
    evidence.table.selectRow(0)
    gate = threading.Event()
    running_analysis(window, evidence.model.rows[0].id, gate)
    settle(app, jobs, rounds=30)
    window.grab().save(str(out / f"jobs-running-{tag}.png"))
    gate.set()
    settle(app, jobs)
    dialogs = [("case-details", window.cases.ask_details()), ("evidence-details", evidence.show_details()),
               ("about", window.help_menu.show_about()), ("shortcuts", window.help_menu.show_shortcuts())]
    for name, dialog in dialogs:
        dialog.show()
        dialog.adjustSize()
        settle(app, jobs)
        dialog.grab().save(str(out / f"{name}-{tag}.png"))
        dialog.close()
    menu = evidence.context_menu(evidence.model.rows[0])
    menu.popup(evidence.table.viewport().mapToGlobal(evidence.table.visualRect(evidence.model.index(0, 0)).center()))
    settle(app, jobs)
    menu.grab().save(str(out / f"evidence-menu-{tag}.png"))
    menu.close()


def shoot_timeline(app, jobs, page, out: Path, tag: str) -> None:
    """The analysis page with the readout of the fused score under the cursor, then the timeline zoomed in."""
    from PySide6.QtCore import QPointF

    timeline = page.timeline
    name = "fused" if "fused" in timeline.curves else next(iter(timeline.curves))
    x, y = timeline.curves[name].getData()
    middle = len(x) // 2
    timeline.show_reading_at(timeline.scores.getViewBox().mapViewToScene(QPointF(x[middle], y[middle])))
    settle(app, jobs)
    page.window().grab().save(str(out / f"analysis-readout-{tag}.png"))
    timeline.scores.setXRange(0.4 * timeline.frame_count, 0.6 * timeline.frame_count, padding=0)  # a fifth
    settle(app, jobs)
    timeline.grab().save(str(out / f"timeline-zoomed-{tag}.png"))
    timeline.reset_zoom()


def shoot_analysis_views(app, jobs, page, out: Path, tag: str) -> None:
    """The timeline with its first detector hidden, the gallery with one heat map per face, the enlarged player."""
    timeline = page.timeline
    names = timeline.detector_names()
    if names:
        timeline.set_detector_visible(names[0], False)
        settle(app, jobs)
        timeline.grab().save(str(out / f"timeline-hidden-{tag}.png"))
        timeline.set_detector_visible(names[0], True)
    gallery = page.gallery
    mapped = [name for card in gallery.cards for name in card.item.heatmaps]
    if mapped:
        gallery.choose_scorer(mapped[0])
    settle(app, jobs)
    gallery.grab().save(str(out / f"gallery-{tag}.png"))
    page.toggle_enlarged()
    settle(app, jobs, player=page.player)
    page.enlarged.grab().save(str(out / f"player-enlarged-{tag}.png"))
    page.player.canvas.set_zoom(3.0)
    settle(app, jobs)
    page.enlarged.grab().save(str(out / f"player-zoomed-{tag}.png"))
    page.player.canvas.fit()
    page.toggle_enlarged()
    settle(app, jobs)


def main() -> int:
    args = parse()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dfdesk-shots-"))
    os.environ["DFDESK_DATA_DIR"] = str(work / "data")
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    from PySide6.QtCore import QSettings

    from dfdesk import paths
    from dfdesk.gui.app import make_app
    from dfdesk.gui.jobs import JobQueue
    from dfdesk.gui.main_window import MainWindow
    from dfdesk.gui.settings import Analyst, AppSettings
    from dfdesk.gui.views.model_manager import ModelManager
    from dfdesk.gui.views.settings_dialog import SettingsDialog
    from dfdesk.store.database import Database

    app = make_app()
    video = args.video or (paths.shared_data_dir() or Path(".")) / "videos" / "ffpp" / "519_515.mp4"
    db = Database(work / "cases.sqlite")
    analysis_id = analysed(db, video, args.frames)
    settings = AppSettings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    jobs = JobQueue()
    light = app.palette()
    for theme, palette in (("light", light), ("dark", dark_palette())):
        app.setPalette(palette)
        for width, height in SIZES:
            window = MainWindow(db, settings, jobs)
            window.set_analyst(Analyst("screenshots", "admin"))
            window.resize(round(width / args.scale), round(height / args.scale))  # device pixels: width x height
            window.show()
            window.cases.refresh()
            window.open_case(window.cases.rows()[0].id)
            settle(app, jobs)
            tag = f"{theme}-{width}x{height}" + (f"-{round(args.scale * 100)}pct" if args.scale != 1.0 else "")
            window.grab().save(str(args.out / f"main-{tag}.png"))
            shoot_day_views(app, window, db, jobs, args.out, tag)
            window.open_triage(window.cases.rows()[0].id)
            settle(app, jobs)
            window.grab().save(str(args.out / f"triage-{tag}.png"))
            page = window.open_analysis(analysis_id)
            settle(app, jobs)
            page.player.seek(page.gallery.cards[0].item.frame_index if page.gallery.cards else 0)
            settle(app, jobs, player=page.player)
            window.grab().save(str(args.out / f"analysis-{tag}.png"))
            shoot_timeline(app, jobs, page, args.out, tag)
            shoot_analysis_views(app, jobs, page, args.out, tag)
            for name, dialog in (("models", ModelManager(settings, jobs, window, db=db, analyst=window.analyst)),
                                 ("settings", SettingsDialog(db, settings, window.analyst, parent=window))):
                dialog.show()
                settle(app, jobs)
                dialog.grab().save(str(args.out / f"{name}-{tag}.png"))
                dialog.close()
            window.jobs.shutdown()
            for index in range(window.tabs.count() - 1, 0, -1):
                window.close_tab(index)
            window.hide()
            window.deleteLater()
            app.processEvents()
    jobs.shutdown()
    db.close()
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
