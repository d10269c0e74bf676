"""Saving an analysis outcome into the case database (one transaction) and reading it back."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import delete
from sqlalchemy.orm import Session

from dfdesk.core.outcome import AnalysisOutcome
from dfdesk.store.tables import Analysis, Artifact, FaceTrackRow, FrameScore, utcnow

RECORD_SCHEMA = 1  # the shape of an analysis row's settings (its request) and summary (its outcome)
SCHEMA_KEY = "schema"


class RecordSchemaError(ValueError):
    """An analysis saved by a newer dfdesk, whose settings or summary this one cannot read."""


def check_record_schema(record: dict | None, analysis_id: int | None, part: str) -> None:
    """RecordSchemaError when ``record`` (an analysis's ``settings`` or ``summary``) was written in a newer shape
    than this dfdesk knows.  Records saved before the version was stored have version 1's shape."""
    version = (record or {}).get(SCHEMA_KEY, 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= RECORD_SCHEMA:
        who = f"analysis {analysis_id}" if analysis_id is not None else "the analysis"
        raise RecordSchemaError(f"{who}: its {part} were saved in record schema {version!r}, "
                                f"this dfdesk reads schema {RECORD_SCHEMA} or older: open it with the dfdesk "
                                "that made it")


def save_outcome(session: Session, analysis: Analysis, outcome: AnalysisOutcome,
                 video_streams: Sequence[dict] = (), stream_index: int | None = None) -> None:
    """Replace whatever partial rows the analysis had with the outcome, and mark it done.

    ``video_streams`` (every video stream of the file: index, codec, width, height, frames, default) and
    ``stream_index`` (the one analysed) go into the summary, where the report reads them."""
    session.execute(delete(FrameScore).where(FrameScore.analysis_id == analysis.id))
    session.execute(delete(FaceTrackRow).where(FaceTrackRow.analysis_id == analysis.id))
    session.execute(delete(Artifact).where(Artifact.analysis_id == analysis.id))
    session.add_all(_track_rows(analysis.id, outcome))
    session.add_all(_score_rows(analysis.id, outcome))
    session.add_all(Artifact(analysis_id=analysis.id, kind=h.kind, detector=h.detector, track_index=h.track_index,
                             frame_index=h.frame_index, fake_probability=h.fake_probability, path=h.path,
                             sha256=h.sha256) for h in outcome.heatmaps)
    verdict = outcome.verdict
    analysis.status = "done"
    analysis.finished_at = utcnow()
    analysis.verdict = verdict.label
    analysis.fake_probability = verdict.fake_probability
    analysis.timings = dict(outcome.timings_s)
    analysis.summary = {
        SCHEMA_KEY: RECORD_SCHEMA,
        "verdict": asdict(verdict),
        "detectors": [_detector_summary(run) for run in outcome.detectors],
        "frames_sampled": outcome.frames_sampled,
        "frames_with_face": outcome.frames_with_face,
        "warnings": list(outcome.warnings),
        "video_streams": [dict(s) for s in video_streams],
        "stream_index": stream_index,
    }


def _detector_summary(run) -> dict:
    summary = asdict(run)
    summary.pop("points")
    summary["track_probabilities"] = {str(k): v for k, v in run.track_probabilities.items()}
    return summary


def _track_rows(analysis_id: int, outcome: AnalysisOutcome) -> list[FaceTrackRow]:
    return [FaceTrackRow(analysis_id=analysis_id, track_index=t.track_index, is_main=t.is_main,
                         frame_count=len(t.frame_indices), first_frame=min(t.frame_indices),
                         last_frame=max(t.frame_indices), boxes={str(k): list(v) for k, v in t.boxes.items()},
                         fake_probability=t.fake_probability) for t in outcome.tracks]


def _score_rows(analysis_id: int, outcome: AnalysisOutcome) -> list[FrameScore]:
    points = [p for run in outcome.detectors for p in run.points] + list(outcome.fused_points)
    return [FrameScore(analysis_id=analysis_id, detector=p.detector, track_index=p.track_index,
                       frame_index=p.frame_index, time_s=p.time_s, fake_probability=p.fake_probability,
                       attention=p.attention) for p in points]
