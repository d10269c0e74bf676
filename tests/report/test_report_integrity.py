"""The evidence check before every report, the atomic write, and the report's own checksum."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from dfdesk.services import audit, report_layout
from dfdesk.services.report import ReportError, export_report
from dfdesk.store.tables import Analysis, AuditEvent, Report
from tests.report.conftest import Saved, pdf_text, render_pages


def test_every_page_renders_to_a_non_blank_image(saved: Saved, tmp_path: Path) -> None:
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    renders = tmp_path / "renders"
    renders.mkdir()
    pages = render_pages(result.path, renders)
    assert len(pages) == len(pdf_text(result.path))
    for page in pages:
        body = page[page.shape[0] // 10: -page.shape[0] // 10]  # below the header, above the footer
        assert (body < 128).mean() > 0.005, "a page without content"


def test_sha256_is_stored_audited_and_written_beside_the_pdf(saved: Saved, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = export_report(saved.db, saved.analysis_id, out / "report.pdf", "bob")
    digest = hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert result.sha256 == digest
    sidecar = out / "report.pdf.sha256"
    assert sidecar.read_text(encoding="utf-8") == f"{digest}  report.pdf\n"
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--check", "--status", sidecar.name], cwd=out, check=True)
    with saved.db.unit_of_work() as session:
        row = session.scalars(select(Report)).one()
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "report.export")).one()
        assert (row.report_uid, row.sha256, row.path, row.evidence_hash_ok) == (
            result.report_uid, digest, str(result.path), True)
        assert event.details["sha256"] == digest and event.details["report_uid"] == result.report_uid
        assert audit.verify(session) == []
    assert sorted(p.name for p in out.iterdir()) == ["report.pdf", "report.pdf.sha256"]  # no temporary left


def test_tampered_evidence_is_reported_as_a_mismatch_and_audited(saved: Saved, tmp_path: Path) -> None:
    with saved.clip.open("ab") as evidence:
        evidence.write(b"\x00tampered")
    tampered = hashlib.sha256(saved.clip.read_bytes()).hexdigest()
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    assert not result.evidence_hash_ok
    text = " ".join(pdf_text(result.path))
    assert "EVIDENCE INTEGRITY FAILURE" in text and "MISMATCH" in text and tampered in text
    assert "face crop withheld" in text
    with saved.db.unit_of_work() as session:
        mismatch = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.hash_mismatch")).one()
        assert mismatch.details["sha256_now"] == tampered
        assert session.scalars(select(Report)).one().evidence_hash_ok is False


def test_missing_evidence_is_reported_as_not_verified(saved: Saved, tmp_path: Path) -> None:
    saved.clip.unlink()
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    assert not result.evidence_hash_ok
    assert "NOT VERIFIED: the file could not be read" in " ".join(pdf_text(result.path))
    with saved.db.unit_of_work() as session:
        assert [e.action for e in audit.events_for(session)][-2:] == ["evidence.unreadable", "report.export"]


def test_a_failure_while_writing_leaves_no_file_under_the_final_name(saved: Saved, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_chart(*_args, **_kwargs):
        raise RuntimeError("chart failed")

    monkeypatch.setattr(report_layout, "timeline_drawing", broken_chart)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError, match="chart failed"):
        export_report(saved.db, saved.analysis_id, out / "report.pdf", "bob")
    assert list(out.iterdir()) == []  # neither the report, nor its checksum, nor a temporary file
    _assert_nothing_recorded(saved)


def test_a_failure_while_recording_takes_the_published_files_back(saved: Saved, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    record = audit.record

    def refuse_export(session, actor, action, **details):
        if action == "report.export":
            raise OSError("disk full")
        return record(session, actor, action, **details)

    monkeypatch.setattr(audit, "record", refuse_export)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.pdf").write_bytes(b"older report")
    with pytest.raises(OSError, match="disk full"):
        export_report(saved.db, saved.analysis_id, out / "report.pdf", "bob", overwrite=True)
    assert (out / "report.pdf").read_bytes() == b"older report"  # never replaced by an unrecorded report
    assert sorted(p.name for p in out.iterdir()) == ["report.pdf"]
    _assert_nothing_recorded(saved)


def _assert_nothing_recorded(saved: Saved) -> None:
    with saved.db.unit_of_work() as session:
        assert session.scalars(select(Report)).all() == []
        assert "report.export" not in [e.action for e in audit.events_for(session)]


def test_unknown_or_unfinished_analysis_is_refused(saved: Saved, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no analysis with id 99"):
        export_report(saved.db, 99, tmp_path / "report.pdf", "bob")
    with saved.db.unit_of_work() as session:
        session.get(Analysis, saved.analysis_id).status = "running"
    with pytest.raises(ReportError, match="not finished"):
        export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    with pytest.raises(ReportError, match="does not exist"):
        export_report(saved.db, saved.analysis_id, tmp_path / "missing" / "report.pdf", "bob")
    assert not (tmp_path / "report.pdf").exists()
