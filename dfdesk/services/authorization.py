"""Who may act as an admin, for both front-ends: the one place that decides, signs in and audits admin logins.

Two kinds of admin (docs/ARCHITECTURE.md, "Roles and profiles"):

* the installation's admins (:mod:`dfdesk.services.installation`) install, register and train the models every
  case database uses.  Once the installation has one, :func:`authorize_admin` checks the password there
  (failures counted and locked out in the installation's log) and also writes the login, or the failed
  attempt, to the open case database's log, so that it says who tried to act on it;
* before the installation has an admin, the rule from before installation admins existed holds: an admin of
  the open case database once it has profiles, else anyone, since a single-user install has nobody to ask
  (:func:`login_needed` is then False).

Every refusal is a :class:`~dfdesk.services.profiles.ProfileError` whose message is one sentence, and is audited
as ``profile.denied`` in the open database.  A successful login signs the profile in to this process
(:mod:`dfdesk.services.identity`), so later events are recorded as that authenticated profile.
"""
from __future__ import annotations

from dfdesk.services import audit, identity, installation
from dfdesk.services.installation import AdminGrant
from dfdesk.services.profiles import (
    ProfileError,
    ProfileLocked,
    any_profile,
    authenticate,
    create_profile,
    require_admin,
)
from dfdesk.store.database import Database


class LoginRequired(ProfileError):
    """An admin login is needed and no profile was named."""


def login_needed(db: Database) -> bool:
    """False only on a single-user install: no installation admin and no profile in the open case database."""
    if installation.has_admin():
        return True
    with db.unit_of_work() as session:
        return any_profile(session)


def authorize_admin(db: Database, profile: str | None, password: str | None, action: str) -> tuple[str, AdminGrant]:
    """(the actor to audit ``action`` under, the installation's grant for it); ProfileError when not allowed.

    On a single-user install the actor is the current (unauthenticated) user and ``profile`` is ignored.
    """
    if not login_needed(db):
        return identity.current_analyst(), installation.grant_admin(None, None, action)
    if not profile:
        raise LoginRequired(f"{action} requires an admin profile")
    try:
        grant = _admin_login(db, profile, password or "", action)
    except ProfileError as exc:
        identity.sign_out()
        _record_denial(db, profile, action, exc)
        raise
    return profile, grant


def case_admin_login(db: Database, profile: str, password: str, action: str) -> str:
    """``profile`` once it logged in as an admin of the open case database (which may add profiles to it)."""
    try:
        _case_login(db, profile, password, action)
    except ProfileError as exc:
        _record_denial(db, profile, action, exc)
        raise
    return profile


def add_admin_profile(db: Database, name: str, password: str, actor: str) -> bool:
    """Create the admin profile ``name`` in the open case database, audited under ``actor``; it also becomes the
    installation's first admin when the installation has none (True then)."""
    with db.unit_of_work() as session:
        create_profile(session, name, "admin", password, actor)
    return installation.adopt_first_admin(name, password, actor)


def create_first_admin(db: Database, name: str, password: str) -> tuple[str, AdminGrant]:
    """On a single-user install, create its first admin profile (in the open case database and as the
    installation's first admin, both audited) and log in as it: (the profile's name, its grant)."""
    if login_needed(db):
        raise ProfileError("profiles exist already: log in as an admin instead of creating the first one")
    if not name.strip():
        raise ProfileError("the profile needs a name")
    add_admin_profile(db, name, password, identity.current_analyst())
    return authorize_admin(db, name, password, "the first admin's login")


def sign_out() -> None:
    """Stop acting as a signed-in profile (back to the unauthenticated label)."""
    identity.sign_out()


def _admin_login(db: Database, profile: str, password: str, action: str) -> AdminGrant:
    if installation.has_admin():
        grant = _installation_login(db, profile, password, action)
        identity.sign_in(profile)
        return grant
    _case_login(db, profile, password, action)
    identity.sign_in(profile)
    return installation.grant_admin(None, None, action)  # no installation admin yet: for the signed-in admin


def _case_login(db: Database, profile: str, password: str, action: str) -> None:
    with db.unit_of_work() as session:  # authenticate commits a failure itself: it survives the rollback
        require_admin(authenticate(session, profile, password), action)


def _installation_login(db: Database, profile: str, password: str, action: str) -> AdminGrant:
    """The installation checks the password (and counts failures); the open database's log records the login
    or the failed attempt too."""
    try:
        grant = installation.grant_admin(profile, password, action)
    except ProfileError as exc:
        failed = "profile.login_locked" if isinstance(exc, ProfileLocked) else "profile.login_failed"
        _record(db, profile, failed, False)
        raise
    _record(db, profile, "profile.login", True)
    return grant


def _record(db: Database, profile: str, action: str, authenticated: bool) -> None:
    with db.unit_of_work() as session:
        audit.record(session, profile, action, authenticated=authenticated, profile=profile, checked_by="installation")


def _record_denial(db: Database, profile: str, action: str, exc: ProfileError) -> None:
    with db.unit_of_work() as session:
        audit.record(session, profile, "profile.denied", authenticated=False, profile=profile, wanted=action,
                     reason=str(exc))
