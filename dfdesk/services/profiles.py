"""Local user profiles with roles (analyst, admin); passwords kept as salted scrypt hashes.

Failed logins slow down and lock out: after the n-th failure in a row the answer comes only after
:func:`failure_delay` seconds, and after :data:`MAX_FAILURES` failures in a row the profile is locked for
:data:`LOCK_SECONDS` from the last one; attempts while it is locked are refused without checking the password.
Every failure, every lock and every refused attempt is audited.  The count is read back from the database's
own audit log (failures since the last successful login), so it survives restarts and cannot be reset
without breaking the hash chain.  Anyone who knows a profile's name can lock it out for a while: the price of
making guessing slow.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.services import audit
from dfdesk.store.tables import AuditEvent, Profile

ROLES = ("analyst", "admin")
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
MAX_DELAY_S = 8.0
LOGIN_ACTIONS = ("profile.login", "profile.login_failed")
_sleep = time.sleep  # replaced in tests, which assert the delays asked for, never wall-clock time


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ProfileError(Exception):
    """Unknown profile, wrong password, or an action the profile's role does not allow."""


class ProfileLocked(ProfileError):
    """Too many failed logins in a row: the profile refuses logins for a while."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(key).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, key = stored.split("$")
    except ValueError:
        return False
    candidate = hash_password(password, base64.b64decode(salt))
    return scheme == "scrypt" and hmac.compare_digest(candidate.split("$")[2], key)


def create_profile(session: Session, name: str, role: str, password: str, actor: str) -> Profile:
    if role not in ROLES:
        raise ProfileError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ProfileError("a password needs at least 8 characters")
    if session.scalar(select(Profile.id).where(Profile.name == name)) is not None:
        raise ProfileError(f"a profile named {name!r} already exists")
    profile = Profile(name=name, role=role, password_hash=hash_password(password))
    session.add(profile)
    session.flush()
    audit.record(session, actor, "profile.create", profile=name, role=role)
    return profile


def authenticate(session: Session, name: str, password: str) -> Profile:
    """The profile, after checking its password.

    A failed or refused attempt is audited and committed before raising (the failure is evidence too: it must
    survive the caller's rollback), then answered only after the delay its place in the series earns.
    """
    locked_until = lock_expiry(session, name)
    if locked_until is not None:
        audit.record(session, name, "profile.login_locked", authenticated=False, profile=name,
                     until=locked_until.isoformat(timespec="seconds"))
        session.commit()
        raise ProfileLocked(f"profile {name!r} is locked after {MAX_FAILURES} failed logins in a row; try again "
                            f"after {locked_until.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}")
    profile = session.scalar(select(Profile).where(Profile.name == name))
    if profile is None or not check_password(password, profile.password_hash):
        _fail(session, name, known=profile is not None)
    audit.record(session, name, "profile.login", authenticated=True, profile=name, role=profile.role)
    return profile


def _fail(session: Session, name: str, known: bool) -> None:
    failures = len(_failures_since_last_login(session, name)) + 1
    audit.record(session, name, "profile.login_failed", authenticated=False, profile=name, known=known,
                 failures_in_a_row=failures)
    if failures >= MAX_FAILURES:
        audit.record(session, name, "profile.locked", authenticated=False, profile=name, failures_in_a_row=failures,
                     lock_seconds=LOCK_SECONDS)
    session.commit()
    _sleep(failure_delay(failures))
    if failures >= MAX_FAILURES:
        raise ProfileLocked(f"unknown profile or wrong password; profile {name!r} is now locked for "
                            f"{LOCK_SECONDS // 60} minutes")
    raise ProfileError("unknown profile or wrong password")


def failure_delay(failures_in_a_row: int) -> float:
    """Seconds before answering the n-th failure in a row: 0, 1, 2, 4, then 8."""
    return 0.0 if failures_in_a_row < 2 else min(2.0 ** (failures_in_a_row - 2), MAX_DELAY_S)


def lock_expiry(session: Session, name: str) -> datetime | None:
    """When the lock on ``name`` ends, or None when it is not locked."""
    failures = _failures_since_last_login(session, name)
    if len(failures) < MAX_FAILURES:
        return None
    until = failures[0] + timedelta(seconds=LOCK_SECONDS)
    return until if _utcnow() < until else None


def _failures_since_last_login(session: Session, name: str) -> list[datetime]:
    """Times of the failed logins of ``name`` since its last successful one, newest first (at most MAX_FAILURES)."""
    query = (select(AuditEvent.action, AuditEvent.at).where(AuditEvent.actor == name,
                                                             AuditEvent.action.in_(LOGIN_ACTIONS))
             .order_by(AuditEvent.id.desc()).limit(MAX_FAILURES))
    times = []
    for action, at in session.execute(query):
        if action == "profile.login":
            break
        times.append(at if at.tzinfo else at.replace(tzinfo=UTC))
    return times


def require_admin(profile: Profile | None, action: str) -> None:
    if profile is None or profile.role != "admin":
        raise ProfileError(f"{action} requires an admin profile")


def any_profile(session: Session) -> bool:
    """True once at least one profile exists (before that, the single-user install acts as admin)."""
    return session.scalar(select(Profile.id).limit(1)) is not None
