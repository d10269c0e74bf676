"""On FF++ 519_515 (H.264 4:4:4 from x264 core 148), the report's key frames are the frames the analysis scored.

The decoder defect of issue 15 is put back for the export only (no priming: decoding begins with a seek and misses
the encoder's build number), and the guard must refuse to print its pixels.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.core.steps import run_to_end
from dfdesk.core.video import VideoReader
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.key_frames import CHECKED_BY_CROP
from dfdesk.services.report import ReportError, export_report
from dfdesk.store.database import Database
from tests.report.conftest import pdf_text

pytestmark = [pytest.mark.real, pytest.mark.slow]


def _analysed(db: Database, clip: Path) -> int:
    intake = ingest_video(db, "Case 519", clip, "alice")
    # frames 544, 661 and 707: every one lies past the keyframe at 500, so decoding them begins with a seek
    request = AnalysisRequest(models=("meso4_df",), frames=3, sampling="random", seed=4, heatmaps_per_detector=3)
    return run_to_end(run_analysis(db, intake.evidence_id, request, "alice"), lambda _: None)


def test_519_515_key_frames_show_the_scored_face_and_wrong_pixels_are_refused(
        db: Database, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    analysis_id = _analysed(db, shared_data / "videos/ffpp/519_515.mp4")
    good = export_report(db, analysis_id, tmp_path / "good.pdf", "bob")
    assert CHECKED_BY_CROP in " ".join(pdf_text(good.path)).replace("\n", " ")

    monkeypatch.setattr(VideoReader, "_prime_decoder", lambda self: None)  # the reader before the fix
    with pytest.raises(ReportError, match="other pixels"):
        export_report(db, analysis_id, tmp_path / "bad.pdf", "bob")
    assert not (tmp_path / "bad.pdf").exists()
