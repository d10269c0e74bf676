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

Who may import, register and train models is decided by :mod:`dfdesk.services.authorization` (the rule the GUI
follows too): the installation's admin once it has one, whichever database ``--db`` names; before that an admin
of the open case database once it has profiles, else anyone (single-user install, said on stderr).  This module
only parses arguments, reads passwords (DFDESK_PASSWORD for the acting profile, or a prompt, never the command
line) and prints.
"""
from __future__ import annotations

import argparse
import sys

from dfdesk.cli import arguments
from dfdesk.cli.common import EXIT_OK, PASSWORD_ENV, CliError, add_db_option, open_database, read_password, stderr_line
from dfdesk.services import authorization, identity, installation, text_limits
from dfdesk.services.authorization import LoginRequired
from dfdesk.services.installation import AdminGrant
from dfdesk.services.profiles import ROLES, ProfileError, any_profile, create_profile
from dfdesk.store.database import Database

ADMIN_PASSWORD_ENV = "DFDESK_ADMIN_PASSWORD"


def register(commands: argparse._SubParsersAction) -> None:
    profile = commands.add_parser("profile", help="local user profiles (analyst, admin)")
    sub = profile.add_subparsers(dest="profile_command", required=True)
    add = sub.add_parser("add", help=f"add a profile (password from ${PASSWORD_ENV} or a prompt)")
    add.add_argument("name", type=arguments.text("the profile name", text_limits.ACTOR, required=True))
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
        if args.role == "admin":
            first_installation_admin = authorization.add_admin_profile(db, args.name, password, actor)
        else:
            first_installation_admin = False
            with db.unit_of_work() as session:
                create_profile(session, args.name, args.role, password, actor)
    except ProfileError as exc:
        raise CliError(str(exc)) from None
    print(f"profile {args.name} ({args.role}) added")
    if first_installation_admin:
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


def authorize_installation(db: Database, profile: str | None, action: str,
                           password_env: str = PASSWORD_ENV) -> tuple[str, AdminGrant]:
    """(the actor, the installation's grant) for ``action``, decided by :mod:`dfdesk.services.authorization`;
    this only reads the password (none on a single-user install) and says on stderr who acts as admin."""
    single_user = not authorization.login_needed(db)
    password = read_password(password_env, f"password for {profile}: ") if profile and not single_user else None
    try:
        actor, grant = authorization.authorize_admin(db, profile, password, action)
    except LoginRequired as exc:
        raise CliError(f"{exc}: give --profile NAME (password from ${password_env} or the prompt)") from None
    except ProfileError as exc:
        raise CliError(str(exc)) from None
    if single_user:
        print(stderr_line("note", "no profiles on this installation or in this database: single-user install, "
                          f"{actor} acts as admin"), file=sys.stderr)
    return actor, grant


def _case_admin(db: Database, profile: str, action: str, password_env: str) -> str:
    """``profile`` once it logged in as an admin of the case database; CliError otherwise."""
    password = read_password(password_env, f"password for {profile}: ")
    try:
        return authorization.case_admin_login(db, profile, password, action)
    except ProfileError as exc:
        raise CliError(str(exc)) from None
