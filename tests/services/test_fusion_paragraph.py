"""The report's fusion paragraph names the rule asked for and the rule applied, in the words of the code that
applies them (``verdicts.fusion_rule_text``), and says when a fall-back to the plain mean cannot decide."""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.services.report_layout import fusion_text
from dfdesk.services.results import load_analysis
from dfdesk.services.verdicts import NO_VALIDATED_FUSION, fusion_rule_text
from dfdesk.store.tables import Analysis
from tests.fixtures.analyses import make_saved_analysis
from tests.services.evidence_fixtures import OVERCLAIM


def paragraph(db, clip: Path, requested: str) -> str:
    """The fusion paragraph of a saved analysis whose verdict applied the plain mean, asked for as ``requested``."""
    analysis_id = make_saved_analysis(db, clip)
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        analysis.settings = {**analysis.settings, "fusion": requested}
    with db.unit_of_work() as session:
        return fusion_text(load_analysis(session, analysis_id))


@pytest.mark.parametrize("requested", ["auto", "stacking"])
def test_a_fall_back_to_the_mean_is_named_and_never_decides(db, clip_dir: Path, requested: str):
    text = paragraph(db, clip_dir / "face.mp4", requested)
    assert text.startswith(f"Rule: {fusion_rule_text(requested, 'mean')}.")
    assert f"mean (requested: {requested})" in text and NO_VALIDATED_FUSION in text
    assert text.endswith("Verdict: inconclusive whatever the fused score.")
    assert not OVERCLAIM.search(text)


def test_a_mean_asked_for_by_name_states_its_thresholds(db, clip_dir: Path):
    text = paragraph(db, clip_dir / "face.mp4", "mean")
    assert text.startswith("Rule: mean, the plain mean of the calibrated P(fake)")
    assert NO_VALIDATED_FUSION not in text and "(requested:" not in text
    assert ("manipulation detected when P(fake) is at or above 0.60 and the whole uncertainty band at or above "
            "0.50") in text
