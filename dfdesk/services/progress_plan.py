"""Progress over a whole analysis: every stage it goes through, weighted by how long such stages took before.

An analysis reports each stage on its own scale (decoding counts frames; a detector 0, 1 once it has scored
and is drawing its heat maps, 2 when done).  A
:class:`ProgressPlan` lists the stages in order with the seconds each is expected to take, measured from the
``timings`` of the most recent finished analyses in the same database and scaled to this analysis' frame counts.
A :class:`ProgressTracker` turns each ``Progress`` event into the fraction of the whole analysis done (never going
back) and the seconds left.  Without history every stage weighs the same and the seconds left come from the rates
measured during this run.  No Qt here: the GUI's job queue feeds the tracker.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import median

from sqlalchemy import select

from dfdesk.core.pipeline import STAGE as FACES_STAGE
from dfdesk.core.sampling import union_indices
from dfdesk.core.types import Progress
from dfdesk.detectors.scoring import plans_for
from dfdesk.services.model_selection import select_models
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis, Evidence

VERIFY, SAVE = "verify", "save"
FACES_TIMING = "decode+faces"  # the key ``compute_outcome`` records the faces stage under
HISTORY_SIZE = 5  # finished analyses whose timings set the expected seconds


@dataclass(frozen=True)
class StagePlan:
    """One stage: the name its Progress events carry, and its expected seconds (None: no history for it)."""

    name: str
    expected_s: float | None = None


@dataclass(frozen=True)
class ProgressPlan:
    """The stages of one analysis, in the order it runs them."""

    stages: tuple[StagePlan, ...]

    def index_of(self, stage: str) -> int | None:
        return next((i for i, s in enumerate(self.stages) if s.name == stage), None)

    @property
    def has_history(self) -> bool:
        return any(s.expected_s is not None for s in self.stages)


def detector_stage(name: str) -> str:
    """The stage name ``analysis._run_detector`` reports a detector under."""
    return f"detector {name}"


def progress_plan_for(db: Database, target, request) -> ProgressPlan:
    """The plan of an analysis of evidence ``target`` (its id) or of an ``AnalysisPlan``, with ``request``
    (an ``AnalysisRequest``): its stages and their expected seconds from the database's recent analyses."""
    plans = target.plans if not isinstance(target, int) else _sampling_plans(db, target, request)
    with db.unit_of_work() as session:
        history = _recent_analyses(session)
    return build_plan(plans, history)


def build_plan(plans: dict, history: Sequence[tuple[dict, dict]]) -> ProgressPlan:
    """The plan for ``plans`` (model name -> its SamplingPlan, in running order) given ``history``: (timings,
    sampling plans as saved) of finished analyses, newest first.  Decoding and detectors (each with its heat maps)
    are scaled per frame; saving is taken as it was."""
    decoded = len(union_indices(plans.values()))
    stages = [StagePlan(VERIFY), StagePlan(FACES_STAGE, _per_frame(history, FACES_TIMING, decoded))]
    stages += [StagePlan(detector_stage(n), _per_frame(history, n, len(p.indices))) for n, p in plans.items()]
    stages.append(StagePlan(SAVE, _as_was(history, SAVE)))
    return ProgressPlan(tuple(stages))


def _per_frame(history, key: str, frames: int) -> float | None:
    """The median seconds per frame of ``key`` in ``history`` times ``frames``; None without history."""
    rates = []
    for timings, plans in history:
        seconds, done = timings.get(key), _frames_of(plans, key)
        if isinstance(seconds, int | float) and done > 0:
            rates.append(seconds / done)
    return median(rates) * max(frames, 1) if rates else None


def _frames_of(plans: dict, key: str) -> int:
    """Frames a past analysis decoded (the faces stage) or one model scored, from its saved sampling plans."""
    if key == FACES_TIMING:
        return len({i for plan in plans.values() for i in plan.get("indices", ())})
    return len(plans.get(key, {}).get("indices", ()))


def _as_was(history, key: str) -> float | None:
    seconds = [t[key] for t, _ in history if isinstance(t.get(key), int | float)]
    return median(seconds) if seconds else None


def _recent_analyses(session) -> list[tuple[dict, dict]]:
    rows = session.scalars(select(Analysis).where(Analysis.status == "done").order_by(Analysis.id.desc())
                           .limit(HISTORY_SIZE))
    return [(dict(a.timings or {}), dict((a.settings or {}).get("plans") or {})) for a in rows]


def _sampling_plans(db: Database, evidence_id: int, request) -> dict:
    """Model name -> the frames it will score; empty when the request cannot run (the analysis itself says why)."""
    with db.unit_of_work() as session:
        evidence = session.get(Evidence, evidence_id)
        frame_count = evidence.frame_count if evidence is not None else 0
    try:
        cards = select_models(request.models).usable
    except ValueError:
        return {}
    return plans_for(cards, frame_count, request.frames, request.sampling, request.seed)


class ProgressTracker:
    """Turns the Progress events of one analysis into (fraction of the whole done, seconds left or None)."""

    def __init__(self, plan: ProgressPlan, clock: Callable[[], float] = time.monotonic):
        self.plan, self._clock = plan, clock
        self._index = -1
        self._stage_start = (0.0, 0)
        self._measured: list[float] = []  # seconds of the stages finished in this run
        self._fraction, self._eta = 0.0, None

    def update(self, progress: Progress) -> tuple[float, float | None]:
        index = self.plan.index_of(progress.stage)
        if index is None or index < self._index:
            return self._fraction, self._eta  # a stage outside the plan: the whole stays where it was
        now = self._clock()
        if index > self._index:
            if self._index >= 0:
                self._measured.append(now - self._stage_start[0])
            self._index, self._stage_start = index, (now, progress.done)
        share = min(max(progress.done, 0), progress.total) / progress.total if progress.total > 0 else 0.0
        self._fraction = max(self._fraction, self._overall(index, share))
        self._eta = self._seconds_left(index, share, progress, now)
        if index == len(self.plan.stages) - 1 and share >= 1.0:
            self._fraction, self._eta = 1.0, 0.0
        return self._fraction, self._eta

    def _weights(self) -> list[float]:
        known = [s.expected_s for s in self.plan.stages if s.expected_s is not None]
        fill = sum(known) / len(known) if known else 1.0
        return [max(s.expected_s if s.expected_s is not None else fill, 1e-3) for s in self.plan.stages]

    def _overall(self, index: int, share: float) -> float:
        weights = self._weights()
        return min((sum(weights[:index]) + weights[index] * share) / sum(weights), 1.0)

    def _expected(self, index: int) -> float | None:
        """A stage's expected seconds: its history, else the mean of the other stages' history, else the mean of the
        stages this run has finished, else unknown."""
        own = self.plan.stages[index].expected_s
        if own is not None:
            return own
        if self.plan.has_history:
            return self._weights()[index]
        return sum(self._measured) / len(self._measured) if self._measured else None

    def _seconds_left(self, index: int, share: float, progress: Progress, now: float) -> float | None:
        current = self._current_left(index, share, progress, now)
        later = [self._expected(i) for i in range(index + 1, len(self.plan.stages))]
        if current is None or any(s is None for s in later):
            return None
        return current + sum(later)

    def _current_left(self, index: int, share: float, progress: Progress, now: float) -> float | None:
        """Seconds left in the running stage: from its own rate when it can tell, else its expected seconds."""
        if share >= 1.0:
            return 0.0
        start_time, start_done = self._stage_start
        done_since = progress.done - start_done
        if progress.total > 0 and done_since > 0 and now > start_time:
            return (progress.total - progress.done) * (now - start_time) / done_since
        expected = self._expected(index)
        return None if expected is None else expected * (1.0 - share)


__all__ = ["SAVE", "VERIFY", "ProgressPlan", "ProgressTracker", "StagePlan", "build_plan",
           "detector_stage", "progress_plan_for"]
