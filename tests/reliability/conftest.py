"""Shared helpers of the reliability tests: the real CLI run in-process (cheap) and database checks."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from dfdesk.cli.main import run_cli
from tests.cli.conftest import dfdesk, dump, integrity  # noqa: F401  (the subprocess `dfdesk` fixture)

ANALYZE = ("--models", "meso4_df", "--frames", "4", "--device", "cpu")
TABLES = ("cases", "evidence", "analyses", "face_tracks", "frame_scores", "artifacts", "notes", "reports",
          "audit_events", "profiles")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture):
    """The real command line (argument parsing, services, exit codes) called in this process.

    Any exception escaping ``run_cli`` fails the test: the contract is an exit code and one stderr line.
    """
    db_path = tmp_path / "cases.sqlite"

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = run_cli([*args, "--db", str(db_path)])
        out = capsys.readouterr()
        return Run(code, out.out, out.err)

    run.db_path = db_path
    return run


def counts(db_path: Path) -> dict[str, int]:
    connection = sqlite3.connect(db_path)
    try:
        return {t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        connection.close()


def statuses(db_path: Path) -> dict[int, str]:
    connection = sqlite3.connect(db_path)
    try:
        return dict(connection.execute("SELECT id, status FROM analyses"))
    finally:
        connection.close()


def audit_problems(db_path: Path) -> list:
    from dfdesk.services import audit
    from dfdesk.store.database import Database

    db = Database(db_path)
    try:
        with db.unit_of_work() as session:
            return audit.verify(session)
    finally:
        db.close()


def half_written(db_path: Path) -> list[str]:
    """Analyses whose result rows contradict their status: done without scores, or scores without done."""
    connection = sqlite3.connect(db_path)
    problems = []
    try:
        rows = connection.execute("SELECT id, status, verdict, summary FROM analyses").fetchall()
        for analysis_id, status, verdict, summary in rows:
            n = {t: connection.execute(f"SELECT count(*) FROM {t} WHERE analysis_id = ?", (analysis_id,)).fetchone()[0]
                 for t in ("frame_scores", "face_tracks", "artifacts")}
            done_events = connection.execute(
                "SELECT count(*) FROM audit_events WHERE action = 'analysis.done' AND "
                "json_extract(details, '$.analysis_id') = ?", (analysis_id,)).fetchone()[0]
            if status == "done":
                faces = json.loads(summary or "{}").get("frames_with_face", 0)
                if verdict is None or done_events != 1 or (faces and (n["frame_scores"] == 0 or n["face_tracks"] == 0)):
                    problems.append(f"analysis {analysis_id} done but incomplete: {verdict=}, {n}, {done_events=}")
            elif any(n.values()) or done_events:
                problems.append(f"analysis {analysis_id} is {status} but has result rows {n} / {done_events=}")
    finally:
        connection.close()
    return problems
