"""`dfdesk profile add NAME --role analyst|admin`, and the admin check of `models import` and `train`.

While the database holds no profile at all, the install is single-user and its user acts as admin (the
command says so on stderr).  Once a profile exists, admin commands need ``--profile NAME``; the password
comes from the DFDESK_PASSWORD environment variable or an interactive prompt, never the command line.
Adding a profile to a database that already has some needs an admin: ``--admin NAME`` with that admin's
password in DFDESK_ADMIN_PASSWORD or at a prompt.  The first profile of a database must be an admin.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from dfdesk.cli.common import EXIT_OK, CliError, add_db_option, open_database
from dfdesk.services import audit
from dfdesk.services.identity import current_analyst
from dfdesk.services.profiles import ROLES, ProfileError, any_profile, authenticate, create_profile, require_admin
from dfdesk.store.database import Database

PASSWORD_ENV = "DFDESK_PASSWORD"
ADMIN_PASSWORD_ENV = "DFDESK_ADMIN_PASSWORD"


def register(commands: argparse._SubParsersAction) -> None:
    profile = commands.add_parser("profile", help="local user profiles (analyst, admin)")
    sub = profile.add_subparsers(dest="profile_command", required=True)
    add = sub.add_parser("add", help=f"add a profile (password from ${PASSWORD_ENV} or a prompt)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--admin", metavar="NAME",
                     help=f"an admin profile allowing this (needed once profiles exist; ${ADMIN_PASSWORD_ENV})")
    add_db_option(add)
    add.set_defaults(handler=profile_add)


def add_profile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", metavar="NAME",
                        help=f"admin profile to act as (password from ${PASSWORD_ENV} or a prompt)")


def profile_add(args: argparse.Namespace) -> int:
    db = open_database(args.db)
    with db.unit_of_work() as session:
        first = not any_profile(session)
    if first:
        if args.role != "admin":
            raise CliError("the first profile must be an admin (otherwise nobody could manage models)")
        actor = current_analyst()
    else:
        if not args.admin:
            raise CliError("profiles exist: adding one needs an admin; give --admin NAME")
        actor = authorize(db, args.admin, "adding a profile", ADMIN_PASSWORD_ENV)
    password = _password(PASSWORD_ENV, f"password for the new profile {args.name!r}: ", confirm=True)
    try:
        with db.unit_of_work() as session:
            create_profile(session, args.name, args.role, password, actor)
    except ProfileError as exc:
        raise CliError(str(exc)) from None
    print(f"profile {args.name} ({args.role}) added")
    return EXIT_OK


def authorize(db: Database, profile: str | None, action: str, password_env: str = PASSWORD_ENV) -> str:
    """The name to audit ``action`` under, once an admin is established; CliError (exit 2) otherwise."""
    with db.unit_of_work() as session:
        profiles_exist = any_profile(session)
    if not profiles_exist:
        actor = current_analyst()
        print(f"dfdesk: note: no profiles in this database: single-user install, {actor} acts as admin",
              file=sys.stderr)
        return actor
    if not profile:
        raise CliError(f"{action} requires an admin profile: give --profile NAME (password from "
                       f"${password_env} or the prompt)")
    password = _password(password_env, f"password for {profile}: ")
    try:
        with db.unit_of_work() as session:
            require_admin(authenticate(session, profile, password), action)
    except ProfileError as exc:
        with db.unit_of_work() as session:
            audit.record(session, profile, "profile.denied", profile=profile, wanted=action, reason=str(exc))
        raise CliError(str(exc)) from None
    return profile


def _password(env: str, prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CliError(f"no password: set ${env} or run the command in a terminal to be asked")
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != value:
        raise CliError("the two passwords differ")
    return value
