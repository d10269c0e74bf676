"""Saved analyses whose verdict carries a likelihood ratio and coverage, for the layers that only show results.

The analysis goes through the real intake and save path (:func:`tests.fixtures.analyses.make_saved_analysis`);
its verdict is then replaced, as the save path stores it, by one decided from a bounded LR: by default the worst
case for wording, a manipulated video that the models missed ("real" for scripts).
"""
from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from dfdesk.core.coverage import Coverage, FamilyCoverage
from dfdesk.core.likelihood import (
    LrModel,
    decide_from_lr,
    even_odds_probability,
    evidence_strength,
    no_member_words,
)
from dfdesk.core.outcome import Verdict
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis
from tests.fixtures.analyses import make_saved_analysis

COVERAGE = Coverage((FamilyCoverage("face_swap", 6, 2), FamilyCoverage("reenactment", 2, 0),
                     FamilyCoverage("talking_head", 9, 1)), real_clips=10, real_called_fake=0)
LR_MODEL = LrModel(slope=0.4, intercept=0.0, lower=-0.9, upper=0.8)
# what no rendered text may say about a video: that it is real or authentic (the JSON value "real" is for scripts)
OVERCLAIM = re.compile(r"\breal\b|authentic", re.IGNORECASE)


def lr_verdict(fused_logit: float, band_logits: tuple[float, float] = (-0.5, 0.5)) -> Verdict:
    """The verdict of a fitted ensemble whose fused logit is ``fused_logit`` (band around it in logits)."""
    evidence = evidence_strength(LR_MODEL, fused_logit, validation_videos=25, validation_fakes=15,
                                 members=("meso4_df",))
    band = tuple(even_odds_probability(LR_MODEL.log10_lr(fused_logit + d)) for d in band_logits)
    label, explanation = decide_from_lr(evidence.log10_lr, tuple(LR_MODEL.log10_lr(fused_logit + d)
                                                                 for d in band_logits))
    fake = even_odds_probability(0.5)
    return Verdict(label, even_odds_probability(evidence.log10_lr), band, fake, 1 - fake,
                   "none of the 1 detectors flags the video", explanation, "stacking", evidence, COVERAGE)


def memberless_verdict() -> Verdict:
    """The verdict of a fitted ensemble in which no model has weight: LR 1 and P(fake) 0.5 for every video."""
    evidence = evidence_strength(LrModel(0.0, 0.0, 0.0, 0.0), 0.0, validation_videos=25, validation_fakes=15,
                                 members=())
    return Verdict("inconclusive", 0.5, (0.5, 0.5), even_odds_probability(0.5), 1 - even_odds_probability(0.5),
                   "the detectors disagree", no_member_words(25), "stacking", evidence, COVERAGE)


def make_lr_analysis(db: Database, clip: Path, verdict: Verdict | None = None, case: str = "Case LR") -> int:
    """A saved analysis of ``clip`` with ``verdict`` (default: a missed fake, "no manipulation detected")."""
    verdict = verdict or lr_verdict(-6.0)
    analysis_id = make_saved_analysis(db, clip, case=case)
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        analysis.summary = {**analysis.summary, "verdict": asdict(verdict)}
        analysis.verdict, analysis.fake_probability = verdict.label, verdict.fake_probability
    return analysis_id
