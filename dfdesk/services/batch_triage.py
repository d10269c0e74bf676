"""The triage table of a case: each video's latest finished analysis, strongest evidence of manipulation first,
exported as CSV (for people) and JSON (for scripts).

Evidence strength is the likelihood ratio when the analysis has one (a fitted ensemble), read defensively from
the saved summary; otherwise the fused P(fake) on the same scale (log10 of its odds, which is the log10 LR at even
prior odds).  Videos without a score (no face) come last.  Human-facing words never call a video real or
authentic: "real" reads "no manipulation detected by these models".
"""
from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dfdesk.services.results import saved_evidence, summary_carries_evidence
from dfdesk.services.verdicts import headline
from dfdesk.store.tables import Analysis, Case, Evidence, FaceTrackRow, FrameScore

CSV_COLUMNS = ("rank", "file", "sha256", "duration_s", "faces", "verdict_text", "evidence", "fake_probability",
               "likelihood_ratio", "log10_lr", "strongest_detector", "strongest_detector_p", "peak_frame",
               "peak_time_s", "analysis_id", "computed_on", "path")
SORTED_BY = "likelihood ratio when the analysis has one, else the fused P(fake) (as log10 odds); strongest first"
UNORDERED = ("No detector carries weight in the fitted ensemble, so every video has LR 1 and the order (by file "
             "name) says nothing about manipulation")


@dataclass(frozen=True)
class TriageRow:
    evidence_id: int
    analysis_id: int
    file: str
    path: str
    sha256: str
    duration_s: float
    faces: int  # face tracks found
    frames_with_face: int
    verdict: str | None  # the categorical label, for scripts ("real": no manipulation detected)
    verdict_text: str  # the words shown to people
    fake_probability: float | None
    likelihood_ratio: float | None
    log10_lr: float | None
    strongest_detector: str  # the detector that found the video most suspicious
    strongest_detector_p: float | None
    peak_frame: int | None  # the frame where the fused score peaks (main face)
    peak_time_s: float | None
    computed_on: str  # host that computed it
    carries_evidence: bool = True  # False: a fitted ensemble in which no model carries weight (LR 1 for any video)

    @property
    def strength(self) -> float | None:
        """log10 LR, or log10 of the fused P(fake)'s odds; None without a score."""
        if self.log10_lr is not None:
            return self.log10_lr
        if self.fake_probability is None:
            return None
        p = min(max(self.fake_probability, 1e-9), 1 - 1e-9)
        return math.log10(p / (1 - p))

    @property
    def evidence(self) -> str:
        if self.log10_lr is not None and not self.carries_evidence:
            return "LR 1: no detector has weight"  # 28 characters: the command line's column
        if self.log10_lr is not None:
            return f"LR {self.likelihood_ratio:.3g} (log10 {self.log10_lr:+.2f})"
        return f"P(fake) {self.fake_probability:.3f}" if self.fake_probability is not None else "no score"


def triage_rows(session: Session, case_id: int) -> list[TriageRow]:
    """Every video of the case with a finished analysis (its latest), strongest evidence first."""
    latest = _latest_done(session, case_id)
    if not latest:
        return []
    faces = _face_tracks(session, case_id)
    peaks = _peaks(session, case_id)
    rows = [_row(evidence, analysis, faces.get(analysis.id, 0), peaks.get(analysis.id))
            for evidence, analysis in latest]
    return sort_rows(rows)


def order_note(rows: list[TriageRow]) -> str:
    """:data:`UNORDERED` when no row's evidence can order the table, else ""."""
    return UNORDERED if rows and not any(row.carries_evidence for row in rows) else ""


def sort_rows(rows: Iterable[TriageRow]) -> list[TriageRow]:
    return sorted(rows, key=lambda r: (r.strength is None, -(r.strength or 0.0), r.file, r.analysis_id))


def case_name(session: Session, case_id: int) -> str:
    case = session.get(Case, case_id)
    return case.name if case else ""


def write_csv(rows: list[TriageRow], out: Path) -> None:
    """The table as people read it (words for verdicts), written whole or not at all."""
    with _atomic(out, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for rank, row in enumerate(rows, start=1):
            writer.writerow(_csv_cells(rank, row))


def write_json(rows: list[TriageRow], out: Path, case: str, refused: list[tuple[str, str]] = ()) -> None:
    """The table for scripts: each row with its verdict label and words, and the files refused by this batch."""
    document = {"case": case, "sorted_by": SORTED_BY,
                "rows": [{"rank": rank, **asdict(row), "evidence": row.evidence, "strength": row.strength}
                         for rank, row in enumerate(rows, start=1)],
                "refused": [{"path": path, "reason": reason} for path, reason in refused]}
    with _atomic(out) as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)


def evidence_strength_of(summary: dict) -> tuple[float | None, float | None]:
    """(likelihood ratio, log10 LR) from a saved analysis summary, wherever the analysis put them; (None, None)
    for analyses without one (or saved before likelihood ratios existed)."""
    verdict = summary.get("verdict") if isinstance(summary.get("verdict"), dict) else {}
    for source in (saved_evidence(summary), verdict, summary):
        log10_lr = _number(source.get("log10_lr"))
        if log10_lr is not None:
            ratio = _number(source.get("likelihood_ratio"))
            return (ratio if ratio is not None else 10.0**log10_lr), log10_lr
    return None, None


def _latest_done(session: Session, case_id: int) -> list[tuple[Evidence, Analysis]]:
    newest = (select(func.max(Analysis.id)).join(Evidence, Analysis.evidence_id == Evidence.id)
              .where(Evidence.case_id == case_id, Analysis.status == "done").group_by(Analysis.evidence_id))
    query = select(Evidence, Analysis).join(Analysis, Analysis.evidence_id == Evidence.id).where(
        Analysis.id.in_(newest))
    return [(evidence, analysis) for evidence, analysis in session.execute(query)]


def _face_tracks(session: Session, case_id: int) -> dict[int, int]:
    query = (select(FaceTrackRow.analysis_id, func.count()).join(Analysis, Analysis.id == FaceTrackRow.analysis_id)
             .join(Evidence, Evidence.id == Analysis.evidence_id).where(Evidence.case_id == case_id)
             .group_by(FaceTrackRow.analysis_id))
    return {analysis_id: count for analysis_id, count in session.execute(query)}


def _peaks(session: Session, case_id: int) -> dict[int, tuple[int, float]]:
    """Analysis id -> (frame index, time) of the highest fused score on the main face track.  SQLite returns the
    bare columns of the row that holds the max()."""
    query = (select(FrameScore.analysis_id, FrameScore.frame_index, FrameScore.time_s,
                    func.max(FrameScore.fake_probability))
             .join(FaceTrackRow, (FaceTrackRow.analysis_id == FrameScore.analysis_id)
                   & (FaceTrackRow.track_index == FrameScore.track_index) & FaceTrackRow.is_main)
             .join(Analysis, Analysis.id == FrameScore.analysis_id)
             .join(Evidence, Evidence.id == Analysis.evidence_id)
             .where(Evidence.case_id == case_id, FrameScore.detector == "fused")
             .group_by(FrameScore.analysis_id))
    return {analysis_id: (frame, time_s) for analysis_id, frame, time_s, _p in session.execute(query)}


def _row(evidence: Evidence, analysis: Analysis, faces: int, peak: tuple[int, float] | None) -> TriageRow:
    summary = analysis.summary or {}
    ratio, log10_lr = evidence_strength_of(summary)
    name, p = _strongest(summary.get("detectors") or [])
    worker = (analysis.settings or {}).get("worker") or {}
    return TriageRow(evidence.id, analysis.id, evidence.file_name, evidence.path, evidence.sha256,
                     evidence.duration_s, faces, int(summary.get("frames_with_face") or 0), analysis.verdict,
                     headline(analysis.verdict), analysis.fake_probability, ratio, log10_lr, name, p,
                     peak[0] if peak else None, peak[1] if peak else None, str(worker.get("host", "")),
                     summary_carries_evidence(summary))


def _strongest(detectors: list) -> tuple[str, float | None]:
    scored = [(d["fake_probability"], d["name"]) for d in detectors
              if isinstance(d, dict) and _number(d.get("fake_probability")) is not None]
    if not scored:
        return "", None
    p, name = max(scored)
    return name, p


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _csv_cells(rank: int, row: TriageRow) -> list:
    values = {**asdict(row), "rank": rank, "evidence": row.evidence}
    return ["" if values[c] is None else values[c] for c in CSV_COLUMNS]


@contextmanager
def _atomic(path: Path, newline: str | None = None) -> Iterator:
    """A text file written to a temporary name beside ``path`` and renamed into place when complete."""
    path = Path(path).resolve()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline=newline) as out:
            yield out
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
