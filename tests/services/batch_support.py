"""What the batch tests share: distinct generated face clips, a small real Ray cluster, and database checks."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dfdesk import paths
from dfdesk.services.analysis import AnalysisRequest
from tests.fixtures import clips
from tests.reliability.conftest import audit_problems, half_written, integrity

MESO = AnalysisRequest(models=("meso4_df",))  # one small model: the mechanics tests need no ensemble


def face_clips(folder: Path, count: int, first_frames: int = 8) -> list[Path]:
    """``count`` short face clips with different bytes (one more frame each)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [clips.make_face_clip(folder / f"clip_{i:02d}.mp4", n_frames=first_frames + i) for i in range(count)]


def healthy(db_path: Path) -> None:
    assert integrity(db_path) == "ok"
    assert audit_problems(db_path) == []
    assert half_written(db_path) == []


def rows_per_file(db_path: Path) -> dict[str, tuple[int, int]]:
    """file name -> (evidence rows, done analyses): (1, 1) for every file means no duplicate."""
    connection = sqlite3.connect(db_path)
    try:
        rows = connection.execute(
            "SELECT e.file_name, count(DISTINCT e.id), count(a.id) FROM evidence e "
            "LEFT JOIN analyses a ON a.evidence_id = e.id AND a.status = 'done' GROUP BY e.file_name").fetchall()
    finally:
        connection.close()
    return {name: (evidence, analyses) for name, evidence, analyses in rows}


@contextmanager
def local_ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Ray cluster of two CPUs (its workers get their own data folder), shut down at the end.  Yields its
    address, which other processes can join.  Skips the test when Ray is not installed."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'dfdesk[cluster]')")
    saved = os.environ.get(paths.DATA_DIR_ENV)
    os.environ[paths.DATA_DIR_ENV] = str(tmp_path_factory.mktemp("ray-node-data"))
    try:
        context = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
                           log_to_driver=False, logging_level="error")
    finally:
        if saved is None:
            os.environ.pop(paths.DATA_DIR_ENV, None)
        else:
            os.environ[paths.DATA_DIR_ENV] = saved
    try:
        yield context.address_info["gcs_address"]
    finally:
        ray.shutdown()
