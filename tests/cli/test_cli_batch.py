"""`dfdesk batch` through the real command line in a subprocess: the triage table, its exports, bad input,
kill -9 of the driver followed by a re-run, and joining a Ray cluster by its address."""
from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures import hostile
from tests.services.batch_support import face_clips, healthy, local_ray_cluster, rows_per_file


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    with local_ray_cluster(tmp_path_factory) as address:
        yield address

def _human_text_is_careful(text: str) -> None:
    assert not re.search(r"\b(real|authentic)\b", text, re.IGNORECASE), text


def test_batch_prints_a_triage_table_lists_refusals_and_exports_it(dfdesk, tmp_path: Path) -> None:
    folder = tmp_path / "tip line"
    clips = face_clips(folder, 2)
    hostile.zero_byte(folder)
    out_csv, out_json = tmp_path / "triage.csv", tmp_path / "triage.json"
    result = dfdesk("batch", str(folder), "--case", "Tips", "--csv", str(out_csv), "--json", str(out_json),
                    timeout=900)
    assert result.code == 0, result.stderr
    assert f"refused: {folder / 'empty.mp4'}: the file is empty" in result.stdout
    assert "2 analysed, 0 skipped (already done), 1 refused" in result.stdout
    _human_text_is_careful(result.stdout)
    table = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert sorted(row["file"] for row in table) == sorted(c.name for c in clips)
    assert [row["rank"] for row in table] == ["1", "2"]
    probabilities = [float(row["fake_probability"]) for row in table]
    assert probabilities == sorted(probabilities, reverse=True)  # no fitted LR here: strongest P(fake) first
    for row in table:
        assert len(row["sha256"]) == 64 and float(row["duration_s"]) > 0 and int(row["faces"]) >= 1
        assert row["strongest_detector"] and row["peak_frame"] != ""
        _human_text_is_careful(row["verdict_text"])
    document = json.loads(out_json.read_text(encoding="utf-8"))
    assert document["case"] == "Tips" and [r["file"] for r in document["rows"]] == [r["file"] for r in table]
    assert all(r["verdict"] in ("fake", "real", "inconclusive", "no_face") for r in document["rows"])
    assert document["refused"] == [{"path": str(folder / "empty.mp4"), "reason": "the file is empty (0 bytes)"}]
    healthy(dfdesk.db_path)


@pytest.mark.parametrize(("arguments", "words"), [
    (("/nonexistent/folder",), "no such file or folder: /nonexistent/folder"),
    (("--workers", "0", "."), "'0' is not a number of workers (a whole number from 1 to 256)"),
    ((), "no case named 'Tips'"),
    (("--ray", "127.0.0.1:1", "."), "Ray"),  # nothing listens there (or Ray is not installed): one line at once
    (("--ray", "nonsense", "."), "Ray"),
])
def test_bad_batch_input_ends_with_one_line_and_exit_2_and_writes_nothing(dfdesk, arguments: tuple,
                                                                         words: str) -> None:
    result = dfdesk("batch", *arguments, "--case", "Tips")
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dfdesk: error: ") and words in lines[0], result.stderr
    if not dfdesk.db_path.exists():  # refused while parsing, before the database was opened
        return
    connection = sqlite3.connect(dfdesk.db_path)
    try:
        assert connection.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
    finally:
        connection.close()


def _done_analyses(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute("SELECT count(*) FROM analyses WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        connection.close()


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dfdesk", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                            start_new_session=True)


def _kill_driver(process: subprocess.Popen) -> None:
    """SIGKILL the driver alone (as a crash would); its orphaned workers are then ended too."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the session holds only this driver's own worker processes
    except ProcessLookupError:
        pass


def test_kill_9_of_the_driver_then_a_rerun_finishes_without_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "camera roll"
    clips = face_clips(folder, 3)
    db_path = tmp_path / "cases.sqlite"
    command = ("batch", str(folder), "--case", "Phone", "--db", str(db_path))
    early = _start(*command)  # killed during start-up, before any result
    time.sleep(1.0)
    _kill_driver(early)
    mid = _start(*command)  # killed right after its first video is saved
    deadline = time.monotonic() + 600
    while _done_analyses(db_path) < 1 and mid.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mid.poll() is None, mid.stderr.read()
    _kill_driver(mid)
    finished_before = _done_analyses(db_path)
    assert 1 <= finished_before < len(clips)
    final = subprocess.run([sys.executable, "-m", "dfdesk", *command], capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stderr
    assert f"{len(clips) - finished_before} analysed, {finished_before} skipped" in final.stdout
    assert rows_per_file(db_path) == {c.name: (1, 1) for c in clips}
    healthy(db_path)


def test_batch_joins_a_running_ray_cluster_by_its_address(dfdesk, ray_cluster: str, tmp_path: Path) -> None:
    folder = tmp_path / "shared storage"
    clips = face_clips(folder, 2)
    out_json = tmp_path / "triage.json"
    result = dfdesk("batch", str(folder), "--case", "Cluster", "--ray", ray_cluster, "--json", str(out_json),
                    timeout=900)
    assert result.code == 0, result.stderr
    assert "Ray cluster: 1 node(s), 2 CPU(s)" in result.stdout and "2 analysed" in result.stdout
    rows = json.loads(out_json.read_text(encoding="utf-8"))["rows"]
    assert sorted(r["file"] for r in rows) == sorted(c.name for c in clips) and all(r["computed_on"] for r in rows)
    healthy(dfdesk.db_path)
