"""Progress over a whole analysis: the plan's stages, expected seconds from past timings, the tracker's fraction
and seconds left (a fake clock isolates the arithmetic from the machine's speed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.core.pipeline import STAGE as FACES_STAGE
from dfdesk.core.sampling import SamplingPlan, plan_sampling
from dfdesk.core.steps import run_to_end
from dfdesk.core.types import Progress
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.progress_plan import ProgressTracker, build_plan, progress_plan_for
from dfdesk.store.database import Database

MESO = ("meso4_df", "meso4_f2f")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def plans(frames: int) -> dict[str, SamplingPlan]:
    return {name: plan_sampling(100, "uniform", frames=frames) for name in MESO}


def events(frames: int) -> list[Progress]:
    """The sequence of stages a real analysis of two detectors reports, in its order."""
    sequence = [Progress("verify", 0, 1)] + [Progress(FACES_STAGE, d, frames) for d in (2, 4, 6, 8)]
    for name in MESO:  # scoring, then its heat maps, then done
        sequence += [Progress(f"detector {name}", done, 2) for done in (0, 1, 2)]
    return sequence + [Progress("save", 0, 1), Progress("save", 1, 1)]


def history(frames: int) -> list[tuple[dict, dict]]:
    saved = {name: {"indices": list(range(frames))} for name in MESO}
    return [({"decode+faces": 4.0, "meso4_df": 2.0, "meso4_f2f": 6.0, "explanations": 5.0, "save": 1.0}, saved)]


def test_the_plan_lists_every_stage_in_running_order() -> None:
    plan = build_plan(plans(8), [])
    assert [s.name for s in plan.stages] == ["verify", FACES_STAGE, "detector meso4_df", "detector meso4_f2f",
                                             "save"]  # each detector's stage holds its heat maps
    assert not plan.has_history


def test_expected_seconds_come_from_history_scaled_per_frame() -> None:
    plan = build_plan(plans(16), history(8))  # twice the frames of the past analysis
    expected = {s.name: s.expected_s for s in plan.stages}
    assert expected[FACES_STAGE] == pytest.approx(8.0) and expected["detector meso4_df"] == pytest.approx(4.0)
    assert expected["detector meso4_f2f"] == pytest.approx(12.0) and expected["save"] == pytest.approx(1.0)
    assert "explanations" not in expected  # the heat maps' total is a record, not a stage
    assert expected["verify"] is None  # the timings do not hold it: it weighs as an average stage


@pytest.mark.parametrize("past", [[], history(8)], ids=["no history", "history"])
def test_the_fraction_never_goes_back_and_the_last_stage_ends_at_one(past) -> None:
    clock = Clock()
    tracker = ProgressTracker(build_plan(plans(8), past), clock)
    seen = []
    for event in events(8):
        clock.now += 0.5
        seen.append(tracker.update(event))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and 0.0 <= fractions[0] < 0.2
    assert seen[-1] == (1.0, 0.0)
    assert fractions[-3] < 1.0  # the last detector and its heat maps done, saving not: not finished yet


def test_with_history_the_eta_counts_the_stages_still_to_come() -> None:
    clock = Clock()
    tracker = ProgressTracker(build_plan(plans(8), history(8)), clock)
    for event in events(8)[:8]:  # through the first detector
        tracker.update(event)
    fraction, eta = tracker.update(Progress("detector meso4_f2f", 0, 2))
    assert eta == pytest.approx(6.0 + 1.0)  # this detector with its heat maps, saving: as measured before
    assert 0.4 < fraction < 0.6
    _, eta = tracker.update(Progress("save", 0, 1))
    assert eta == pytest.approx(1.0)


def test_without_history_the_eta_comes_from_this_run() -> None:
    clock = Clock()
    tracker = ProgressTracker(build_plan(plans(8), []), clock)
    assert tracker.update(Progress("verify", 0, 1)) == (0.0, None)  # nothing measured yet
    clock.now = 1.0
    tracker.update(Progress(FACES_STAGE, 2, 8))
    clock.now = 2.0
    fraction, eta = tracker.update(Progress(FACES_STAGE, 4, 8))
    # 4 frames left at 2 frames/s, then 3 stages of the 1 s that verify took
    assert eta == pytest.approx(2.0 + 3 * 1.0)
    assert fraction == pytest.approx((1 + 0.5) / 5)


def test_a_stage_outside_the_plan_keeps_the_whole_where_it_was() -> None:
    tracker = ProgressTracker(build_plan(plans(8), []), Clock())
    before = tracker.update(Progress(FACES_STAGE, 4, 8))
    assert tracker.update(Progress("something else", 1, 1)) == before


def test_a_real_analysis_reports_heat_maps_and_saving_and_feeds_the_next_plan(db: Database, clip_dir: Path) -> None:
    intake = ingest_video(db, "Case A", clip_dir / "face.mp4", "alice")
    request = AnalysisRequest(models=MESO, frames=4)
    assert not progress_plan_for(db, intake.evidence_id, request).has_history
    seen: list = []
    run_to_end(run_analysis(db, intake.evidence_id, request, "alice"), seen.append)
    stages = [(e.stage, e.done) for e in seen if isinstance(e, Progress)]
    assert [d for stage, d in stages if stage == "detector meso4_df"] == [0, 1, 2]  # scored, heat maps, done
    assert stages[-2:] == [("save", 0), ("save", 1)]
    plan = progress_plan_for(db, intake.evidence_id, request)
    assert [s.name for s in plan.stages] == ["verify", FACES_STAGE, "detector meso4_df", "detector meso4_f2f",
                                             "save"]
    assert all(s.expected_s is not None for s in plan.stages[1:])  # measured by the analysis just run
    tracker = ProgressTracker(plan)
    fractions = [tracker.update(e)[0] for e in seen if isinstance(e, Progress)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
