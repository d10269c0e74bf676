"""The installation's admins: who may change what every case database opened here shares.

Installed models (the per-user models folder) are used by the default analysis of every case database, so
installing one is an installation-wide act.  Its admins therefore live in ``installation.sqlite`` in the
per-user data folder (profiles and an audit log of their logins and of the models they install), never in a
case database: opening another or an empty database with ``--db`` gives nobody the right to install models.

While the installation has no admin it is single-user, as before roles existed: whoever runs it may install
models.  The first admin profile created on the installation (in any case database, or here directly) becomes
its first admin; after that only its admins may install, register or train models, and a model folder in the
user models folder that no admin registered (copied in by hand, say) is not used.  Adding further
installation admins needs an existing one.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import select

from dfdesk import paths
from dfdesk.services import audit, identity
from dfdesk.services.profiles import ProfileError, authenticate, hash_password, require_admin
from dfdesk.store.database import Database
from dfdesk.store.tables import Profile

INSTALLATION_DB = "installation.sqlite"
_ISSUED: set[str] = set()  # tokens of the grants this process issued


@dataclass(frozen=True)
class AdminGrant:
    """Proof, within this process, that an installation admin just logged in (or that there is none yet)."""

    profile: str
    granted_at: datetime
    token: str = field(repr=False, default="")

    @property
    def valid(self) -> bool:
        return self.token in _ISSUED


def database() -> Database:
    """The installation database (created on first use)."""
    return _database(str(paths.user_data_dir() / INSTALLATION_DB))


@lru_cache(maxsize=4)
def _database(path: str) -> Database:
    return Database(path)


def has_admin() -> bool:
    """True once the installation has an admin (before that it is single-user)."""
    if not (paths.user_data_dir() / INSTALLATION_DB).exists():
        return False
    with database().unit_of_work() as session:
        return session.scalar(select(Profile.id).where(Profile.role == "admin").limit(1)) is not None


def is_admin(name: str) -> bool:
    if not has_admin():
        return False
    with database().unit_of_work() as session:
        return session.scalar(select(Profile.id).where(Profile.name == name, Profile.role == "admin")) is not None


def grant_admin(name: str | None, password: str | None, action: str) -> AdminGrant:
    """A grant for ``action`` once ``name`` logged in as an installation admin; any caller while there is none.

    Logins, failures and lock-outs are audited in the installation's own log (and slowed down and locked out
    there, whichever case database is open).  Raises :class:`ProfileError`.
    """
    if not has_admin():
        return _issue(identity.current_analyst())
    if not name:
        raise ProfileError(f"{action} needs an admin of this installation")
    with database().unit_of_work() as session:
        require_admin(authenticate(session, name, password or ""), f"{action} (on this installation)")
    return _issue(name)


def require_grant(grant: AdminGrant | None, action: str) -> str:
    """The admin's name, or ProfileError when the installation has admins and ``grant`` is not one it issued."""
    if grant is not None and grant.valid and (not has_admin() or is_admin(grant.profile)):
        return grant.profile
    if not has_admin():
        return identity.current_analyst()
    raise ProfileError(f"{action} needs an admin of this installation (log in as one)")


def adopt_first_admin(name: str, password: str, actor: str) -> bool:
    """Make ``name`` the installation's first admin when it has none; False when it already has one."""
    if has_admin():
        return False
    with database().unit_of_work() as session:
        if session.scalar(select(Profile.id).where(Profile.name == name)) is None:
            session.add(Profile(name=name, role="admin", password_hash=hash_password(password)))
            session.flush()
        audit.record(session, actor, "installation.first_admin", profile=name)
    return True


def record(actor: str, action: str, **details) -> None:
    """Audit an installation-wide act (a model installed or registered) in the installation's own log."""
    with database().unit_of_work() as session:
        audit.record(session, actor, action, **details)


def _issue(profile: str) -> AdminGrant:
    token = secrets.token_hex(16)
    _ISSUED.add(token)
    return AdminGrant(profile, datetime.now(UTC), token)
