"""The command line's edge: case selection by name or id, argument errors before heavy imports, and a disk that
fills once work began (one line, exit 1, nothing half-written)."""
from __future__ import annotations

import errno
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import ANALYZE, audit_problems, half_written, integrity, statuses


def _case_of_evidence(db_path: Path) -> list[tuple[str, str]]:
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute("SELECT cases.name, evidence.file_name FROM evidence JOIN cases "
                                  "ON cases.id = evidence.case_id ORDER BY evidence.id").fetchall()
    finally:
        connection.close()


def test_case_id_selects_the_case_with_that_id(cli, clip_dir: Path) -> None:
    assert cli("case", "new", "Alpha").code == 0
    assert cli("case", "new", "Beta").code == 0
    assert cli("ingest", str(clip_dir / "face.mp4"), "--case-id", "2").code == 0
    assert _case_of_evidence(cli.db_path) == [("Beta", "face.mp4")]
    shown = cli("case", "show", "--case-id", "2", "--json")
    assert shown.code == 0 and json.loads(shown.stdout)["name"] == "Beta"


def test_a_case_id_no_case_has_is_refused_untouched(cli, clip_dir: Path) -> None:
    assert cli("case", "new", "Alpha").code == 0
    run = cli("ingest", str(clip_dir / "face.mp4"), "--case-id", "7")
    assert run.code == 2 and "--case-id 7: no case has this id" in run.stderr
    assert _case_of_evidence(cli.db_path) == []


@pytest.mark.parametrize("name", ["1", "١"])
def test_a_case_name_made_of_digits_is_a_name_not_an_id(cli, clip_dir: Path, name: str) -> None:
    assert cli("case", "new", "Alpha").code == 0  # id 1
    assert cli("ingest", str(clip_dir / "face.mp4"), "--case", name).code == 0
    assert _case_of_evidence(cli.db_path) == [(name, "face.mp4")]


def test_an_argument_error_is_answered_before_pytorch_pyav_or_sqlalchemy_load(tmp_path: Path) -> None:
    probe = ("import sys; from dfdesk.cli.main import run_cli; "
             "code = run_cli(['analyze', 'x.mp4', '--seed', '-1']); "
             "print(code, *(m in sys.modules for m in ('torch', 'av', 'sqlalchemy')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.stdout.split() == ["2", "False", "False", "False"], done.stdout + done.stderr
    assert "--seed" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _one_error_after_the_disk_warning(run) -> str:
    """A full disk: the one error line, after at most one warning that the audit head could not be recorded
    (the patched call is the process's own, so the audit-head ledger meets the full disk too)."""
    *warnings, error = run.error_lines
    assert error.startswith("dfdesk: error: ") and "No space left" in error, run.stderr
    assert len(warnings) <= 1 and all(line.startswith("dfdesk: warning: could not record the audit head")
                                      for line in warnings), run.stderr
    return error


def test_a_full_disk_while_writing_the_json_is_exit_1_and_leaves_no_partial_file(
        cli, clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out_folder = tmp_path / "out"
    out_folder.mkdir()
    monkeypatch.setattr("dfdesk.cli.analyze_command.json.dump", _no_space)
    run = cli("analyze", str(clip_dir / "face.mp4"), *ANALYZE, "--json", str(out_folder / "r.json"))
    assert run.code == 1 and "saved, but the JSON" in _one_error_after_the_disk_warning(run)
    assert list(out_folder.iterdir()) == []
    assert list(statuses(cli.db_path).values()) == ["done"]


def test_a_full_disk_while_publishing_a_report_is_exit_1_and_leaves_no_report(
        cli, clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("analyze", str(clip_dir / "face.mp4"), *ANALYZE).code == 0
    out_folder = tmp_path / "reports"
    out_folder.mkdir()
    monkeypatch.setattr("dfdesk.services.report_publish.os.replace", _no_space)
    run = cli("report", "1", "--out", str(out_folder / "r.pdf"))
    assert run.code == 1 and _one_error_after_the_disk_warning(run)
    assert "Traceback" not in run.stderr
    assert not (out_folder / "r.pdf").exists()
    assert integrity(cli.db_path) == "ok" and audit_problems(cli.db_path) == []


def test_a_full_disk_while_saving_an_analysis_marks_it_failed(cli, clip_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dfdesk.services.analysis.save_outcome", _no_space)
    run = cli("analyze", str(clip_dir / "face.mp4"), *ANALYZE)
    assert run.code == 1 and len(run.error_lines) == 1 and "No space left" in run.stderr, run.stderr
    assert list(statuses(cli.db_path).values()) == ["failed"]
    assert half_written(cli.db_path) == []
