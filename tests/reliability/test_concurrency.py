"""Two app instances on one case database: two CLI processes ingesting and analysing at once, while this
process writes through a second Database object."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dfdesk.services import cases
from dfdesk.store.database import Database
from tests.fixtures import hostile
from tests.reliability.conftest import ANALYZE, audit_problems, counts, half_written, integrity, statuses


@pytest.mark.slow
def test_two_processes_analysing_at_once_keep_the_database_whole(tmp_path: Path) -> None:
    db_path = tmp_path / "cases.sqlite"
    Database(db_path).close()
    clips = [hostile.h264(tmp_path, f"clip_{i}.mp4", n=8 + i) for i in range(2)]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    processes = [subprocess.Popen([sys.executable, "-m", "dfdesk", "analyze", str(clip), *ANALYZE, "--case",
                                   f"Case {i}", "--db", str(db_path)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i, clip in enumerate(clips)]
    db = Database(db_path)  # a third writer, in this process, while both run
    try:
        written = 0
        while any(p.poll() is None for p in processes):
            with db.unit_of_work() as session:
                cases.create_case(session, f"Side case {written}", "third-writer")
            written += 1
    finally:
        db.close()
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    assert integrity(db_path) == "ok" and audit_problems(db_path) == [] and half_written(db_path) == []
    assert sorted(statuses(db_path).values()) == ["done", "done"]
    assert counts(db_path)["evidence"] == 2 and counts(db_path)["cases"] == written + 2
