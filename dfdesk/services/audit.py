"""The append-only, hash-chained audit log.

Each row's hash covers its own content and the previous row's hash, so an edited,
deleted or reordered row breaks the chain from that point on.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.store.tables import AuditEvent

GENESIS = "0" * 64


def _canonical(event_id: int, at: datetime, actor: str, action: str, case_id, evidence_id, details: dict) -> bytes:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    body = {"id": event_id, "at": at.astimezone(UTC).isoformat(), "actor": actor, "action": action,
            "case_id": case_id, "evidence_id": evidence_id, "details": details}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def record(session: Session, actor: str, action: str, *, case_id: int | None = None,
           evidence_id: int | None = None, **details) -> AuditEvent:
    """Append one event in the caller's unit of work (so it commits with the change it describes)."""
    last = session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    event_id, prev_hash = (last.id + 1, last.hash) if last else (1, GENESIS)
    at = datetime.now(UTC)
    details = json.loads(json.dumps(details, default=str))  # what is hashed is what is stored
    content = _canonical(event_id, at, actor, action, case_id, evidence_id, details)
    event = AuditEvent(id=event_id, at=at, actor=actor, action=action, case_id=case_id, evidence_id=evidence_id,
                       details=details, prev_hash=prev_hash, hash=chain_hash(prev_hash, content))
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    problem: str


def verify(session: Session) -> list[ChainProblem]:
    """Every break in the chain; an empty list means the log is intact."""
    problems: list[ChainProblem] = []
    prev_hash, expected_id = GENESIS, 1
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.id != expected_id:
            problems.append(ChainProblem(event.id, f"row(s) {expected_id}..{event.id - 1} missing"))
        if event.prev_hash != prev_hash:
            problems.append(ChainProblem(event.id, "does not follow the previous row (deleted or reordered row)"))
        content = _canonical(event.id, event.at, event.actor, event.action, event.case_id, event.evidence_id,
                             event.details)
        if chain_hash(event.prev_hash, content) != event.hash:
            problems.append(ChainProblem(event.id, "content does not match its hash (edited row)"))
        prev_hash, expected_id = event.hash, event.id + 1
    return problems


def events_for(session: Session, *, case_id: int | None = None, evidence_id: int | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if case_id is not None:
        query = query.where(AuditEvent.case_id == case_id)
    if evidence_id is not None:
        query = query.where(AuditEvent.evidence_id == evidence_id)
    return list(session.scalars(query))
