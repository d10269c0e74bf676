"""The Jobs panel shows an analysis job's progress over the whole analysis: the bar never drops back to 0 % when a
stage ends and the next begins, and it ends at 100 %.  Real job queue and threads; the analysis generator is
replaced by one that yields the plan and the stage sequence a real two-detector analysis reports."""
from __future__ import annotations

from dfdesk.core.pipeline import STAGE as FACES_STAGE
from dfdesk.core.sampling import plan_sampling
from dfdesk.core.types import Progress
from dfdesk.gui import tasks
from dfdesk.gui.jobs import DONE
from dfdesk.gui.views.jobs_panel import JobsPanel
from dfdesk.gui.workers import JobContext
from dfdesk.services.analysis import AnalysisRequest
from dfdesk.services.ingest import ingest_video
from dfdesk.services.progress_plan import ProgressPlan, build_plan

MESO = ("meso4_df", "meso4_f2f")


def analysis_like(ctx):
    yield build_plan({name: plan_sampling(100, "uniform", frames=8) for name in MESO}, [])
    yield Progress("verify", 0, 1, "checking the evidence file's SHA-256")
    for done in (2, 4, 6, 8):
        yield Progress(FACES_STAGE, done, 8, "finding faces")
    for name in MESO:
        yield Progress(f"detector {name}", 0, 2, f"running {name}")
        yield Progress(f"detector {name}", 1, 2, f"drawing {name}'s heat maps")
        yield Progress(f"detector {name}", 2, 2, f"{name} done")
    yield Progress("save", 0, 1, "saving the results")
    yield Progress("save", 1, 1, "done")
    return 7


def stage_job(ctx):
    yield Progress("report", 0, 4, "writing")
    yield Progress("report", 3, 4, "writing")
    return None


def watch_bar(qtbot, jobs, factory):
    panel = JobsPanel(jobs)
    qtbot.addWidget(panel)
    job = jobs.submit("Analysing face.mp4", factory, gpu=True)
    row = panel.rows[0]
    shown: list[tuple[int, int, str]] = []
    job.progress.connect(lambda _p: shown.append((row.bar.value(), row.bar.maximum(), row.bar.text())))
    qtbot.waitUntil(lambda: job.state == DONE, timeout=5000)
    return job, shown


def test_an_analysis_bar_never_goes_back_between_stages(qtbot, jobs):
    job, shown = watch_bar(qtbot, jobs, analysis_like)
    values = [value for value, _, _ in shown]
    assert len(values) == 13 and values == sorted(values)
    assert all(value > 0 for value in values[1:])  # after verify, never 0 % again
    assert shown[-1][2] == "100%" and shown[-3][2] != "100%"  # saving is part of the whole
    assert job.last_progress.overall == 1.0 and job.last_progress.eta_s == 0.0


def test_a_job_without_a_plan_keeps_its_stage_bar(qtbot, jobs):
    job, shown = watch_bar(qtbot, jobs, stage_job)
    assert [(value, maximum) for value, maximum, _ in shown] == [(0, 4), (3, 4)]
    assert job.last_progress.overall is None


def test_the_analysis_task_gives_its_plan_before_any_work(db, clip_dir) -> None:
    intake = ingest_video(db, "Harbour", clip_dir / "face.mp4", "alice")
    steps = tasks.run_analysis(db, intake.evidence_id, AnalysisRequest(models=MESO, frames=4), "alice",
                               JobContext(lambda: False, lambda _item: None))
    first = next(steps)
    steps.close()
    assert isinstance(first, ProgressPlan)
    assert [s.name for s in first.stages][2:4] == [f"detector {name}" for name in MESO]
