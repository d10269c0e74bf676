"""`dfdesk report verify FILE.pdf`: a report checked against its sidecar, its signature and the case database."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from dfdesk.cli.common import CliError
from dfdesk.services.report import export_report
from dfdesk.services.report_verify import ReportFileError, verify_report
from dfdesk.store.database import Database
from tests.report.conftest import Saved
from tests.report.test_report_cli import run

CHECKS = ["sidecar", "recorded", "signature", "evidence", "audit head"]


@pytest.fixture
def exported(saved: Saved, tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    return export_report(saved.db, saved.analysis_id, folder / "report.pdf", "bob").path


def _failed(saved: Saved, pdf: Path) -> list[str]:
    return [check.name for check in verify_report(saved.db, pdf) if not check.ok]


def _change_one_byte(pdf: Path, where: float = 0.5) -> None:
    data = bytearray(pdf.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    pdf.write_bytes(bytes(data))


def test_a_report_as_exported_passes_every_check(saved: Saved, exported: Path) -> None:
    checks = verify_report(saved.db, exported)
    assert [c.name for c in checks] == CHECKS
    assert all(c.ok for c in checks), [str(c) for c in checks]
    evidence = next(c for c in checks if c.name == "evidence")
    assert evidence.detail.startswith("the evidence SHA-256 printed")


def test_a_report_with_one_byte_changed_fails_naming_the_checks(saved: Saved, exported: Path) -> None:
    _change_one_byte(exported)
    assert {"sidecar", "recorded", "signature"} <= set(_failed(saved, exported))


def test_a_copy_elsewhere_with_its_sidecar_passes(saved: Saved, exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "sent to court.pdf"
    shutil.copyfile(exported, copy)
    shutil.copyfile(exported.with_name("report.pdf.sha256"), tmp_path / "sent to court.pdf.sha256")
    assert _failed(saved, copy) == []  # found by the report id its signature names, not by its path


def test_a_missing_sidecar_fails_only_that_check(saved: Saved, exported: Path) -> None:
    exported.with_name("report.pdf.sha256").unlink()
    assert _failed(saved, exported) == ["sidecar"]


def test_an_evidence_hash_edited_in_the_database_fails_the_evidence_check(saved: Saved, exported: Path) -> None:
    connection = sqlite3.connect(saved.db.path)
    connection.execute("UPDATE evidence SET sha256 = ?", ("f" * 64,))
    connection.commit()
    connection.close()
    checks = {c.name: c for c in verify_report(saved.db, exported)}
    assert [name for name, c in checks.items() if not c.ok] == ["evidence"]
    assert "f" * 64 in checks["evidence"].detail


def test_a_report_unknown_to_the_database_fails_the_record_checks(saved: Saved, exported: Path,
                                                                   tmp_path: Path) -> None:
    empty = Database(tmp_path / "other.sqlite")
    try:
        failed = [c.name for c in verify_report(empty, exported) if not c.ok]
    finally:
        empty.close()
    assert {"recorded", "evidence", "audit head"} <= set(failed) and "signature" not in failed


@pytest.mark.parametrize("kind", ["missing", "folder", "not a PDF"])
def test_what_is_not_a_pdf_file_is_bad_input(saved: Saved, tmp_path: Path, kind: str) -> None:
    path = {"missing": tmp_path / "none.pdf", "folder": tmp_path, "not a PDF": tmp_path / "notes.pdf"}[kind]
    if kind == "not a PDF":
        path.write_text("minutes of the meeting")
    with pytest.raises(ReportFileError):
        verify_report(saved.db, path)


def _cli(saved: Saved, *args: str) -> list[str]:
    return ["report", *args, "--db", str(saved.db.path)]


def test_the_command_prints_one_line_per_check_and_exits_0(saved: Saved, exported: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    assert run(_cli(saved, "verify", str(exported))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0].split()[-1] for line in lines] == ["sidecar", "recorded", "signature", "evidence",
                                                                  "head"]
    assert all(line.startswith("ok") for line in lines)


def test_the_command_exits_1_naming_the_failed_check(saved: Saved, exported: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    _change_one_byte(exported)
    with pytest.raises(CliError, match="failed .* check.*signature") as failure:
        run(_cli(saved, "verify", str(exported)))
    assert failure.value.code == 1
    assert any(line.startswith("FAILED signature:") for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("args", [["verify"], ["verify", "missing.pdf"], ["verify", "r.pdf", "--out", "x.pdf"]])
def test_the_command_exits_2_on_bad_input(saved: Saved, tmp_path: Path, args: list[str]) -> None:
    with pytest.raises(CliError) as refused:
        run(_cli(saved, *args))
    assert refused.value.code == 2
