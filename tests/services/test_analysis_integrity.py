"""The analysed bytes are the hashed bytes (issue 21, point 6): a file swapped after the hash check is not what is
decoded, a file written to while it is decoded fails the analysis naming both hashes, and the crop cache never
serves faces cut from other bytes.  Real clips, real PyAV, real MTCNN and the shipped MesoNet models."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from dfdesk import paths
from dfdesk.core import pipeline
from dfdesk.core.probe import sha256_file
from dfdesk.core.steps import run_to_end
from dfdesk.services import analysis
from dfdesk.services.analysis import AnalysisError, AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis
from tests.fixtures import clips

MESO = ("meso4_df", "meso4_f2f")
FRAMES = 6


@pytest.fixture
def evidence(tmp_path: Path, clip_dir: Path) -> Path:
    """A copy of the face clip to ingest (the tests change the file at its path)."""
    return Path(shutil.copy(clip_dir / "face.mp4", tmp_path / "evidence.mp4"))


@pytest.fixture
def faceless(tmp_path: Path) -> Path:
    """Another video of the same size and length, without a face: what an attacker swaps in."""
    return clips.make_noface_clip(tmp_path / "swap.mp4", n_frames=20)


def analyse(db: Database, evidence_id: int) -> int:
    return run_to_end(run_analysis(db, evidence_id, AnalysisRequest(models=MESO, frames=FRAMES), "alice"))


def faces_found(db: Database, analysis_id: int) -> tuple[str, int, int]:
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
        return view.verdict.label, view.frames_with_face, view.frames_sampled


def swap_after_the_hash_check(monkeypatch: pytest.MonkeyPatch, swap) -> None:
    """Run ``swap`` at the seam between the evidence hash check and the decode (planning the analysis)."""
    planned = analysis.plan_analysis

    def swap_then_plan(*args, **kwargs):
        swap()
        return planned(*args, **kwargs)

    monkeypatch.setattr(analysis, "plan_analysis", swap_then_plan)


def test_a_file_renamed_over_the_evidence_after_the_hash_check_is_not_what_is_analysed(
        db: Database, evidence: Path, faceless: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    intake = ingest_video(db, "Case A", evidence, "alice")
    swap_after_the_hash_check(monkeypatch, lambda: os.replace(faceless, evidence))
    analysis_id = analyse(db, intake.evidence_id)
    assert sha256_file(evidence) != intake.sha256  # the swap happened
    label, with_face, sampled = faces_found(db, analysis_id)
    assert label != "no_face" and with_face == sampled == FRAMES  # the faces of the hashed file, not the swap


def test_bytes_written_over_the_evidence_after_the_hash_check_fail_the_analysis(
        db: Database, evidence: Path, faceless: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    intake = ingest_video(db, "Case A", evidence, "alice")
    swap_after_the_hash_check(monkeypatch, lambda: evidence.write_bytes(faceless.read_bytes()))
    with pytest.raises(AnalysisError) as failure:
        analyse(db, intake.evidence_id)
    swapped = sha256_file(faceless)
    assert intake.sha256 in str(failure.value) and swapped in str(failure.value)
    assert_failed_naming(db, intake.sha256, swapped)


def test_a_write_in_place_while_frames_are_decoded_fails_the_analysis_naming_both_hashes(
        db: Database, evidence: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    intake = ingest_video(db, "Case A", evidence, "alice")
    released = pipeline.release_free_memory

    def write_during_decoding() -> None:  # called after each decoded batch, inside the decode pass
        with evidence.open("r+b") as handle:
            handle.seek(-64, os.SEEK_END)
            handle.write(bytes(64))
        released()

    monkeypatch.setattr(pipeline, "release_free_memory", write_during_decoding)
    with pytest.raises(AnalysisError, match="changed while it was analysed") as failure:
        analyse(db, intake.evidence_id)
    now = sha256_file(evidence)
    assert now != intake.sha256 and intake.sha256 in str(failure.value) and now in str(failure.value)
    assert_failed_naming(db, intake.sha256, now)


def assert_failed_naming(db: Database, *hashes: str) -> None:
    with db.unit_of_work() as session:
        row = session.scalars(select(Analysis)).one()
        assert row.status == "failed" and row.verdict is None
        assert all(digest in row.error for digest in hashes)


def faces_and_scores(db: Database, analysis_id: int) -> tuple[list, list]:
    """The face tracks' boxes and every frame score of an analysis."""
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
        boxes = [sorted((frame, tuple(round(v, 2) for v in box)) for frame, box in t.boxes.items())
                 for t in view.tracks]
        scores = sorted((name, p.frame_index, round(p.fake_probability, 6))
                        for name, points in view.points.items() for p in points)
        return boxes, scores


def test_a_swap_restored_before_the_next_analysis_does_not_poison_the_crop_cache(
        db: Database, evidence: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's scenario: swap another face video in after the check, analyse, put the original back, analyse
    again; the second analysis must score the original's faces, as a decode without any cache does."""
    intake = ingest_video(db, "Case A", evidence, "alice")
    mirrored = (np.ascontiguousarray(clips.face_frame(320, 240, i, 20)[:, ::-1, ::-1]) for i in range(20))
    other_face = clips.write_clip(tmp_path / "other-face.mp4", mirrored)  # moves the other way, colours swapped
    kept = tmp_path / "original-kept-aside.mp4"

    def swap() -> None:
        os.replace(evidence, kept)
        shutil.copy(other_face, evidence)

    planned = analysis.plan_analysis
    swap_after_the_hash_check(monkeypatch, swap)
    analyse(db, intake.evidence_id)
    monkeypatch.setattr(analysis, "plan_analysis", planned)  # no more swaps
    os.replace(kept, evidence)  # the original is back, untouched
    assert sha256_file(evidence) == intake.sha256
    second = analyse(db, intake.evidence_id)
    shutil.rmtree(paths.cache_dir() / "crops")
    uncached = analyse(db, intake.evidence_id)
    assert faces_and_scores(db, second) == faces_and_scores(db, uncached)
    assert faces_and_scores(db, uncached)[0] != []
