"""Analysis of a file with two video streams (issue 21, point 3): the default stream is analysed, another can be
asked for, every result warns and lists the streams, and a resume keeps the stream.  Real Matroska files, real
MTCNN and the shipped MesoNet models."""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import (
    AnalysisCancelled,
    AnalysisError,
    AnalysisRequest,
    check_stream,
    resume_analysis,
    run_analysis,
)
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis
from tests.fixtures.streams import two_video_streams

MESO = ("meso4_df",)
STREAMS = [{"index": 0, "codec": "h264", "width": 320, "height": 240, "frames": 20, "default": False},
           {"index": 1, "codec": "h264", "width": 320, "height": 240, "frames": 20, "default": True}]


@pytest.fixture
def two_streams(tmp_path: Path) -> Path:
    """Stream 0: no face; stream 1, marked default: the face (a player shows stream 1)."""
    return two_video_streams(tmp_path / "two.mkv", default=1, face_on=1, audio=True)


def analyse(db: Database, evidence_id: int, **request) -> int:
    return run_to_end(run_analysis(db, evidence_id, AnalysisRequest(models=MESO, frames=4, **request), "alice"))


def summary_of(db: Database, analysis_id: int) -> tuple[dict, object]:
    with db.unit_of_work() as session:
        return dict(session.get(Analysis, analysis_id).summary), load_analysis(session, analysis_id)


def test_the_default_stream_is_analysed_and_the_others_listed_and_warned_about(db: Database,
                                                                               two_streams: Path) -> None:
    intake = ingest_video(db, "Case A", two_streams, "alice")
    summary, view = summary_of(db, analyse(db, intake.evidence_id))
    assert view.verdict.label != "no_face" and view.frames_with_face == 4  # the face is on stream 1 only
    assert summary["stream_index"] == 1 and summary["video_streams"] == STREAMS
    assert view.settings["stream_index"] == 1 and view.settings["stream_requested"] is None
    assert any("2 video streams: stream 1 is analysed, stream(s) 0 not" in w for w in view.warnings)


def test_another_stream_is_analysed_when_asked_for_and_not_served_from_the_first_ones_cache(
        db: Database, two_streams: Path) -> None:
    intake = ingest_video(db, "Case A", two_streams, "alice")
    analyse(db, intake.evidence_id)  # the default stream's faces are cached first
    summary, view = summary_of(db, analyse(db, intake.evidence_id, stream=0))
    assert view.verdict.label == "no_face" and summary["stream_index"] == 0
    assert any("stream 0 is analysed, stream(s) 1 not" in w for w in view.warnings)


def test_a_resumed_analysis_keeps_the_stream_it_was_started_on(db: Database, two_streams: Path) -> None:
    intake = ingest_video(db, "Case A", two_streams, "alice")
    request = AnalysisRequest(models=MESO, frames=4, stream=0)
    with pytest.raises(AnalysisCancelled):
        run_to_end(run_analysis(db, intake.evidence_id, request, "alice", cancel=lambda: True))
    with db.unit_of_work() as session:
        cancelled = session.query(Analysis).one()
        assert cancelled.status == "cancelled" and cancelled.settings["stream_index"] == 0
        analysis_id = cancelled.id
    assert run_to_end(resume_analysis(db, analysis_id, "alice")) == analysis_id
    summary, view = summary_of(db, analysis_id)
    assert view.status == "done" and summary["stream_index"] == 0 and view.verdict.label == "no_face"


def test_a_stream_that_is_not_a_video_stream_is_refused_before_any_row(db: Database, two_streams: Path) -> None:
    intake = ingest_video(db, "Case A", two_streams, "alice")
    for stream in (2, 9):  # audio; none
        with pytest.raises(AnalysisError, match=f"stream {stream} is not a video stream"):
            check_stream(two_streams, stream)
        with pytest.raises(AnalysisError, match=f"stream {stream} is not a video stream"):
            analyse(db, intake.evidence_id, stream=stream)
    with db.unit_of_work() as session:
        assert session.query(Analysis).count() == 0
    assert "stream 1 is analysed" in check_stream(two_streams, None)


def test_the_report_of_a_non_default_stream_shows_that_streams_checked_faces(db: Database, tmp_path: Path):
    from pypdf import PdfReader

    from dfdesk.services.report import export_report

    path = two_video_streams(tmp_path / "face_on_0.mkv", default=1, face_on=0, audio=True)
    intake = ingest_video(db, "Case", path, "alice")
    analysis_id = analyse(db, intake.evidence_id, stream=0)  # the face is on stream 0, not the default
    result = export_report(db, analysis_id, tmp_path / "r.pdf", "alice")  # key frames decoded from stream 0
    text = "".join(page.extract_text() for page in PdfReader(result.path).pages)
    assert "pixels equal the face crop the analysis scored" in " ".join(text.split())
