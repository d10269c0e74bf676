from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from dfdesk.core.probe import VideoError
from dfdesk.services import audit
from dfdesk.services.ingest import ingest_video, verify_evidence
from dfdesk.store.database import Database
from dfdesk.store.tables import Evidence


def test_ingest_records_probe_and_hash(db: Database, clip_dir: Path) -> None:
    clip = clip_dir / "face.mp4"
    result = ingest_video(db, "Case A", clip, "alice")
    assert result.created
    assert result.sha256 == hashlib.sha256(clip.read_bytes()).hexdigest()
    with db.unit_of_work() as session:
        evidence = session.get(Evidence, result.evidence_id)
        assert (evidence.width, evidence.height, evidence.frame_count) == (320, 240, 20)
        assert evidence.fps == pytest.approx(25.0)
        assert evidence.duration_s == pytest.approx(0.8, abs=0.05)
        assert evidence.codec == "h264" and evidence.rotation == 0 and not evidence.has_audio
        assert evidence.ingested_by == "alice" and evidence.path == str(clip)
        assert [e.action for e in audit.events_for(session)] == ["case.create", "evidence.ingest"]


def test_same_bytes_under_another_name_are_recognised(db: Database, clip_dir: Path, tmp_path: Path) -> None:
    first = ingest_video(db, "Case A", clip_dir / "face.mp4", "alice")
    copy = shutil.copy(clip_dir / "face.mp4", tmp_path / "renamed copy.mp4")
    second = ingest_video(db, "Case A", copy, "bob")
    assert not second.created and second.evidence_id == first.evidence_id
    with db.unit_of_work() as session:
        assert session.query(Evidence).count() == 1
        assert audit.events_for(session)[-1].action == "evidence.reingest"


def test_portrait_clip_is_recorded_upright(db: Database, clip_dir: Path) -> None:
    result = ingest_video(db, "Case A", clip_dir / "portrait.mp4", "alice")
    assert (result.info.width, result.info.height, result.info.rotation) == (240, 320, 90)


def test_variable_frame_rate_is_detected(db: Database, clip_dir: Path) -> None:
    assert ingest_video(db, "Case A", clip_dir / "vfr.mp4", "alice").info.is_vfr
    assert not ingest_video(db, "Case A", clip_dir / "face.mp4", "alice").info.is_vfr


def test_refused_file_writes_nothing(db: Database, tmp_path: Path) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError):
        ingest_video(db, "Case A", bogus, "alice")
    with db.unit_of_work() as session:
        assert session.query(Evidence).count() == 0
        assert audit.events_for(session) == []


def test_evidence_file_is_left_untouched(db: Database, clip_dir: Path, tmp_path: Path) -> None:
    clip = Path(shutil.copy(clip_dir / "face.mp4", tmp_path / "evidence.mp4"))
    clip.chmod(0o444)
    before = (clip.read_bytes(), clip.stat().st_mtime_ns)
    result = ingest_video(db, "Case A", clip, "alice")
    assert (clip.read_bytes(), clip.stat().st_mtime_ns) == before
    with db.unit_of_work() as session:
        assert verify_evidence(session.get(Evidence, result.evidence_id)) == (True, result.sha256)


def test_tampered_evidence_fails_verification(db: Database, clip_dir: Path, tmp_path: Path) -> None:
    clip = Path(shutil.copy(clip_dir / "face.mp4", tmp_path / "evidence.mp4"))
    result = ingest_video(db, "Case A", clip, "alice")
    with clip.open("r+b") as handle:
        handle.seek(200)
        handle.write(b"\xff")
    with db.unit_of_work() as session:
        ok, digest = verify_evidence(session.get(Evidence, result.evidence_id))
    assert not ok and digest != result.sha256


def test_a_closed_case_takes_no_evidence_and_no_analysis_from_any_front_end(db: Database, clip_dir: Path) -> None:
    """The closed-case rule lives in the services, so the CLI meets it as the GUI does."""
    from dfdesk.core.pipeline import run_to_end
    from dfdesk.services.analysis import AnalysisError, AnalysisRequest, run_analysis
    from dfdesk.services.cases import set_case_closed
    from dfdesk.services.ingest import CaseClosed

    first = ingest_video(db, "Case A", clip_dir / "face.mp4", "alice")
    with db.unit_of_work() as session:
        set_case_closed(session, first.case_id, True, "alice")
        before = len(audit.events_for(session))
    with pytest.raises(CaseClosed, match="closed: reopen it"):
        ingest_video(db, "Case A", clip_dir / "portrait.mp4", "bob")
    with pytest.raises(AnalysisError, match="closed: reopen it"):
        run_to_end(run_analysis(db, first.evidence_id, AnalysisRequest(models=("meso4_df",)), "bob"))
    with db.unit_of_work() as session:
        assert session.query(Evidence).count() == 1 and len(audit.events_for(session)) == before
