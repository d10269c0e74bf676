"""Evidence paths: recorded absolute (with the argument as given audited), and a changed file is not new evidence."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from dfdesk.services import audit
from dfdesk.services.ingest import EvidenceChanged, ingest_video
from dfdesk.services.report import export_report
from dfdesk.store.database import Database
from dfdesk.store.tables import AuditEvent, Evidence
from tests.fixtures.analyses import make_saved_analysis


def _evidence_rows(db: Database) -> list[tuple[str, str]]:
    with db.unit_of_work() as session:
        return [(e.path, e.sha256) for e in session.scalars(select(Evidence).order_by(Evidence.id))]


def test_a_relative_path_is_recorded_absolute_and_audited_as_given(db: Database, clip_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "seized"
    folder.mkdir()
    shutil.copyfile(clip_dir / "face.mp4", folder / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    result = ingest_video(db, "Case A", Path("seized") / "clip.mp4", "alice")
    assert _evidence_rows(db) == [(str(folder / "clip.mp4"), result.sha256)]
    with db.unit_of_work() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.ingest")).one()
        assert event.details["path"] == str(folder / "clip.mp4")
        assert event.details["path_given"] == str(Path("seized") / "clip.mp4")


def test_a_report_run_from_another_folder_finds_evidence_ingested_by_a_relative_path(
        db: Database, clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "evidence").mkdir()
    shutil.copyfile(clip_dir / "face.mp4", tmp_path / "evidence" / "clip.mp4")
    monkeypatch.chdir(tmp_path / "evidence")
    analysis_id = make_saved_analysis(db, Path("clip.mp4"))
    elsewhere = tmp_path / "reports"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = export_report(db, analysis_id, "report.pdf", "bob")
    assert result.path == elsewhere / "report.pdf"
    assert result.evidence_hash_ok  # the intake file was found and re-hashed, not "cannot be read"


def test_a_path_whose_bytes_changed_since_intake_is_refused_naming_the_intake_hash(
        db: Database, clip_dir: Path, tmp_path: Path) -> None:
    clip = Path(shutil.copy(clip_dir / "face.mp4", tmp_path / "clip.mp4"))
    first = ingest_video(db, "Case A", clip, "alice")
    shutil.copyfile(clip_dir / "vfr.mp4", clip)  # another video, same name: a swap after intake
    swapped = hashlib.sha256(clip.read_bytes()).hexdigest()
    with pytest.raises(EvidenceChanged, match=f"SHA-256 at intake {first.sha256}, now {swapped}"):
        ingest_video(db, "Case A", clip, "alice")
    assert _evidence_rows(db) == [(str(clip), first.sha256)]  # no second evidence row
    with db.unit_of_work() as session:
        mismatch = audit.events_for(session)[-1]
        assert mismatch.action == "evidence.hash_mismatch" and mismatch.evidence_id == first.evidence_id
        assert (mismatch.details["expected"], mismatch.details["found"]) == (first.sha256, swapped)
        assert audit.verify(session) == []


def test_the_same_path_with_its_intake_bytes_is_the_same_evidence(db: Database, clip_dir: Path,
                                                                  tmp_path: Path) -> None:
    clip = Path(shutil.copy(clip_dir / "face.mp4", tmp_path / "clip.mp4"))
    first = ingest_video(db, "Case A", clip, "alice")
    again = ingest_video(db, "Case A", clip, "bob")
    other_case = ingest_video(db, "Case B", clip, "bob")
    assert (again.evidence_id, again.created) == (first.evidence_id, False)
    assert other_case.created and other_case.sha256 == first.sha256
