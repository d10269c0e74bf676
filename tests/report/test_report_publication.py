"""Where a report goes: never over an existing file unasked (and audited when asked), and published only once
recorded, so that a process killed at any moment leaves no report or a recorded one."""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from dfdesk.services import audit
from dfdesk.services.records_check import check_records
from dfdesk.services.report import ReportExists, export_report
from dfdesk.store.tables import AuditEvent, Report
from tests.report.conftest import Saved

REPOSITORY = Path(__file__).resolve().parents[2]
KILLED_EXPORT = """
import os, signal, sys
from dfdesk.services import report
from dfdesk.store.database import Database

def killed(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

setattr(report, sys.argv[4], killed)  # the step at which the process dies
report.export_report(Database(sys.argv[1]), int(sys.argv[2]), sys.argv[3], "killed")
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _reports(saved: Saved) -> list[tuple[str, str]]:
    with saved.db.unit_of_work() as session:
        return [(r.path, r.sha256) for r in session.scalars(select(Report).order_by(Report.id))]


def _actions(saved: Saved) -> list[str]:
    with saved.db.unit_of_work() as session:
        return [e.action for e in audit.events_for(session)]


def test_an_existing_file_is_not_replaced_unasked(saved: Saved, tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_bytes(b"someone's document")
    with pytest.raises(ReportExists, match="already exists: .*--force"):
        export_report(saved.db, saved.analysis_id, target, "bob")
    assert target.read_bytes() == b"someone's document"
    assert _reports(saved) == [] and "report.export" not in _actions(saved)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary files


def test_replacing_a_report_on_purpose_is_audited_with_what_it_replaced(saved: Saved, tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    first = export_report(saved.db, saved.analysis_id, target, "bob")
    second = export_report(saved.db, saved.analysis_id, target, "carol", overwrite=True)
    assert sha256(target) == second.sha256 != first.sha256
    assert (tmp_path / "report.pdf.sha256").read_text().split()[0] == second.sha256
    with saved.db.unit_of_work() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action.like("report.%"))
                                      .order_by(AuditEvent.id)))
        assert [e.action for e in events] == ["report.export", "report.overwrite", "report.export"]
        replaced = events[1].details
        assert (events[1].actor, replaced["path"], replaced["replaced_sha256"], replaced["replaced_report_uid"]) == (
            "carol", str(target), first.sha256, first.report_uid)
        assert audit.verify(session) == []
        assert [p for p in check_records(session) if p.table == "reports"] == []  # the replaced file is no problem


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _killed_export(saved: Saved, target: Path, step: str) -> None:
    """Run an export in another process that SIGKILLs itself at ``step`` (a function of dfdesk.services.report)."""
    done = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(saved.db.path), str(saved.analysis_id),
                           str(target), step], cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr


def _temporary(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.slow
def test_a_kill_after_the_record_is_committed_is_finished_by_the_next_export(saved: Saved, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    target = folder / "killed.pdf"
    _killed_export(saved, target, "publish")  # dies after the commit, before the rename
    assert not target.exists() and len(_temporary(folder)) == 2
    [(path, recorded)] = _reports(saved)
    assert path == str(target)  # recorded: a report whose files wait under temporary names
    export_report(saved.db, saved.analysis_id, folder / "next.pdf", "bob")
    assert sha256(target) == recorded  # the recorded report was put in place
    assert (folder / "killed.pdf.sha256").read_text() == f"{recorded}  killed.pdf\n"
    assert _temporary(folder) == []
    assert "report.publish_resumed" in _actions(saved)
    with saved.db.unit_of_work() as session:
        assert [p for p in check_records(session) if p.table == "reports"] == [] and audit.verify(session) == []


@pytest.mark.slow
def test_a_kill_before_the_record_is_committed_leaves_no_report(saved: Saved, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    _killed_export(saved, folder / "killed.pdf", "_record")  # dies with the signed PDF staged, nothing recorded
    assert len(_temporary(folder)) == 2 and _reports(saved) == []
    export_report(saved.db, saved.analysis_id, folder / "next.pdf", "bob")
    assert sorted(p.name for p in folder.iterdir()) == ["next.pdf", "next.pdf.sha256"]  # the stale files are gone
    assert [path for path, _sha in _reports(saved)] == [str(folder / "next.pdf")]


def test_only_temporary_files_of_dead_dfdesk_processes_on_this_host_are_cleaned(saved: Saved, tmp_path: Path) -> None:
    token = "0123456789abcdef" * 2
    host = socket.gethostname()
    names = {"dead": f".dfdesk-report.{host}.{_dead_pid()}.{token}.pdf.part",
             "running": f".dfdesk-report.{host}.{os.getpid()}.{token}.pdf.part",
             "other host": f".dfdesk-report.another-host.{_dead_pid()}.{token}.pdf.part",
             "not ours": ".report.pdf.part"}
    for name in names.values():
        (tmp_path / name).write_bytes(b"%PDF-1.7 unfinished")
    export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    left = {p.name for p in tmp_path.iterdir()}
    assert names["dead"] not in left
    assert {names["running"], names["other host"], names["not ours"]} <= left
