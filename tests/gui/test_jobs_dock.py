"""The Jobs dock shows the newest job first and at least one whole row; an evidence row says "analysing…" while its
analysis runs (real job queue and threads; the analysis generator is replaced by a small gated one)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dfdesk.core.types import Progress
from dfdesk.gui import tasks
from dfdesk.gui.jobs import DONE
from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.views.evidence_table import COLUMNS, EvidencePage
from dfdesk.gui.views.jobs_panel import JobsPanel
from dfdesk.services.ingest import ingest_video


def gated(gate: threading.Event, steps: int = 4):
    """Reports steps 1..steps-1 of ``steps``, then waits for the gate (the analysis' long middle)."""
    def run(ctx):
        for done in range(1, steps):
            yield Progress("inference", done, steps, "scoring")
        while not gate.wait(0.005):
            ctx.check()
        return None
    return run


def test_the_newest_job_is_on_top(qtbot, jobs):
    panel = JobsPanel(jobs)
    qtbot.addWidget(panel)
    gate = threading.Event()
    first = jobs.submit("first", gated(gate))
    second = jobs.submit("second", gated(gate))
    assert [row.job for row in panel.rows] == [second, first]
    assert panel.list_layout.itemAt(0).widget().job is second
    gate.set()
    qtbot.waitUntil(lambda: jobs.active_count() == 0, timeout=5000)


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_the_jobs_dock_shows_the_newest_job_whole(qtbot, db, settings, jobs, size):
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    gate = threading.Event()
    for title in ("older", "newer", "newest"):
        jobs.submit(title, gated(gate))
    qtbot.waitUntil(lambda: window.jobs_panel.rows[0].isVisible())
    newest = window.jobs_panel.rows[0]
    assert newest.job.title == "newest"
    assert newest.visibleRegion().boundingRect() == newest.rect()  # whole, not cut by the dock
    assert window.jobs_panel.rows[1].visibleRegion().boundingRect() == window.jobs_panel.rows[1].rect()
    gate.set()
    qtbot.waitUntil(lambda: jobs.active_count() == 0, timeout=5000)


def status_cell(page: EvidencePage) -> str:
    return page.model.data(page.model.index(0, COLUMNS.index("Status")))


def test_the_evidence_row_says_analysing_while_its_analysis_runs(qtbot, db, jobs, clip_dir: Path):
    intake = ingest_video(db, "Harbour", clip_dir / "face.mp4", "alice")
    page = EvidencePage(db, jobs, lambda: "dave")
    qtbot.addWidget(page)
    page.show_case(intake.case_id)
    assert status_cell(page) == "not analysed"
    gate = threading.Event()
    job = jobs.submit("Analysing face.mp4", gated(gate), gpu=True)
    page.track_analysis(intake.evidence_id, job)
    assert status_cell(page) == "analysing…"
    qtbot.waitUntil(lambda: status_cell(page) == "analysing… inference 75%", timeout=5000)
    page.refresh()  # a refresh from the database keeps what the running job says
    assert status_cell(page) == "analysing… inference 75%"
    gate.set()
    qtbot.waitUntil(lambda: job.state == DONE, timeout=5000)
    qtbot.waitUntil(lambda: status_cell(page) == "not analysed", timeout=5000)


def test_the_main_window_marks_the_row_of_each_analysis_it_starts(qtbot, db, settings, jobs, clip_dir: Path,
                                                                  monkeypatch):
    gate = threading.Event()
    monkeypatch.setattr(tasks, "run_analysis", lambda db, evidence_id, request, actor, ctx: gated(gate)(ctx))
    intake = ingest_video(db, "Harbour", clip_dir / "face.mp4", "alice")
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.show()
    window.open_case(intake.case_id)
    [job] = window.analyse([intake.evidence_id])
    assert status_cell(window.evidence).startswith("analysing…")
    assert window.jobs_panel.rows[0].job is job
    gate.set()
    qtbot.waitUntil(lambda: job.state == DONE, timeout=5000)
    qtbot.waitUntil(lambda: status_cell(window.evidence) == "not analysed", timeout=5000)


def test_quitting_asks_only_about_jobs_nobody_has_cancelled(qtbot, jobs):
    """A job told to stop but still winding down is not "still running" to the quit question (it blocked closing
    while a cancelled face-crop job finished)."""
    gate = threading.Event()
    stopping = jobs.submit("stopping", gated(gate))
    working = jobs.submit("working", gated(gate))
    jobs.cancel(stopping)
    assert stopping.cancel_requested and jobs.active_count() >= 1
    assert jobs.unfinished_count() == 1  # only "working"
    gate.set()
    qtbot.waitUntil(lambda: jobs.active_count() == 0, timeout=5000)
    assert working.state == DONE and jobs.unfinished_count() == 0
