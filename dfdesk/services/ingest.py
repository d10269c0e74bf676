"""Evidence intake: probe, hash (streaming, read-only), record.  Nothing is written when the file is refused.

Evidence is recorded by its absolute path, so a later command run from another folder (a report, a resume)
finds the file; the argument as given is kept in the ``evidence.ingest`` audit event (``path_given``).  A path
that the case already holds as evidence, whose bytes now hash differently, is refused as a hash mismatch
naming the intake hash (and the refusal is audited), rather than recorded as a second piece of evidence.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.core.evidence_file import OpenedEvidence
from dfdesk.core.probe import VideoError, check_readable_file, probe_video, sha256_file
from dfdesk.core.types import VideoInfo
from dfdesk.services import audit
from dfdesk.services.cases import get_or_create_case
from dfdesk.store.database import Database
from dfdesk.store.tables import Evidence


class EvidenceChanged(VideoError):
    """The file at a path already ingested into the case no longer has the bytes it had at intake."""


class CaseClosed(VideoError):
    """The case is closed: nothing is added to it until it is reopened (the rule of every front end)."""


@dataclass(frozen=True)
class IngestResult:
    evidence_id: int
    case_id: int
    sha256: str
    created: bool  # False when the same bytes were already in the case
    info: VideoInfo


def ingest_video(db: Database, case_name: str, path: str | Path, actor: str,
                 hash_progress: Callable[[int], None] | None = None) -> IngestResult:
    """Probe and hash ``path`` and record it in ``case_name`` (created if needed).

    Raises VideoError for what is not usable video, EvidenceChanged when the case holds this path as evidence
    with other bytes, and CaseClosed when the case is closed.
    """
    given = str(path)
    absolute = str(Path(path).absolute())  # not resolved: a link named as evidence stays the name recorded
    info, digest = _probe_and_hash(Path(path), hash_progress)
    with db.unit_of_work() as session:
        case = get_or_create_case(session, case_name, actor)
        if case.closed:
            raise CaseClosed(f"case {case.name!r} is closed: reopen it to add evidence (nothing was recorded)")
        changed = _changed_evidence(session, case.id, absolute, given, digest)
        if changed is not None:
            audit.record(session, actor, "evidence.hash_mismatch", case_id=case.id, evidence_id=changed.id,
                         expected=changed.sha256, found=digest, path=absolute, during="ingest")
        else:
            return _record(session, case.id, absolute, given, digest, info, actor)
    raise EvidenceChanged(f"{given}: the file has changed since it was ingested as evidence {changed.id} of this "
                          f"case (SHA-256 at intake {changed.sha256}, now {digest}); refused and audited")


def _probe_and_hash(path: Path, hash_progress: Callable[[int], None] | None) -> tuple[VideoInfo, str]:
    """Probe and hash the file through one descriptor, so the recorded description is of the hashed bytes;
    refuses what is not a usable video before anything is written."""
    check_readable_file(path)  # the plain words for a folder, a pipe, an empty or unreadable file
    with OpenedEvidence(path) as opened:
        info = probe_video(opened)
        return info, opened.hash(hash_progress)


def _changed_evidence(session: Session, case_id: int, absolute: str, given: str, digest: str) -> Evidence | None:
    """The case's evidence recorded at this path (absolute, or as given before paths were stored absolute) whose
    intake hash differs from ``digest``; None when there is none."""
    return session.scalar(select(Evidence).where(Evidence.case_id == case_id, Evidence.path.in_({absolute, given}),
                                                 Evidence.sha256 != digest).order_by(Evidence.id))


def _record(session: Session, case_id: int, absolute: str, given: str, digest: str, info: VideoInfo,
            actor: str) -> IngestResult:
    existing = session.scalar(select(Evidence).where(Evidence.case_id == case_id, Evidence.sha256 == digest))
    if existing is not None:
        audit.record(session, actor, "evidence.reingest", case_id=case_id, evidence_id=existing.id,
                     path=absolute, path_given=given, sha256=digest)
        return IngestResult(existing.id, case_id, digest, False, info)
    evidence = Evidence.from_probe(case_id, absolute, digest, info, actor)
    session.add(evidence)
    session.flush()
    audit.record(session, actor, "evidence.ingest", case_id=case_id, evidence_id=evidence.id, path=absolute,
                 path_given=given, sha256=digest, size_bytes=info.size_bytes)
    return IngestResult(evidence.id, case_id, digest, True, info)


def verify_evidence(evidence: Evidence) -> tuple[bool, str]:
    """Re-hash the evidence file: (matches, digest now or the reason it cannot be read)."""
    try:
        now = sha256_file(evidence.path)
    except OSError as exc:
        return False, f"cannot be read: {exc.strerror or exc}"
    return now == evidence.sha256, now


__all__ = ["EvidenceChanged", "IngestResult", "VideoError", "ingest_video", "verify_evidence"]
