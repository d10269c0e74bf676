"""kill -9 of the desktop app while its job queue runs an analysis, at seeded random points: nothing half-written
survives, the killed analysis is marked interrupted (by the service and by the app's own next start) and resumes.

The app runs in a subprocess (tests/reliability/gui_driver.py): the real composition root, MainWindow, EvidencePage
and JobQueue offscreen, the analysis started by selecting the evidence row and clicking Analyse. The driver prints a
line at each event the worker's job delivers to the GUI; the test SIGKILLs it after a seeded random number of them.
"""
from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import resume_analysis
from dfdesk.services.recovery import mark_interrupted
from dfdesk.store.database import Database
from tests.fixtures.clips import make_face_clip
from tests.reliability import gui_driver
from tests.reliability.conftest import audit_problems, half_written, integrity, statuses

ROUNDS = 6
SEED = 20260111
EVEN_ZONES = ("start", "save", "compute")
DRIVER = Path(gui_driver.__file__)
HANG_GUARD_S = 240  # a driver that prints nothing for this long is reported as hung (not a timing assertion)


class Driver:
    """One run of the app; its marker lines are read on a thread so a hung app fails the test instead of blocking."""

    def __init__(self, tmp_path: Path, label: str, *args: str):
        self.stderr_path = tmp_path / f"driver-{label}.stderr"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
               "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1"}
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen([sys.executable, str(DRIVER), *args], stdout=subprocess.PIPE,
                                            stderr=stderr, text=True, env=env, cwd=tmp_path)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next_line(self) -> str | None:
        """The next marker, or None once the app's stdout closed (it exited or was killed)."""
        try:
            line = self._queue.get(timeout=HANG_GUARD_S)
        except queue.Empty:
            self.kill()
            pytest.fail(f"the app printed nothing for {HANG_GUARD_S} s after {self.lines}: {self.stderr()}")
        if line is not None:
            self.lines.append(line)
            if line.startswith("driver-error"):
                pytest.fail(f"the driver could not work the GUI: {line}\n{self.stderr()}")
        return line

    def wait_for(self, prefix: str) -> str:
        while (line := self.next_line()) is not None:
            if line.startswith(prefix):
                return line
        pytest.fail(f"the app ended before {prefix!r}: {self.lines}, rc={self.process.wait()}\n{self.stderr()}")

    def kill(self) -> bool:
        """SIGKILL; False when the app had already exited by itself."""
        if self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)
        return self.process.returncode == -signal.SIGKILL

    def finish(self) -> int:
        while self.next_line() is not None:
            pass
        return self.process.wait(timeout=120)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]


def _is_worker_marker(line: str) -> bool:
    return line.startswith(("progress ", "event "))


def _max_analysis_id(db_path: Path) -> int:
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute("SELECT coalesce(max(id), 0) FROM analyses").fetchone()[0]
    finally:
        connection.close()


def _resume(db_path: Path, analysis_id: int) -> None:
    db = Database(db_path)
    try:
        assert run_to_end(resume_analysis(db, analysis_id, "resumer")) == analysis_id
    finally:
        db.close()
    assert statuses(db_path)[analysis_id] == "done"


def _consistent(db_path: Path, context) -> None:
    assert integrity(db_path) == "ok", context
    assert half_written(db_path) == [], context
    assert audit_problems(db_path) == [], context


@pytest.fixture
def launch(tmp_path: Path):
    """Starts drivers; any still running when the test ends (a failed assertion) is killed, never left behind."""
    started: list[Driver] = []

    def start(label: str, *args: str) -> Driver:
        started.append(Driver(tmp_path, label, *args))
        return started[-1]

    yield start
    for driver in started:
        driver.kill()


@pytest.mark.slow
def test_killing_the_gui_worker_leaves_a_consistent_database_and_the_app_recovers(tmp_path: Path, launch) -> None:
    rng = random.Random(SEED)
    db_path = Path(os.environ["DFDESK_DATA_DIR"]) / "cases.sqlite"  # the app's own default database
    assert tmp_path in db_path.parents
    clip = make_face_clip(tmp_path / "evidence clip.mp4")

    # an undisturbed run: the Analyse button's job finishes `done`, and tells which markers the worker sends
    first = launch("undisturbed", "analyse", str(clip))
    analysis_id = int(first.wait_for("done ").split()[1])
    assert first.finish() == 0, first.stderr()
    assert statuses(db_path) == {analysis_id: "done"}
    assert (tmp_path / "config" / "dfdesk" / "dfdesk.conf").exists(), "the app's settings stayed in tmp_path"
    _consistent(db_path, first.lines)
    markers = [line for line in first.lines if _is_worker_marker(line)]
    assert len(markers) >= 4, first.lines

    log, left_for_startup, to_resume = [], [], []
    for round_number in range(ROUNDS):
        gui_recovers = round_number % 2 == 1  # odd rounds leave their orphan for the app's next start
        # how many worker markers to let through before the kill, drawn within a zone: odd rounds kill while
        # the analysis row is `running` (an orphan for the app's next start); even rounds take turns at the start
        # of the job (before or just after the row exists), the middle, and the save (or just after it)
        zone = "compute" if gui_recovers else EVEN_ZONES[(round_number // 2) % len(EVEN_ZONES)]
        low, high = {"start": (0, 1), "compute": (2, len(markers) - 2),
                     "save": (len(markers) - 1, len(markers))}[zone]
        after, delay = rng.randint(low, high), rng.uniform(0, 0.05)
        before = _max_analysis_id(db_path)
        driver = launch(f"round-{round_number}", "analyse", str(clip))
        driver.wait_for("ready")
        # the app's startup marked what the previous (killed) app left running
        now = statuses(db_path)
        assert all(now[i] == "interrupted" for i in left_for_startup), (left_for_startup, now)
        to_resume += left_for_startup
        left_for_startup = []
        driver.wait_for("started")
        seen = 0
        while seen < after and (line := driver.next_line()) is not None:
            seen += _is_worker_marker(line)
        time.sleep(delay)
        killed = driver.kill()
        new = {i: s for i, s in statuses(db_path).items() if i > before}
        log.append((round_number, zone, after, round(delay, 3), killed, new, driver.lines[-1]))
        _consistent(db_path, log[-1])
        assert set(new.values()) <= {"running", "done"}, log[-1]  # a kill is neither a failure nor a cancel
        orphans = [i for i, s in new.items() if s == "running"]
        assert len(orphans) <= 1, log[-1]
        if gui_recovers:
            left_for_startup = orphans
        else:  # the recovery service, called directly, finds exactly the killed analysis
            db = Database(db_path)
            try:
                assert mark_interrupted(db) == orphans, log[-1]
            finally:
                db.close()
            assert all(statuses(db_path)[i] == "interrupted" for i in orphans)
            to_resume += orphans
        for orphan in to_resume:  # a resumed analysis finishes in place, complete
            _resume(db_path, orphan)
        to_resume = []
        _consistent(db_path, log[-1])

    # the app's start-up alone (no analysis) recovers the last round's orphan and quits cleanly
    last = launch("startup", "startup")
    last.wait_for("ready")
    assert last.finish() == 0, last.stderr()
    now = statuses(db_path)
    assert all(now[i] == "interrupted" for i in left_for_startup), (left_for_startup, now)
    for orphan in left_for_startup:
        _resume(db_path, orphan)

    print("kill log (round, zone, after markers, delay s, killed, new analyses, last line):", *log, sep="\n  ")
    recovered_by_app = [entry for entry in log if entry[0] % 2 == 1 and "running" in entry[5].values()]
    assert sum(1 for entry in log if entry[4]) >= ROUNDS // 2, f"too few kills landed: {log}"
    assert sum(1 for entry in log if "running" in entry[5].values()) >= ROUNDS // 2, f"too few orphans: {log}"
    assert recovered_by_app, f"no kill left an orphan for the app's start-up to recover: {log}"
    assert set(statuses(db_path).values()) == {"done"}
    _consistent(db_path, "at the end")
