"""Batch triage on this machine: real worker processes, real decoding, real MTCNN, the shipped models."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.batch import ANALYSED, REFUSED, SKIPPED, BatchCancelled, BatchOptions, VideoSettled, run_batch
from dfdesk.services.batch_local import LocalExecutor
from dfdesk.services.batch_work import BatchItem
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database
from dfdesk.store.tables import AuditEvent, Evidence
from tests.fixtures import hostile
from tests.services.batch_support import MESO, face_clips, healthy, rows_per_file

HOSTILE = {  # generator, words its one-line reason must hold
    "empty.mp4": (hostile.zero_byte, "empty"),
    "truncated_30.mp4": (lambda folder, base: hostile.truncated(folder, base, 0.30), "not a readable video"),
    "random.mp4": (hostile.random_bytes, "not a readable video"),
    "audio_only.m4a": (hostile.audio_only, "audio only"),
    "huge_16000.y4m": (hostile.huge_dimensions_y4m, "too large"),
}


def _batch(db: Database, **options) -> tuple[object, list[VideoSettled]]:
    settled: list[VideoSettled] = []
    summary = run_to_end(run_batch(db, BatchOptions(**{"case": "Batch", **options}), "alice"),
                         lambda e: settled.append(e) if isinstance(e, VideoSettled) else None)
    return summary, settled


def _by_name(settled: list[VideoSettled]) -> dict[str, VideoSettled]:
    return {Path(s.path).name: s for s in settled}


def test_a_batch_result_is_the_result_of_dfdesk_analyze(db: Database, tmp_path: Path) -> None:
    """The default ensemble and settings, through a face worker handing over to the inference process (the
    layout used on a GPU), give what one analysis gives."""
    clip = face_clips(tmp_path / "videos", 1)[0]
    summary, settled = _batch(db, inputs=(str(clip.parent),), split=True)
    assert summary.executor == "1 face worker(s) and 1 inference process on this machine"
    assert summary.analysed == 1 and settled[0].status == ANALYSED
    intake = ingest_video(db, "Single", clip, "alice")
    single = run_to_end(run_analysis(db, intake.evidence_id, AnalysisRequest(), "alice"))
    with db.unit_of_work() as session:
        batch, one = load_analysis(session, settled[0].analysis_id), load_analysis(session, single)
    assert batch.verdict.label == one.verdict.label
    assert batch.verdict.fake_probability == pytest.approx(one.verdict.fake_probability, abs=1e-6)
    assert {d.name: d.fake_probability for d in batch.detectors} == pytest.approx(
        {d.name: d.fake_probability for d in one.detectors}, abs=1e-6)
    assert batch.settings["worker"]["mode"] == "local" and batch.settings["worker"]["pid"] != os.getpid()
    assert batch.heatmaps and all(Path(h.path).is_file() and f"analysis-{batch.id:05d}" in h.path
                                  for h in batch.heatmaps)
    healthy(db.path)


def test_hostile_files_are_listed_with_their_reason_and_the_videos_analysed(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "seized"
    good = face_clips(folder, 1)[0]
    base = hostile.h264(tmp_path, "base.mp4", n=30)
    for name, (generator, _words) in HOSTILE.items():
        try:
            made = generator(folder, base)
        except TypeError:
            made = generator(folder)
        assert made.name == name
    summary, settled = _batch(db, inputs=(str(folder),), request=MESO)
    by_name = _by_name(settled)
    assert by_name[good.name].status == ANALYSED
    for name, (_generator, words) in HOSTILE.items():
        assert by_name[name].status == REFUSED and words in by_name[name].detail, by_name[name]
        assert "\n" not in by_name[name].detail and str(folder) not in by_name[name].detail
    assert len(summary.refused) == len(HOSTILE) and summary.analysed == 1
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Evidence)) == 1  # nothing recorded for refusals
    healthy(db.path)


def test_a_rerun_skips_what_is_done_and_copies_are_analysed_once(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    first, second = face_clips(folder, 2)
    (folder / "copy_of_first.mp4").write_bytes(first.read_bytes())
    summary, settled = _batch(db, inputs=(str(folder),), request=MESO)
    statuses = {name: s.status for name, s in _by_name(settled).items()}
    assert sorted(statuses.values()) == [ANALYSED, ANALYSED, SKIPPED]  # one of the two identical files
    assert rows_per_file(db.path) == {first.name: (1, 1), second.name: (1, 1)} or \
        rows_per_file(db.path) == {"copy_of_first.mp4": (1, 1), second.name: (1, 1)}
    again, settled = _batch(db, inputs=(str(folder),), request=MESO)
    assert (again.analysed, again.skipped, again.refused) == (0, 3, [])
    assert {s.status for s in settled} == {SKIPPED}
    assert len(rows_per_file(db.path)) == 2
    healthy(db.path)


def test_a_case_batch_verifies_each_file_against_its_intake_hash(db: Database, tmp_path: Path) -> None:
    kept, changed = face_clips(tmp_path / "evidence", 2)
    for clip in (kept, changed):
        ingest_video(db, "Intake", clip, "alice")
    changed.write_bytes(changed.read_bytes() + b"appended after intake")
    summary, settled = _batch(db, case="Intake", request=MESO)  # no paths: the case's own evidence
    by_name = _by_name(settled)
    assert by_name[kept.name].status == ANALYSED
    assert by_name[changed.name].status == REFUSED and "changed since intake" in by_name[changed.name].detail
    with db.unit_of_work() as session:
        actions = list(session.scalars(select(AuditEvent.action)))
    assert "evidence.hash_mismatch" in actions
    again, _ = _batch(db, case="Intake", request=MESO)
    assert again.total == 1 and len(again.refused) == 1  # the analysed one is not even looked at again
    healthy(db.path)


def test_results_start_before_the_folder_is_read_through(tmp_path: Path) -> None:
    """10,000 files: the first result arrives after the executor has taken only a handful of them."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(10_000):
        (folder / f"file_{i:05d}.bin").write_bytes(b"not a video")
    taken = []

    def items():
        for path in sorted(folder.iterdir()):
            taken.append(path)
            yield BatchItem(str(path))

    executor = LocalExecutor(1, MESO, None)
    try:
        first = next(executor.results(items()))
    finally:
        executor.close()
    assert first.reason.startswith("not a readable video")
    assert len(taken) <= 2  # the one being probed by the single worker, and perhaps the next


def test_a_killed_worker_process_loses_no_video(db: Database, tmp_path: Path) -> None:
    import multiprocessing

    clips = face_clips(tmp_path / "videos", 3)
    killed = []

    def kill_a_worker(event) -> None:
        if not killed and multiprocessing.active_children():
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    summary = run_to_end(run_batch(db, BatchOptions("Batch", (str(clips[0].parent),), request=MESO), "alice"),
                         kill_a_worker)
    assert killed
    assert (summary.analysed, summary.refused) == (3, [])
    assert rows_per_file(db.path) == {c.name: (1, 1) for c in clips}
    healthy(db.path)


def test_cancel_stops_the_batch_and_keeps_what_finished(db: Database, tmp_path: Path) -> None:
    clips = face_clips(tmp_path / "videos", 3)
    finished: list[VideoSettled] = []

    def cancel() -> bool:
        return bool(finished)

    steps = run_batch(db, BatchOptions("Batch", (str(clips[0].parent),), request=MESO), "alice", cancel)
    with pytest.raises(BatchCancelled):
        run_to_end(steps, lambda e: finished.append(e) if isinstance(e, VideoSettled) else None)
    saved = rows_per_file(db.path)
    assert len(saved) == len([f for f in finished if f.status == ANALYSED]) >= 1
    healthy(db.path)
    rest, _ = _batch(db, inputs=(str(clips[0].parent),), request=MESO)
    assert rest.analysed == 3 - len(saved) and rest.skipped == len(saved)
    assert rows_per_file(db.path) == {c.name: (1, 1) for c in clips}
