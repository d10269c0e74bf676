"""Small read-only queries only the GUI needs, as plain frozen rows (no Qt, no live ORM objects)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dfdesk.services import cases
from dfdesk.services.recovery import RESUMABLE
from dfdesk.services.results import summary_carries_evidence
from dfdesk.store.tables import Analysis, Evidence

NOT_ANALYSED = "not analysed"


@dataclass(frozen=True)
class CaseRow:
    id: int
    name: str
    number: str
    closed: bool
    evidence_count: int

    @property
    def label(self) -> str:
        state = " · closed" if self.closed else ""
        number = f" [{self.number}]" if self.number else ""
        return f"{self.name}{number} — {self.evidence_count} video(s){state}"


@dataclass(frozen=True)
class EvidenceRow:
    id: int
    file_name: str
    path: str
    duration_s: float
    width: int
    height: int
    sha256: str
    status: str  # the latest analysis' status, or NOT_ANALYSED
    verdict: str | None
    fake_probability: float | None
    analysis_id: int | None  # the latest finished analysis, if any
    resumable_id: int | None = None  # the latest analysis when it was interrupted, failed or cancelled

    @property
    def resolution(self) -> str:
        return f"{self.width}×{self.height}"

    @property
    def sha_short(self) -> str:
        return self.sha256[:12]


def case_rows(session: Session, search: str = "") -> list[CaseRow]:
    counts = dict(session.execute(select(Evidence.case_id, func.count(Evidence.id)).group_by(Evidence.case_id)).all())
    return [CaseRow(c.id, c.name, c.number, c.closed, counts.get(c.id, 0)) for c in cases.list_cases(session, search)]


def case_row(session: Session, case_id: int) -> CaseRow | None:
    try:
        case = cases.get_case(session, case_id)
    except cases.CaseError:
        return None
    return CaseRow(case.id, case.name, case.number, case.closed, len(case.evidence))


def evidence_rows(session: Session, case_id: int) -> list[EvidenceRow]:
    evidence = session.scalars(select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id))
    return [_evidence_row(session, e) for e in evidence]


def _evidence_row(session: Session, evidence: Evidence) -> EvidenceRow:
    latest = session.scalar(select(Analysis).where(Analysis.evidence_id == evidence.id)
                            .order_by(Analysis.id.desc()).limit(1))
    done = session.scalar(select(Analysis).where(Analysis.evidence_id == evidence.id, Analysis.status == "done")
                          .order_by(Analysis.id.desc()).limit(1))
    return EvidenceRow(
        id=evidence.id, file_name=evidence.file_name, path=evidence.path, duration_s=evidence.duration_s,
        width=evidence.width, height=evidence.height, sha256=evidence.sha256,
        status=latest.status if latest else NOT_ANALYSED,
        verdict=done.verdict if done else None, fake_probability=_shown_probability(done),
        analysis_id=done.id if done else None,
        resumable_id=latest.id if latest is not None and latest.status in RESUMABLE else None)


def _shown_probability(done: Analysis | None) -> float | None:
    """The latest finished analysis's P(fake), or None where it is no evidence (a fitted ensemble in which no model
    carries weight gives every video 0.5)."""
    if done is None or not summary_carries_evidence(done.summary):
        return None
    return done.fake_probability
