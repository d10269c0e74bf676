from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def dfdesk(tmp_path: Path):
    """Runs the real `dfdesk` command line in a subprocess against a database in tmp_path."""
    db_path = tmp_path / "cli.sqlite"

    def run(*args: str, db: Path | None = db_path, user: str | None = None, timeout: float = 300) -> Result:
        command = [sys.executable, "-m", "dfdesk", *args]
        if db is not None:
            command += ["--db", str(db)]
        env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, user=user,
                              cwd=tmp_path)
        return Result(done.returncode, done.stdout, done.stderr)

    run.db_path = db_path
    return run


def dump(db_path: Path) -> list[str]:
    """Every row of every table, as SQL: two equal dumps mean an unchanged database."""
    connection = sqlite3.connect(db_path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def integrity(db_path: Path) -> str:
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()
