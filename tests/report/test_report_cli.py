"""`dfdesk report ANALYSIS_ID --out FILE.pdf` through its own sub-command module."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dfdesk.cli import report_command
from dfdesk.cli.common import CliError
from tests.report.conftest import Saved


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dfdesk")
    report_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_report_command_writes_the_pdf(saved: Saved, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r.pdf"
    code = run(["report", str(saved.analysis_id), "--out", str(out), "--db", str(tmp_path / "cases.sqlite")])
    assert code == 0
    assert out.read_bytes().startswith(b"%PDF") and (tmp_path / "r.pdf.sha256").is_file()
    assert str(out) in capsys.readouterr().out


def test_report_command_exits_1_when_the_evidence_changed(saved: Saved, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    saved.clip.write_bytes(b"not the evidence any more")
    code = run(["report", str(saved.analysis_id), "--out", str(tmp_path / "r.pdf"), "--db",
                str(tmp_path / "cases.sqlite")])
    assert code == 1 and (tmp_path / "r.pdf").is_file()
    assert "failed its SHA-256 check" in capsys.readouterr().err


def test_report_command_refuses_an_unknown_analysis(saved: Saved, tmp_path: Path) -> None:
    with pytest.raises(CliError, match="no analysis with id 42") as error:
        run(["report", "42", "--out", str(tmp_path / "r.pdf"), "--db", str(tmp_path / "cases.sqlite")])
    assert error.value.code == 2


def test_report_command_refuses_an_existing_file_without_force(saved: Saved, tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    out.write_bytes(b"an earlier report")
    with pytest.raises(CliError, match="already exists") as refused:
        run(["report", str(saved.analysis_id), "--out", str(out), "--db", str(tmp_path / "cases.sqlite")])
    assert refused.value.code == 2 and out.read_bytes() == b"an earlier report"
    assert run(["report", str(saved.analysis_id), "--out", str(out), "--force", "--db",
                str(tmp_path / "cases.sqlite")]) == 0
    assert out.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("analysis_id", ["0", "-1", "99999999999999999999", "١", "x"])
def test_report_command_refuses_what_is_not_an_analysis_id(saved: Saved, tmp_path: Path, analysis_id: str) -> None:
    with pytest.raises(CliError, match="is not an analysis id") as refused:
        run(["report", analysis_id, "--out", str(tmp_path / "r.pdf"), "--db", str(tmp_path / "cases.sqlite")])
    assert refused.value.code == 2
