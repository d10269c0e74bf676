"""`dfdesk profile add NAME --role analyst|admin [--installation]`, and the admin check of model and training
commands.

Two kinds of admin (see docs/ARCHITECTURE.md, "Roles and profiles"):

* a case database's admins add profiles to that database.  While it holds no profile, its first one must be an
  admin; after that, adding one needs ``--admin NAME`` with that admin's password in DFDESK_ADMIN_PASSWORD or at
  a prompt;
* the installation's admins (``dfdesk.services.installation``, kept outside every case database) install,
  register and train the models every database uses.  The first admin profile created on an installation that
  has none becomes its first admin too; ``--installation`` adds one there directly (needing an existing
  installation admin once there is one).

Model import, registration and training need the installation's admin once it has one, whichever database
``--db`` names (the login is audited in the installation's log and in the open database's).  An installation
without an admin falls back to the rule from before installation admins existed: an admin of the open case
database once that has profiles, else anyone (single-user install, said on stderr).  Passwords come from
DFDESK_PASSWORD (the acting profile) or a prompt, never the command line.
"""
from __future__ import annotations

import argparse
import sys

from dfdesk.cli.common import EXIT_OK, PASSWORD_ENV, CliError, add_db_option, open_database, read_password
from dfdesk.services import audit, identity, installation
from dfdesk.services.installation import AdminGrant
from dfdesk.services.profiles import (
    ROLES,
    ProfileError,
    ProfileLocked,
    any_profile,
    authenticate,
    create_profile,
    require_admin,
)
from dfdesk.store.database import Database

ADMIN_PASSWORD_ENV = "DFDESK_ADMIN_PASSWORD"


def register(commands: argparse._SubParsersAction) -> None:
    profile = commands.add_parser("profile", help="local user profiles (analyst, admin)")
    sub = profile.add_subparsers(dest="profile_command", required=True)
    add = sub.add_parser("add", help=f"add a profile (password from ${PASSWORD_ENV} or a prompt)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--admin", metavar="NAME",
                     help=f"an admin profile allowing this (needed once profiles exist; ${ADMIN_PASSWORD_ENV})")
    add.add_argument("--installation", action="store_true",
                     help="add an admin of this installation (who may install and train models) instead of a "
                          "profile of the case database")
    add_db_option(add)
    add.set_defaults(handler=profile_add)


def add_profile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", metavar="NAME",
                        help=f"admin profile to act as (password from ${PASSWORD_ENV} or a prompt)")


def profile_add(args: argparse.Namespace) -> int:
    if args.installation:
        return _installation_admin_add(args)
    db = open_database(args.db)
    with db.unit_of_work() as session:
        first = not any_profile(session)
    if first:
        if args.role != "admin":
            raise CliError("the first profile must be an admin (otherwise nobody could manage models)")
        actor = identity.current_analyst()
    else:
        if not args.admin:
            raise CliError("profiles exist: adding one needs an admin; give --admin NAME")
        actor = _case_admin(db, args.admin, "adding a profile", ADMIN_PASSWORD_ENV)
    password = read_password(PASSWORD_ENV, f"password for the new profile {args.name!r}: ", confirm=True)
    try:
        with db.unit_of_work() as session:
            create_profile(session, args.name, args.role, password, actor)
    except ProfileError as exc:
        raise CliError(str(exc)) from None
    print(f"profile {args.name} ({args.role}) added")
    if args.role == "admin" and installation.adopt_first_admin(args.name, password, actor):
        print(f"{args.name} is also the first admin of this installation (installs and trains models)")
    return EXIT_OK


def _installation_admin_add(args: argparse.Namespace) -> int:
    if args.role != "admin":
        raise CliError("an installation's profiles are admins: give --role admin")
    actor = identity.current_analyst()
    if installation.has_admin():
        if not args.admin:
            raise CliError("this installation has an admin: adding another needs --admin NAME")
        password = read_password(ADMIN_PASSWORD_ENV, f"password for {args.admin}: ")
        try:
            actor = installation.grant_admin(args.admin, password, "adding an installation admin").profile
        except ProfileError as exc:
            raise CliError(str(exc)) from None
    password = read_password(PASSWORD_ENV, f"password for the new admin {args.name!r}: ", confirm=True)
    try:
        with installation.database().unit_of_work() as session:
            create_profile(session, args.name, "admin", password, actor)
    except ProfileError as exc:
        raise CliError(str(exc)) from None
    print(f"installation admin {args.name} added")
    return EXIT_OK


def authorize(db: Database, profile: str | None, action: str, password_env: str = PASSWORD_ENV) -> str:
    """The name to audit an installation-wide ``action`` under; CliError (exit 2) when not allowed."""
    return authorize_installation(db, profile, action, password_env)[0]


def authorize_installation(db: Database, profile: str | None, action: str,
                           password_env: str = PASSWORD_ENV) -> tuple[str, AdminGrant]:
    """(the actor, the installation's grant) for ``action``: the installation's admin once it has one; else an
    admin of the case database once it has profiles; else anyone (single-user).  Signs the admin in."""
    installation_admins = installation.has_admin()
    with db.unit_of_work() as session:
        case_profiles = any_profile(session)
    if not installation_admins and not case_profiles:
        actor = identity.current_analyst()
        print(f"dfdesk: note: no profiles on this installation or in this database: single-user install, {actor} "
              "acts as admin", file=sys.stderr)
        return actor, installation.grant_admin(None, None, action)
    if not profile:
        raise CliError(f"{action} requires an admin profile: give --profile NAME (password from "
                       f"${password_env} or the prompt)")
    password = read_password(password_env, f"password for {profile}: ")
    try:
        if installation_admins:
            grant = _installation_login(db, profile, password, action)
            identity.sign_in(profile)
        else:
            _case_login(db, profile, password, action)
            identity.sign_in(profile)
            grant = installation.grant_admin(None, None, action)  # no installation admin: for the signed-in admin
    except ProfileError as exc:
        identity.sign_out()
        _record_denial(db, profile, action, exc)
        raise CliError(str(exc)) from None
    return profile, grant


def _case_admin(db: Database, profile: str, action: str, password_env: str) -> str:
    """``profile`` once it logged in as an admin of the case database; CliError otherwise."""
    password = read_password(password_env, f"password for {profile}: ")
    try:
        _case_login(db, profile, password, action)
    except ProfileError as exc:
        _record_denial(db, profile, action, exc)
        raise CliError(str(exc)) from None
    return profile


def _case_login(db: Database, profile: str, password: str, action: str) -> None:
    with db.unit_of_work() as session:
        require_admin(authenticate(session, profile, password), action)


def _installation_login(db: Database, profile: str, password: str, action: str) -> AdminGrant:
    """The installation checks the password (and counts failures); the open database's log shows the login or
    the failed attempt too, so that it says who tried to act on it."""
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
