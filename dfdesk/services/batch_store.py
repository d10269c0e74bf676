"""The batch driver's side of the case database (it is the only writer): what is already done, and one
transaction per finished video.

A finished video is recorded whole or not at all: evidence row (when new), analysis row, its results and the
audit events commit together, so a kill -9 of the driver at any moment loses nothing already saved and leaves
nothing half-written; a re-run finds the video done and skips it.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.services import audit
from dfdesk.services.analysis import AnalysisRequest, add_analysis_row
from dfdesk.services.analysis_store import save_outcome
from dfdesk.services.artifact_folders import analysis_folder
from dfdesk.services.batch_work import BatchItem, Computed, Refused, place_heatmaps
from dfdesk.services.cases import find_case, get_or_create_case
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis, Evidence


@dataclass(frozen=True)
class Saved:
    """What became of a finished video: its analysis (new, or the one that already existed for these bytes)."""

    evidence_id: int
    analysis_id: int
    created: bool  # False: the same bytes were already analysed in this case (a copy under another name)


def open_case(db: Database, case_name: str, actor: str) -> int:
    with db.unit_of_work() as session:
        return get_or_create_case(session, case_name, actor).id


def existing_case(db: Database, case_name: str) -> int:
    """The id of a case that must already exist (CaseError otherwise)."""
    with db.unit_of_work() as session:
        return find_case(session, case_name).id


def same_request(settings: dict, seed: int, request: AnalysisRequest) -> bool:
    """Was an analysis with these saved settings run as ``request`` asks (where it ran does not matter)?"""
    try:
        saved = AnalysisRequest.from_settings(settings or {}, seed)
    except (TypeError, ValueError):
        return False
    return replace(saved, device=request.device, batch_size=request.batch_size,
                   heatmaps_per_detector=request.heatmaps_per_detector) == request


def done_paths(db: Database, case_id: int, request: AnalysisRequest) -> dict[str, str]:
    """Absolute path -> SHA-256 of the case's evidence already analysed as ``request`` asks."""
    return {os.path.abspath(path): sha for _id, path, sha in _done_evidence(db, case_id, request)}


def case_items(db: Database, case_id: int, request: AnalysisRequest) -> list[BatchItem]:
    """The case's evidence not yet analysed as ``request`` asks; each must still match its intake hash."""
    done = {evidence_id for evidence_id, _path, _sha in _done_evidence(db, case_id, request)}
    with db.unit_of_work() as session:
        rows = session.execute(select(Evidence.id, Evidence.path, Evidence.sha256)
                               .where(Evidence.case_id == case_id).order_by(Evidence.id)).all()
    return [BatchItem(os.path.abspath(path), evidence_id, sha) for evidence_id, path, sha in rows
            if evidence_id not in done]


def _done_evidence(db: Database, case_id: int, request: AnalysisRequest) -> Iterator[tuple[int, str, str]]:
    with db.unit_of_work() as session:
        rows = session.execute(
            select(Evidence.id, Evidence.path, Evidence.sha256, Analysis.settings, Analysis.seed)
            .join(Analysis, Analysis.evidence_id == Evidence.id)
            .where(Evidence.case_id == case_id, Analysis.status == "done")).all()
    seen = set()
    for evidence_id, path, sha, settings, seed in rows:
        if evidence_id not in seen and same_request(settings, seed, request):
            seen.add(evidence_id)
            yield evidence_id, path, sha


def save_computed(db: Database, case_id: int, computed: Computed, request: AnalysisRequest, actor: str) -> Saved:
    """Record a finished video in one transaction: its evidence (when new), the analysis, results, heat maps."""
    with db.unit_of_work() as session:
        evidence = _evidence(session, case_id, computed, actor)
        done = _done_analysis(session, evidence.id, request)
        if done is not None:
            return Saved(evidence.id, done, created=False)
        analysis = add_analysis_row(session, evidence.id, request, actor, computed.plan, computed.worker)
        audit.record(session, actor, "analysis.start", case_id=case_id, evidence_id=evidence.id,
                     analysis_id=analysis.id, models=[c.name for c in computed.plan.selection.usable],
                     resumed=None, batch=True, worker=computed.worker)
        folder = analysis_folder(db, case_id, analysis.id)
        shutil.rmtree(folder, ignore_errors=True)  # a fresh id: anything there is left from a rolled-back save
        outcome = replace(computed.outcome, heatmaps=place_heatmaps(computed, folder))
        save_outcome(session, analysis, outcome)
        audit.record(session, actor, "analysis.done", case_id=case_id, evidence_id=evidence.id,
                     analysis_id=analysis.id, verdict=outcome.verdict.label,
                     fake_probability=outcome.verdict.fake_probability, batch=True)
        return Saved(evidence.id, analysis.id, created=True)


def record_refusal(db: Database, case_id: int, refused: Refused, actor: str) -> None:
    """A case's evidence whose file no longer matches its intake hash is audited, as a single analysis does."""
    if refused.evidence_id is None or refused.found_sha256 is None:
        return
    with db.unit_of_work() as session:
        evidence = session.get(Evidence, refused.evidence_id)
        audit.record(session, actor, "evidence.hash_mismatch", case_id=case_id, evidence_id=refused.evidence_id,
                     expected=evidence.sha256 if evidence else None, found=refused.found_sha256, batch=True)


def _evidence(session: Session, case_id: int, computed: Computed, actor: str) -> Evidence:
    plan = computed.plan
    existing = session.scalar(select(Evidence).where(Evidence.case_id == case_id, Evidence.sha256 == plan.sha256))
    if existing is not None:
        return existing
    evidence = Evidence.from_probe(case_id, computed.item.path, plan.sha256, plan.info, actor)
    session.add(evidence)
    session.flush()
    audit.record(session, actor, "evidence.ingest", case_id=case_id, evidence_id=evidence.id,
                 path=computed.item.path, sha256=plan.sha256, size_bytes=plan.info.size_bytes, batch=True)
    return evidence


def _done_analysis(session: Session, evidence_id: int, request: AnalysisRequest) -> int | None:
    rows = session.execute(select(Analysis.id, Analysis.settings, Analysis.seed)
                           .where(Analysis.evidence_id == evidence_id, Analysis.status == "done")
                           .order_by(Analysis.id.desc())).all()
    return next((analysis_id for analysis_id, settings, seed in rows if same_request(settings, seed, request)), None)
