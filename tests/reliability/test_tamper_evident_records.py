"""Tamper-evident records (issue 22): what someone holding the database file (but not the installation's key)
can do to it, and how each edit shows: a deleted audit tail, a recomputed chain, an emptied log, an edited
verdict, evidence hash or report hash, and an edited PDF."""
from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from dfdesk import paths
from dfdesk.cli.main import run_cli
from dfdesk.core.probe import sha256_file
from dfdesk.services import audit, audit_heads, cases, records_check, signing
from dfdesk.services.report import ReportError, export_report
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis, AuditEvent
from tests.fixtures import hostile
from tests.fixtures.analyses import make_saved_analysis
from tests.reliability.conftest import ANALYZE
from tests.report.conftest import pdf_text


def _tamper(db_path: Path, *statements: str) -> None:
    """What someone with the file and the sqlite3 shell can do: drop the append-only guards, then edit."""
    connection = sqlite3.connect(db_path)
    connection.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    connection.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def _problems(db: Database) -> list[str]:
    with db.unit_of_work() as session:
        return [p.problem for p in audit.verify(session)] + [str(p) for p in records_check.check_records(session)]


def _events(db: Database, n: int) -> None:
    with db.unit_of_work() as session:
        case = cases.create_case(session, "Case A", "alice")
    for i in range(n - 1):
        with db.unit_of_work() as session:
            cases.rename_case(session, case.id, f"Case {i}", "alice")


def _audited_analysis(db: Database, clip: Path) -> int:
    """A saved analysis (real intake and save path, synthetic scores) and the 'analysis.done' event that
    services.analysis writes with it."""
    analysis_id = make_saved_analysis(db, clip)
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        audit.record(session, "alice", "analysis.done", case_id=1, evidence_id=analysis.evidence_id,
                     analysis_id=analysis_id, verdict=analysis.verdict, fake_probability=analysis.fake_probability)
    return analysis_id


@pytest.fixture
def reported(db: Database, clip_dir: Path, tmp_path: Path):
    """A database with an audited analysis and its signed report."""
    clip = tmp_path / "evidence.mp4"
    shutil.copyfile(clip_dir / "face.mp4", clip)
    analysis_id = _audited_analysis(db, clip)
    result = export_report(db, analysis_id, tmp_path / "report.pdf", "alice")
    return db, result


def test_an_untouched_database_verifies(reported) -> None:
    db, _ = reported
    assert _problems(db) == []


def test_a_deleted_audit_tail_is_found(db: Database, cli) -> None:
    _events(db, 5)
    _tamper(db.path, "DELETE FROM audit_events WHERE id > 3")  # what is left is a valid, signed chain
    problems = _problems(db)
    assert any("the log ends before event 5" in p and "deleted" in p for p in problems), problems


def test_a_truncation_shows_against_an_earlier_report_even_without_the_installations_record(reported, capsys):
    db, result = reported
    printed = re.search(r"Audit events\s+([\d,]+)", " ".join(pdf_text(result.path)))
    head = int(printed.group(1).replace(",", ""))  # the head the report printed
    _tamper(db.path, f"DELETE FROM audit_events WHERE id >= {head}")
    (paths.user_data_dir() / audit_heads.HEADS_FILE).unlink()  # the installation's own record lost as well
    capsys.readouterr()
    code = run_cli(["audit", "verify", "--db", str(db.path), "--report", str(result.path)])
    out = capsys.readouterr().out
    assert code == 1 and f"event {head} is gone from the log (truncated)" in out, out


def test_a_chain_edited_and_recomputed_from_the_edit_on_is_found(db: Database) -> None:
    _events(db, 3)
    connection = sqlite3.connect(db.path)
    connection.execute("DROP TRIGGER audit_events_no_update")
    connection.execute("UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
    connection.commit()
    connection.close()
    with db.unit_of_work() as session:  # recompute every hash from the edited row on, as a forger would
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        prev = rows[0].hash
        for row in rows[1:]:
            content = audit._canonical(row.id, row.at, row.actor, row.action, row.case_id, row.evidence_id,
                                       row.details)
            new_hash = audit.chain_hash(prev, content)
            session.execute(AuditEvent.__table__.update().where(AuditEvent.id == row.id)
                            .values(prev_hash=prev, hash=new_hash))
            prev = new_hash
    (paths.user_data_dir() / audit_heads.HEADS_FILE).unlink()  # leave only the signatures to catch it
    with db.unit_of_work() as session:
        problems = audit.verify(session)
    assert [(p.event_id, "signature does not match" in p.problem) for p in problems] == [(2, True), (3, True)]


def test_an_emptied_audit_log_is_found(reported) -> None:
    db, _ = reported
    _tamper(db.path, "DELETE FROM audit_events")
    problems = _problems(db)
    assert any("rows were deleted" in p for p in problems)
    assert any("evidence 1: has no 'evidence.ingest' audit event" in p for p in problems)
    assert any("analyses 1: done, with 0 'analysis.done' audit events" in p for p in problems)


def test_an_edited_verdict_is_found_and_never_reported(cli, tmp_path: Path) -> None:
    evidence = hostile.h264(tmp_path, "evidence.mp4")
    assert cli("analyze", str(evidence), *ANALYZE, "--case", "V").code == 0
    connection = sqlite3.connect(cli.db_path)
    verdict = connection.execute("SELECT verdict FROM analyses WHERE id = 1").fetchone()[0]
    connection.close()
    flipped = "real" if verdict != "real" else "fake"
    _tamper(cli.db_path, f"UPDATE analyses SET verdict = '{flipped}', "
                         f"summary = json_set(summary, '$.verdict.label', '{flipped}') WHERE id = 1")
    verified = cli("audit", "verify")
    assert verified.code == 1 and "analyses 1: verdict is" in verified.stdout, verified.stdout
    report = tmp_path / "report.pdf"
    refused = cli("report", "1", "--out", str(report))
    assert refused.code == 2 and "disagree with the audit log" in refused.stderr and len(refused.error_lines) == 1
    assert not report.exists()


def test_an_edited_evidence_hash_is_found_and_never_reported(db: Database, clip_dir: Path, tmp_path: Path) -> None:
    clip = tmp_path / "evidence.mp4"
    shutil.copyfile(clip_dir / "face.mp4", clip)
    analysis_id = _audited_analysis(db, clip)
    with clip.open("ab") as stream:  # the file is replaced...
        stream.write(b"\0")
    _tamper(db.path, f"UPDATE evidence SET sha256 = '{sha256_file(clip)}' WHERE id = 1")  # ...and the row edited
    assert any("evidence 1: SHA-256" in p and "differs from the one audited at intake" in p for p in _problems(db))
    with pytest.raises(ReportError, match="disagree with the audit log"):
        export_report(db, analysis_id, tmp_path / "report.pdf", "alice")


def test_an_edited_report_hash_is_found(reported) -> None:
    db, result = reported
    _tamper(db.path, "UPDATE reports SET sha256 = '" + "0" * 64 + "'")
    assert any("differs from the 'report.export' audit event" in p for p in _problems(db))


def test_the_report_signature_validates_in_pyhankos_terms_and_fails_after_one_byte(reported, capsys) -> None:
    db, result = reported
    trust_root = signing.report_key_and_certificate()[1].read_bytes()  # what a recipient would trust
    context = ValidationContext(trust_roots=[x509.Certificate.load(pem.unarmor(trust_root)[2])])
    with result.path.open("rb") as stream:
        status = validate_pdf_signature(PdfFileReader(stream).embedded_signatures[0], context)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    data = bytearray(result.path.read_bytes())
    data[len(data) // 3] ^= 0x01  # one byte of the signed content
    result.path.write_bytes(bytes(data))
    with result.path.open("rb") as stream:
        status = validate_pdf_signature(PdfFileReader(stream, strict=False).embedded_signatures[0], context)
    assert not status.bottom_line and not status.intact
    capsys.readouterr()
    assert run_cli(["audit", "verify", "--db", str(db.path), "--report", str(result.path)]) == 1
    out = capsys.readouterr().out
    assert "changed after signing" in out and "has changed since it was exported" in out
