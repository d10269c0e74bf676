"""Local user profiles with roles (analyst, admin); passwords kept as salted scrypt hashes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.services import audit
from dfdesk.store.tables import Profile

ROLES = ("analyst", "admin")
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class ProfileError(Exception):
    """Unknown profile, wrong password, or an action the profile's role does not allow."""


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
    """The profile, after checking its password; a failed attempt is audited and committed before raising."""
    profile = session.scalar(select(Profile).where(Profile.name == name))
    if profile is None or not check_password(password, profile.password_hash):
        audit.record(session, name, "profile.login_failed", profile=name, known=profile is not None)
        session.commit()  # the failure is evidence too: it must survive the caller's rollback on the raise below
        raise ProfileError("unknown profile or wrong password")
    audit.record(session, name, "profile.login", profile=name, role=profile.role)
    return profile


def require_admin(profile: Profile | None, action: str) -> None:
    if profile is None or profile.role != "admin":
        raise ProfileError(f"{action} requires an admin profile")


def any_profile(session: Session) -> bool:
    """True once at least one profile exists (before that, the single-user install acts as admin)."""
    return session.scalar(select(Profile.id).limit(1)) is not None
