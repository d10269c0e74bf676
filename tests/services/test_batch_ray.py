"""Batch triage on a real local Ray cluster of two CPUs, started by the tests (skipped when Ray is not installed)."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import run_analysis
from dfdesk.services.batch import ANALYSED, REFUSED, BatchOptions, VideoSettled, run_batch
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database
from tests.fixtures import hostile
from tests.services.batch_support import MESO, face_clips, healthy, local_ray_cluster, rows_per_file

TASK_TITLE = b"ray::_analyse_on_node"  # Ray names a worker process after the task it is running


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    with local_ray_cluster(tmp_path_factory) as address:
        yield address


def _batch(db: Database, folder: Path) -> tuple[object, dict[str, VideoSettled]]:
    settled: dict[str, VideoSettled] = {}

    def keep(event) -> None:
        if isinstance(event, VideoSettled):
            settled[Path(event.path).name] = event

    summary = run_to_end(run_batch(db, BatchOptions("Cluster", (str(folder),), ray="auto", request=MESO), "alice"),
                         keep)
    return summary, settled


def test_a_ray_batch_gives_the_sequential_results_and_records_each_node(ray_cluster: str, db: Database,
                                                                        tmp_path: Path) -> None:
    folder = tmp_path / "shared-storage"
    clips = face_clips(folder, 3)
    hostile.random_bytes(folder)
    summary, settled = _batch(db, folder)
    assert summary.executor.startswith("Ray cluster") and summary.analysed == 3
    assert settled["random.mp4"].status == REFUSED and "not a readable video" in settled["random.mp4"].detail
    for clip in clips:
        intake = ingest_video(db, "Sequential", clip, "alice")
        sequential = run_to_end(run_analysis(db, intake.evidence_id, MESO, "alice"))
        with db.unit_of_work() as session:
            one, ray = load_analysis(session, sequential), load_analysis(session, settled[clip.name].analysis_id)
        assert settled[clip.name].status == ANALYSED
        assert ray.verdict.label == one.verdict.label
        assert ray.verdict.fake_probability == pytest.approx(one.verdict.fake_probability, abs=1e-6)
        worker = ray.settings["worker"]
        assert worker["mode"] == "ray" and worker["node_id"] and worker["host"] and worker["pid"] != os.getpid()
    healthy(db.path)


def _descendants(root: int) -> set[int]:
    """Processes started, directly or not, by ``root`` (the Ray cluster this test started is among them)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _task_processes() -> list[int]:
    """This test's Ray workers now running a batch task (never another cluster's on the same machine)."""
    found = []
    for pid in _descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if handle.read().startswith(TASK_TITLE):
                    found.append(pid)
        except OSError:
            continue
    return found


def _kill_first_task_worker(killed: list[int], stop: threading.Event) -> None:
    while not stop.is_set() and not killed:
        for pid in _task_processes():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.05)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds Ray's worker processes through /proc (Linux)")
def test_killing_a_ray_worker_mid_batch_loses_nothing(ray_cluster: str, db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "shared-storage"
    clips = face_clips(folder, 4)
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_task_worker, args=(killed, stop))
    killer.start()
    try:
        summary, settled = _batch(db, folder)
    finally:
        stop.set()
        killer.join()
    assert killed, "no Ray worker was found running a task"
    assert (summary.analysed, summary.refused) == (4, [])
    assert rows_per_file(db.path) == {c.name: (1, 1) for c in clips}
    with db.unit_of_work() as session:
        pids = {load_analysis(session, s.analysis_id).settings["worker"]["pid"] for s in settled.values()}
    assert killed[0] not in pids  # its video was computed again by another worker
    healthy(db.path)
