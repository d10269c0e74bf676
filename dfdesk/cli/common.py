"""What every sub-command shares: the database option and sign-in, exit codes, one-line errors, progress bars.

Signing in: with ``DFDESK_PROFILE=NAME`` in the environment, every command that opens a case database first
logs in as that profile (password from ``DFDESK_PASSWORD`` or a prompt, never the command line) and acts and is
audited as it; a failed login ends the command.  Without it, the actor is an unauthenticated label
(``DFDESK_ANALYST`` or the operating-system user), which the audit log marks as such once the database has
profiles.
"""
from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dfdesk import paths
from dfdesk.cli import arguments
from dfdesk.services import identity

if TYPE_CHECKING:
    from dfdesk.store.database import Database

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
PROFILE_ENV = "DFDESK_PROFILE"
PASSWORD_ENV = "DFDESK_PASSWORD"
_OPENED: list[Database] = []  # the databases this command opened; run_cli closes them when it ends


class CliError(Exception):
    """Ends the command with one line on stderr and the given exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=arguments.database_file, default=None, metavar="PATH",
                        help="case database file (default: the per-user data folder)")


def open_database(path: Path | None) -> Database:
    """The case database, after signing in as ``$DFDESK_PROFILE`` when it is set (CliError if that fails).
    SQLAlchemy loads here, not when the arguments are parsed."""
    from dfdesk.store.database import Database

    db = Database(path or paths.default_database_path())
    _OPENED.append(db)
    sign_in_from_environment(db)
    return db


def close_databases() -> None:
    """Close every database the command opened: its connections end and SQLite folds the write-ahead log
    into the file, so the file alone holds every committed change once the command returns."""
    while _OPENED:
        _OPENED.pop().close()


def sign_in_from_environment(db: Database) -> None:
    from dfdesk.services.profiles import ProfileError, authenticate

    identity.sign_out()  # a command never inherits an earlier command's login
    name = os.environ.get(PROFILE_ENV)
    if not name:
        return
    password = read_password(PASSWORD_ENV, f"password for {name}: ")
    try:
        with db.unit_of_work() as session:
            authenticate(session, name, password)
    except ProfileError as exc:
        raise CliError(f"${PROFILE_ENV}: {exc}") from None
    identity.sign_in(name)


def read_password(env: str, prompt: str, confirm: bool = False) -> str:
    """A password from ``$env`` or, on a terminal, a prompt; never from the command line."""
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CliError(f"no password: set ${env} or run the command in a terminal to be asked")
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != value:
        raise CliError("the two passwords differ")
    return value


def stderr_line(kind: str, message: str) -> str:
    """The command line's own line on stderr: ``dfdesk: KIND: message`` (kind: error, warning, note)."""
    return f"dfdesk: {kind}: {message}"


def print_error(message: str) -> None:
    print(stderr_line("error", message), file=sys.stderr)


class _PrefixedLines(logging.Handler):
    """Writes what dfdesk's modules log at WARNING or above as ``dfdesk: warning: ...`` lines on stderr, each
    distinct line once (a full disk refuses every audit-head record of a command alike)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.written: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        line = stderr_line(record.levelname.lower(), record.getMessage())
        if line not in self.written:
            self.written.add(line)
            print(line, file=sys.stderr)


@contextmanager
def logged_warnings_as_lines():
    """While a command runs, the services' logged warnings carry the command line's prefix (Python's fallback
    prints them bare)."""
    logger, handler = logging.getLogger("dfdesk"), _PrefixedLines()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def interactive() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, description: str, unit: str = "it", unit_scale: bool = False):
    """A tqdm bar on a terminal; a silent stand-in when output goes to a file or pipe."""
    if not interactive():
        yield _Silent()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit=unit, unit_scale=unit_scale, leave=False) as bar:
        yield bar


class _Silent:
    def update(self, _n: int = 1) -> None:
        pass

    def set_description_str(self, _text: str) -> None:
        pass
