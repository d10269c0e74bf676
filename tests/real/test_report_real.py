"""A PDF report over a real clip from ../shared/data.

The clip goes through the real intake (probe, SHA-256); the scores, tracks and heat map are the
synthetic ones of tests/fixtures/analyses.make_saved_analysis, because the real analysis service
(dfdesk/services/analysis.py) is not in the tree yet.  Replace them with a run_analysis result once it is.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.services.report import export_report
from dfdesk.store.database import Database
from tests.fixtures.analyses import make_saved_analysis
from tests.report.conftest import pdf_text, render_pages

pytestmark = pytest.mark.real
CLIP = Path("videos/ffpp/519_515.mp4")  # FaceForensics++ Deepfakes fake (research only: read in place, never copied)


def test_report_of_a_real_clip(shared_data: Path, db: Database, tmp_path: Path) -> None:
    clip = shared_data / CLIP
    if not clip.is_file():
        pytest.skip(f"{CLIP} is not in the shared data")
    analysis_id = make_saved_analysis(db, clip, case="FF++ 519 – Ελληνικά – Кириллица")
    result = export_report(db, analysis_id, tmp_path / "real.pdf", "tester")
    assert result.evidence_hash_ok
    text = " ".join(pdf_text(result.path))
    assert "519_515.mp4" in text and "MATCH" in text and "FF++ 519 – Ελληνικά – Кириллица" in text
    renders = tmp_path / "renders"
    renders.mkdir()
    pages = render_pages(result.path, renders)
    for page in pages[:-1]:
        assert (page < 128).mean() > 0.005
    last = [line for line in pdf_text(result.path)[-1].splitlines() if line.strip()]
    assert len(last) > 4, "the last page holds more than its header and footer"  # it may be short, never blank
