"""The append-only, hash-chained, signed audit log.

Each row's hash covers its own content and the previous row's hash, so an edited, deleted or reordered row
breaks the chain from that point on.  Each row also carries the installation's Ed25519 signature of its
(id, hash), the chain's head when it was written: a chain edited and then recomputed from the edit onwards no
longer matches its signatures unless whoever recomputed it holds the installation's key.  After every commit
the head is also recorded outside the database (:mod:`dfdesk.services.audit_heads`), so deleting the last rows
shows as well.  When the database has profiles, each event says whether its actor was the authenticated
profile (``actor_authenticated`` in the details) or only a name from DFDESK_ANALYST or the operating system.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.services import audit_heads, identity, signing
from dfdesk.store.tables import AuditEvent, Profile

GENESIS = "0" * 64


def _canonical(event_id: int, at: datetime, actor: str, action: str, case_id, evidence_id, details: dict) -> bytes:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    body = {"id": event_id, "at": at.astimezone(UTC).isoformat(), "actor": actor, "action": action,
            "case_id": case_id, "evidence_id": evidence_id, "details": details}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def head_message(event_id: int, head_hash: str) -> bytes:
    """What the installation key signs for the chain's head after event ``event_id``."""
    return f"dfdesk audit head\n{event_id}\n{head_hash}".encode()


def record(session: Session, actor: str, action: str, *, case_id: int | None = None,
           evidence_id: int | None = None, authenticated: bool | None = None, **details) -> AuditEvent:
    """Append one signed event in the caller's unit of work (so it commits with the change it describes).

    ``authenticated`` says whether ``actor`` proved who they are; left None it is True only for the profile
    signed in to this process (:mod:`dfdesk.services.identity`).  It is recorded once the database has profiles.
    """
    last = session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    event_id, prev_hash = (last.id + 1, last.hash) if last else (1, GENESIS)
    at = datetime.now(UTC)
    if has_profiles(session):
        details["actor_authenticated"] = identity.is_authenticated(actor) if authenticated is None else authenticated
    details = json.loads(json.dumps(details, default=str))  # what is hashed is what is stored
    content = _canonical(event_id, at, actor, action, case_id, evidence_id, details)
    head = chain_hash(prev_hash, content)
    signer, signature = signing.sign(head_message(event_id, head))
    event = AuditEvent(id=event_id, at=at, actor=actor, action=action, case_id=case_id, evidence_id=evidence_id,
                       details=details, prev_hash=prev_hash, hash=head, signer=signer, signature=signature)
    session.add(event)
    session.flush()
    audit_heads.remember_after_commit(session, event_id, head)
    return event


def has_profiles(session: Session) -> bool:
    return session.scalar(select(Profile.id).limit(1)) is not None


@dataclass(frozen=True)
class Head:
    """The chain's head: how many events, the last one's hash, and the installation's signature of it."""

    count: int
    hash: str
    signer: str
    signature: str


def head(session: Session) -> Head:
    """The last event's id (the event count of an intact log, and what later checks look up), hash and signature."""
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
    if last is None:
        return Head(0, GENESIS, "", "")
    return Head(last.id, last.hash, last.signer, last.signature)


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    problem: str


def verify(session: Session) -> list[ChainProblem]:
    """Every break in the chain, every bad or missing signature, and a head that ends before the one this
    installation recorded; an empty list means the log is intact."""
    problems: list[ChainProblem] = []
    prev_hash, expected_id = GENESIS, 1
    hashes: dict[int, str] = {}
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.id != expected_id:
            problems.append(ChainProblem(event.id, f"row(s) {expected_id}..{event.id - 1} missing"))
        if event.prev_hash != prev_hash:
            problems.append(ChainProblem(event.id, "does not follow the previous row (deleted or reordered row)"))
        if not content_matches(event):
            problems.append(ChainProblem(event.id, "content does not match its hash (edited row)"))
        signature_problem = _signature_problem(event)
        if signature_problem:
            problems.append(ChainProblem(event.id, signature_problem))
        prev_hash, expected_id = event.hash, event.id + 1
        hashes[event.id] = event.hash
    problems.extend(_truncation(session, hashes))
    return problems


def content_matches(event: AuditEvent) -> bool:
    """The event's recorded content, chained to its predecessor's hash, gives the hash it stores (not edited)."""
    content = _canonical(event.id, event.at, event.actor, event.action, event.case_id, event.evidence_id,
                         event.details)
    return chain_hash(event.prev_hash, content) == event.hash


def signed_here(event: AuditEvent) -> bool:
    """The event's hash carries a valid signature by this installation's (or a trusted) key."""
    return signing.check(head_message(event.id, event.hash), event.signer, event.signature) is True


def _signature_problem(event: AuditEvent) -> str:
    if not event.signature:
        return "not signed (written without the installation's key, or its signature was removed)"
    valid = signing.check(head_message(event.id, event.hash), event.signer, event.signature)
    if valid is None:
        return (f"signed by an unknown key {event.signer[:16]}… (not this installation's; add the other "
                "installation's public key to keys/trusted/ to check it)")
    return "" if valid else "signature does not match its hash (chain recomputed or row forged)"


def _truncation(session: Session, hashes: dict[int, str]) -> list[ChainProblem]:
    """Compare with the head this installation recorded after its last commit to this database file."""
    database = session.get_bind().url.database
    recorded = audit_heads.recorded_head(database) if database and database != ":memory:" else None
    if recorded is None:
        return []
    count, head_hash = recorded
    if count not in hashes:
        return [ChainProblem(count, f"the log ends before event {count}, which this installation recorded as "
                                    f"committed (hash {head_hash[:16]}…): rows were deleted")]
    if hashes[count] != head_hash:
        return [ChainProblem(count, f"event {count} differs from the one this installation recorded "
                                    f"(hash {head_hash[:16]}…): the log was rewritten")]
    return []


def events_for(session: Session, *, case_id: int | None = None, evidence_id: int | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if case_id is not None:
        query = query.where(AuditEvent.case_id == case_id)
    if evidence_id is not None:
        query = query.where(AuditEvent.evidence_id == evidence_id)
    return list(session.scalars(query))
