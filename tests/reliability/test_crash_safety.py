"""kill -9 of the analysis command line at seeded random points, 20 times: nothing half-written survives."""
from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import resume_analysis
from dfdesk.services.recovery import mark_interrupted
from dfdesk.store.database import Database
from tests.fixtures import hostile
from tests.reliability.conftest import ANALYZE, audit_problems, half_written, integrity, statuses

ROUNDS = 20
SEED = 20260110


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dfdesk", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def _analysis_running(db_path: Path) -> bool:
    if not db_path.exists():
        return False
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute("SELECT count(*) FROM analyses WHERE status = 'running'").fetchone()[0] > 0
    except sqlite3.OperationalError:  # schema not created yet
        return False
    finally:
        connection.close()


def _kill_after(process: subprocess.Popen, delay: float, wait_for=None) -> bool:
    """SIGKILL ``delay`` s after ``wait_for()`` holds (or at once); False when it had already finished."""
    deadline = time.monotonic() + 120
    while wait_for is not None and not wait_for() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    return True


def _report_is_whole_or_absent(pdf: Path) -> list[str]:
    """Temporary ``.part`` files may stay behind a kill; a file under the final name is always whole."""
    if pdf.exists():
        sidecar = pdf.with_name(pdf.name + ".sha256")
        data = pdf.read_bytes()
        assert data.rstrip().endswith(b"%%EOF"), "a PDF under its final name is complete"
        assert sidecar.read_text().split()[0] == hashlib.sha256(data).hexdigest()
    leftovers = [p.name for p in pdf.parent.iterdir() if p.name.startswith(".") and p.name.endswith(".part")]
    return leftovers


@pytest.mark.slow
def test_twenty_kills_leave_a_consistent_database_and_every_analysis_resumes(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db_path = tmp_path / "cases.sqlite"
    clip = hostile.h264(tmp_path, "evidence.mp4", n=8)
    common = ("--db", str(db_path))
    # one undisturbed run: a finished analysis to report on, and the time a whole run takes here
    started = time.monotonic()
    first = _start("analyze", str(clip), *ANALYZE, *common)
    assert first.wait(timeout=600) == 0, first.stderr.read()
    whole = time.monotonic() - started
    reports = tmp_path / "reports"
    reports.mkdir()
    log = []
    for round_number in range(ROUNDS):
        kind = "report" if round_number % 4 == 3 else "analyze"
        if kind == "report":
            pdf = reports / f"report-{round_number}.pdf"
            process = _start("report", "1", "--out", str(pdf), *common)
            killed = _kill_after(process, rng.uniform(0.3, 0.9) * whole)
            leftovers = _report_is_whole_or_absent(pdf)
            log.append((round_number, kind, killed, pdf.exists(), len(leftovers)))
        else:
            anchored = rng.random() < 0.6  # most kills wait for the analysis row, the rest hit start-up/intake
            process = _start("analyze", str(clip), *ANALYZE, *common)
            delay = rng.uniform(0, 0.3) * whole if anchored else rng.uniform(0.1, 0.8) * whole
            killed = _kill_after(process, delay, (lambda: _analysis_running(db_path)) if anchored else None)
            log.append((round_number, kind, killed, dict(statuses(db_path))))
        assert integrity(db_path) == "ok", log[-1]
        assert half_written(db_path) == [], log[-1]
        assert audit_problems(db_path) == [], log[-1]
    assert sum(1 for entry in log if entry[2]) >= ROUNDS // 2, f"too few kills landed: {log}"
    # `dfdesk analyze` marks what dead processes left running before it starts its own analysis
    orphans = [i for i, s in statuses(db_path).items() if s == "running"]
    last = _start("analyze", str(clip), *ANALYZE, *common)
    assert last.wait(timeout=600) == 0, last.stderr.read()
    now = statuses(db_path)
    assert all(now[i] == "interrupted" for i in orphans) and "running" not in now.values()
    # every interrupted analysis resumes to a complete result
    db = Database(db_path)
    try:
        assert mark_interrupted(db) == []
        interrupted = [i for i, s in now.items() if s == "interrupted"]
        for analysis_id in interrupted:  # resumed in place with the settings it was started with
            assert run_to_end(resume_analysis(db, analysis_id, "resumer")) == analysis_id
    finally:
        db.close()
    assert set(statuses(db_path).values()) <= {"done"}
    assert half_written(db_path) == [] and integrity(db_path) == "ok" and audit_problems(db_path) == []
    print("kill log:", *log, sep="\n  ")
