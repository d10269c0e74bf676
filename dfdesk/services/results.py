"""Read model of a saved analysis: everything the GUI and the PDF report show, as plain frozen data."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.core.coverage import Coverage
from dfdesk.core.face_presence import TrackPresence, track_presence
from dfdesk.core.likelihood import EvidenceStrength, record_carries_evidence
from dfdesk.core.outcome import DetectorRun, FramePoint, Heatmap, TrackOutcome, Verdict
from dfdesk.core.types import VideoInfo
from dfdesk.services.analysis_store import RecordSchemaError, check_record_schema
from dfdesk.store.tables import Analysis, Artifact, Case, Evidence, FaceTrackRow, FrameScore, Note


class ResultNotFound(Exception):
    """No analysis with that id, or one saved by a newer dfdesk in a shape this one cannot read."""


@dataclass(frozen=True)
class EvidenceView:
    id: int
    case_id: int
    case_name: str
    case_number: str
    path: str
    file_name: str
    sha256: str
    video: VideoInfo  # the probe's facts recorded at intake (Evidence.video_info): codec, size, pixel format, ...
    ingested_at: datetime
    ingested_by: str
    case_examiner: str | None = None  # None: not recorded (cases made before the examiner field, or left empty)
    case_description: str = ""


@dataclass(frozen=True)
class NoteView:
    id: int
    author: str
    created_at: datetime
    conclusion: str | None
    text: str


@dataclass(frozen=True)
class AnalysisView:
    id: int
    status: str
    created_at: datetime
    created_by: str
    finished_at: datetime | None
    evidence: EvidenceView
    settings: dict
    seed: int
    models: list
    verdict: Verdict | None
    detectors: tuple[DetectorRun, ...]
    tracks: tuple[TrackOutcome, ...]
    points: dict[str, tuple[FramePoint, ...]]  # detector name (or "fused") -> points in frame order
    heatmaps: tuple[Heatmap, ...]
    frames_sampled: int
    frames_with_face: int
    timings_s: dict
    warnings: tuple[str, ...]
    error: str
    notes: tuple[NoteView, ...]
    # track index -> how many of the sampled frames (every plan's frames together) show that track's face, counting
    # a frame added near a sampled frame for it; empty when the analysis recorded no plans
    face_presence: dict[int, TrackPresence] = field(default_factory=dict)

    @property
    def main_presence(self) -> TrackPresence | None:
        main = next((t.track_index for t in self.tracks if t.is_main), None)
        return self.face_presence.get(main) if main is not None else None


def evidence_view(evidence: Evidence, case: Case) -> EvidenceView:
    return EvidenceView(
        id=evidence.id, case_id=case.id, case_name=case.name, case_number=case.number, path=evidence.path,
        file_name=evidence.file_name, sha256=evidence.sha256, video=evidence.video_info(),
        ingested_at=evidence.ingested_at, ingested_by=evidence.ingested_by, case_examiner=case.examiner,
        case_description=case.description or "")


def load_analysis(session: Session, analysis_id: int) -> AnalysisView:
    analysis = session.get(Analysis, analysis_id)
    if analysis is None:
        raise ResultNotFound(f"no analysis with id {analysis_id}")
    evidence = analysis.evidence
    summary = analysis.summary or {}
    settings = dict(analysis.settings or {})
    try:
        check_record_schema(settings, analysis_id, "settings")
        check_record_schema(summary, analysis_id, "results")
    except RecordSchemaError as exc:
        raise ResultNotFound(str(exc)) from None
    tracks = _tracks(session, analysis_id)
    return AnalysisView(
        id=analysis.id, status=analysis.status, created_at=analysis.created_at, created_by=analysis.created_by,
        finished_at=analysis.finished_at, evidence=evidence_view(evidence, evidence.case),
        settings=settings, seed=analysis.seed, models=list(analysis.models or []),
        verdict=Verdict(**_verdict_fields(summary["verdict"])) if summary.get("verdict") else None,
        detectors=tuple(_detector_run(d) for d in summary.get("detectors", [])),
        tracks=tracks, points=_points(session, analysis_id),
        heatmaps=_heatmaps(session, analysis_id), frames_sampled=summary.get("frames_sampled", 0),
        frames_with_face=summary.get("frames_with_face", 0), timings_s=dict(analysis.timings or {}),
        warnings=tuple(summary.get("warnings", [])), error=analysis.error or "",
        notes=_notes(session, analysis), face_presence=_face_presence(settings, tracks))


def _face_presence(settings: dict, tracks: tuple[TrackOutcome, ...]) -> dict[int, TrackPresence]:
    """Per track, its share of the sampled frames: the union of the recorded plans' frames (a frame the face
    pipeline added near a sampled frame stands for the nearest sampled frame)."""
    plans = settings.get("plans") or {}
    sampled = sorted({int(i) for plan in plans.values() for i in plan.get("indices", [])})
    if not sampled:
        return {}
    return {t.track_index: track_presence(sampled, t.frame_indices) for t in tracks}


def saved_evidence(summary: dict | None) -> dict:
    """The verdict's evidence record in a saved analysis summary, read defensively ({} when there is none or the
    summary is malformed)."""
    summary = summary if isinstance(summary, dict) else {}
    verdict = summary.get("verdict") if isinstance(summary.get("verdict"), dict) else {}
    return verdict.get("evidence") if isinstance(verdict.get("evidence"), dict) else {}


def summary_carries_evidence(summary: dict | None) -> bool:
    """:func:`record_carries_evidence` of a saved analysis summary."""
    return record_carries_evidence(saved_evidence(summary) or None)


def _verdict_fields(data: dict) -> dict:
    """The saved verdict (asdict of core.outcome.Verdict) back as constructor arguments; analyses saved before
    likelihood ratios existed have no evidence or coverage."""
    band, evidence, coverage = data.get("band"), data.get("evidence"), data.get("coverage")
    if evidence:
        evidence = EvidenceStrength(**{**evidence, "lr_bounds": tuple(evidence["lr_bounds"]),
                                       "members": tuple(evidence["members"])})
    return {**data, "band": tuple(band) if band else None, "evidence": evidence or None,
            "coverage": Coverage.from_dict(coverage) if coverage else None}


def _detector_run(data: dict) -> DetectorRun:
    fields = dict(data)
    fields["track_probabilities"] = {int(k): v for k, v in fields.get("track_probabilities", {}).items()}
    return DetectorRun(**fields)


def _tracks(session: Session, analysis_id: int) -> tuple[TrackOutcome, ...]:
    rows = session.scalars(select(FaceTrackRow).where(FaceTrackRow.analysis_id == analysis_id)
                           .order_by(FaceTrackRow.track_index))
    return tuple(TrackOutcome(track_index=r.track_index, is_main=r.is_main,
                              frame_indices=tuple(sorted(int(k) for k in r.boxes)),
                              boxes={int(k): tuple(v) for k, v in r.boxes.items()},
                              fake_probability=r.fake_probability) for r in rows)


def _points(session: Session, analysis_id: int) -> dict[str, tuple[FramePoint, ...]]:
    grouped: dict[str, list[FramePoint]] = defaultdict(list)
    rows = session.scalars(select(FrameScore).where(FrameScore.analysis_id == analysis_id)
                           .order_by(FrameScore.detector, FrameScore.track_index, FrameScore.frame_index))
    for r in rows:
        grouped[r.detector].append(FramePoint(r.detector, r.track_index, r.frame_index, r.time_s,
                                              r.fake_probability, r.attention))
    return {name: tuple(points) for name, points in grouped.items()}


def _heatmaps(session: Session, analysis_id: int) -> tuple[Heatmap, ...]:
    rows = session.scalars(select(Artifact).where(Artifact.analysis_id == analysis_id).order_by(Artifact.id))
    return tuple(Heatmap(r.detector, r.track_index, r.frame_index, r.fake_probability or 0.0, r.path, r.sha256,
                         r.kind) for r in rows)


def _notes(session: Session, analysis: Analysis) -> tuple[NoteView, ...]:
    rows = session.scalars(select(Note).where(Note.evidence_id == analysis.evidence_id).order_by(Note.id))
    return tuple(NoteView(n.id, n.author, n.created_at, n.conclusion, n.text) for n in rows)
