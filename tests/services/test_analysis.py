"""The analysis use case end to end on generated clips: real decoding, real MTCNN, the shipped MesoNet models."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from dfdesk.core.steps import run_to_end
from dfdesk.services import audit
from dfdesk.services.analysis import AnalysisCancelled, AnalysisError, AnalysisRequest, DetectorScored, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.recovery import mark_interrupted
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis, FrameScore

MESO = ("meso4_df", "meso4_f2f")


def _drive(steps) -> tuple[int, list]:
    events: list = []
    return run_to_end(steps, events.append), events


def _analyse(db: Database, clip: Path, **request) -> tuple[int, list]:
    intake = ingest_video(db, "Case A", clip, "alice")
    return _drive(run_analysis(db, intake.evidence_id, AnalysisRequest(**{"models": MESO, **request}), "alice"))


def test_analysis_scores_every_sampled_frame_and_saves_one_result(db: Database, clip_dir: Path) -> None:
    analysis_id, events = _analyse(db, clip_dir / "face.mp4", frames=8)
    scored = [e for e in events if isinstance(e, DetectorScored)]
    assert [e.name for e in scored] == list(MESO)
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert view.status == "done" and view.verdict.label in ("fake", "real", "inconclusive")
    assert 0.0 <= view.verdict.fake_probability <= 1.0
    low, high = view.verdict.band
    assert low <= high
    used = {d.name: d for d in view.detectors if d.status == "used"}
    assert set(used) == set(MESO)
    for name in MESO:
        frames = [p.frame_index for p in view.points[name]]
        assert len(frames) == 8 and frames == sorted(frames)
        assert used[name].fake_probability == pytest.approx(
            sum(p.fake_probability for p in view.points[name]) / 8)
    assert len(view.points["fused"]) == 8
    assert view.models[0]["weights_sha256"] and view.settings["plans"]["meso4_df"]["indices"]
    assert view.heatmaps and all(Path(h.path).is_file() for h in view.heatmaps)
    assert view.timings_s["decode+faces"] >= 0 and "meso4_df" in view.timings_s


def test_same_analysis_twice_gives_identical_scores(db: Database, clip_dir: Path) -> None:
    first, _ = _analyse(db, clip_dir / "face.mp4", frames=6, seed=3, sampling="random")
    second, _ = _analyse(db, clip_dir / "face.mp4", frames=6, seed=3, sampling="random")
    with db.unit_of_work() as session:
        rows = [sorted((r.detector, r.frame_index, r.fake_probability) for r in
                       session.scalars(select(FrameScore).where(FrameScore.analysis_id == a))) for a in (first, second)]
    assert rows[0] == rows[1] and rows[0]


def test_no_face_is_an_outcome_not_an_error(db: Database, clip_dir: Path) -> None:
    analysis_id, _ = _analyse(db, clip_dir / "noface.mp4", frames=4)
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert view.verdict.label == "no_face" and view.verdict.fake_probability is None
    assert view.tracks == () and not view.points


def test_untrained_models_are_listed_but_never_scored(db: Database, clip_dir: Path) -> None:
    analysis_id, _ = _analyse(db, clip_dir / "face.mp4", frames=4, models=None)
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    excluded = [d for d in view.detectors if d.status == "needs_training"]
    assert excluded and all(d.fake_probability is None for d in excluded)
    assert not any(d.name in view.points for d in excluded)


def test_changed_evidence_is_not_analysed(db: Database, clip_dir: Path, tmp_path: Path) -> None:
    clip = Path(shutil.copy(clip_dir / "face.mp4", tmp_path / "evidence.mp4"))
    intake = ingest_video(db, "Case A", clip, "alice")
    with clip.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01")
    with pytest.raises(AnalysisError, match="changed since intake"):
        _drive(run_analysis(db, intake.evidence_id, AnalysisRequest(models=MESO), "alice"))
    with db.unit_of_work() as session:
        assert session.scalars(select(Analysis)).all() == []
        assert audit.events_for(session)[-1].action == "evidence.hash_mismatch"


def test_cancel_marks_the_analysis_cancelled(db: Database, clip_dir: Path) -> None:
    intake = ingest_video(db, "Case A", clip_dir / "face.mp4", "alice")
    with pytest.raises(AnalysisCancelled):
        _drive(run_analysis(db, intake.evidence_id, AnalysisRequest(models=MESO), "alice", cancel=lambda: True))
    with db.unit_of_work() as session:
        analysis = session.scalars(select(Analysis)).one()
        assert analysis.status == "cancelled"
        assert session.scalars(select(FrameScore)).all() == []


def test_unknown_model_is_refused_before_anything_runs(db: Database, clip_dir: Path) -> None:
    intake = ingest_video(db, "Case A", clip_dir / "face.mp4", "alice")
    with pytest.raises(AnalysisError, match="not installed: nonsense"):
        _drive(run_analysis(db, intake.evidence_id, AnalysisRequest(models=("nonsense",)), "alice"))


def test_orphaned_running_analysis_is_marked_interrupted_and_resumes(db: Database, clip_dir: Path) -> None:
    intake = ingest_video(db, "Case A", clip_dir / "face.mp4", "alice")
    with db.unit_of_work() as session:
        orphan = Analysis(evidence_id=intake.evidence_id, created_by="alice", status="running",
                          settings={"worker": {"pid": 2**22 + 12345, "host": __import__("socket").gethostname()}})
        session.add(orphan)
        session.flush()
        orphan_id = orphan.id
    assert mark_interrupted(db) == [orphan_id]
    resumed, _ = _drive(run_analysis(db, intake.evidence_id, AnalysisRequest(models=MESO, frames=4), "alice",
                                     resume_id=orphan_id))
    assert resumed == orphan_id
    with db.unit_of_work() as session:
        assert session.get(Analysis, orphan_id).status == "done"


def test_a_damaged_file_gives_no_fake_or_real_verdict(db: Database, tmp_path: Path) -> None:
    from tests.fixtures.hostile import corrupted_mid_stream, h264

    damaged = corrupted_mid_stream(tmp_path, h264(tmp_path, "long_gop.mp4", n=30))  # one keyframe: no recovery
    analysis_id, _ = _analyse(db, damaged, frames=8)
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert view.verdict.label == "inconclusive"
    assert "damaged" in view.verdict.explanation
    assert any("damaged data" in w for w in view.warnings)


def test_a_cancelled_analysis_resumes_in_place_with_its_own_settings(db: Database, clip_dir: Path) -> None:
    from dfdesk.services.analysis import resume_analysis

    intake = ingest_video(db, "Case A", clip_dir / "face.mp4", "alice")
    request = AnalysisRequest(models=("meso4_df",), frames=5, sampling="random", seed=7)
    calls = iter([False, False, True])  # cancelled during face extraction, after the row exists
    with pytest.raises(AnalysisCancelled):
        _drive(run_analysis(db, intake.evidence_id, request, "alice", cancel=lambda: next(calls, True)))
    with db.unit_of_work() as session:
        cancelled = session.scalars(select(Analysis)).one()
        assert cancelled.status == "cancelled"
    resumed, _ = _drive(resume_analysis(db, cancelled.id, "bob"))
    with db.unit_of_work() as session:
        view = load_analysis(session, resumed)
    assert resumed == cancelled.id and view.status == "done"
    assert view.seed == 7 and view.settings["sampling"] == "random" and view.settings["frames"] == 5
    assert [d.name for d in view.detectors if d.status == "used"] == ["meso4_df"]
    with pytest.raises(AnalysisError, match="only interrupted, failed, cancelled"):
        _drive(resume_analysis(db, resumed, "bob"))


def test_a_sampled_frame_without_the_face_is_scored_from_a_frame_near_it(db: Database, tmp_path: Path) -> None:
    """40 frames, 4 sampled (4, 14, 24, 34): no face on 14 nor on 18, tried first; a face on 10, tried next.
    Every model scores 4 frames of the main face, and the result says one of them came from near frame 14."""
    from dfdesk.core.face_presence import TrackPresence
    from tests.fixtures.clips import face_frame, write_clip

    frames = [np.full((240, 320, 3), (60 + i % 20, 90, 120), np.uint8) if i in (14, 18) else
              face_frame(320, 240, i, 400) for i in range(40)]
    analysis_id, _ = _analyse(db, write_clip(tmp_path / "gap.mp4", frames), frames=4, sampling="uniform")
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert view.settings["plans"]["meso4_df"]["indices"] == [4, 14, 24, 34]
    for name in (*MESO, "fused"):
        assert [p.frame_index for p in view.points[name]] == [4, 10, 24, 34], name
    assert view.face_presence == {0: TrackPresence(4, 4, 1)} and view.main_presence.words() == (
        "4 of 4 sampled frames (100 %; 1 through a frame nearby)")
    assert view.frames_sampled == 4 and view.frames_with_face == 3
    assert f"the main face was found in {view.main_presence.words()}" in view.warnings
