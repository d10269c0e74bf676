"""What a database file is, found out before dfdesk writes a byte to it.

A case database is marked as dfdesk's in its SQLite header: ``PRAGMA application_id`` is :data:`APPLICATION_ID`
(the ASCII bytes "dfDk"), and ``PRAGMA user_version`` is :data:`FILE_FORMAT`, set when the file is created and
then left alone (schema changes are Alembic revisions, not user_version bumps).  Before anything is written:

* :func:`examine` reads the file read-only (creating no -wal or -shm file beside one that has none) and refuses a file
  that another program owns: an application id that is not dfdesk's, or tables without it (a database dfdesk
  made before the id existed is recognised by its own tables and stamped when opened).  It also notices a file
  or folder that cannot be written (read-only media, a write-protected copy): such a file is opened read-only,
  can be read and verified, and any write fails with one line;
* :func:`quick_check`, on the connection dfdesk then uses, refuses a damaged file: SQLite's ``PRAGMA
  quick_check`` (b-tree structure, page and free lists; unlike ``integrity_check`` it does not compare indexes
  with their tables, so it stays fast on large files) must answer "ok".

File names are always used literally (never parsed as a URL or a SQLite URI) except where SQLite needs a URI to
open read-only, and then the name is percent-encoded.
"""
from __future__ import annotations

import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

APPLICATION_ID = 0x6466_446B  # "dfDk": marks a dfdesk case (or installation) database in its SQLite header
FILE_FORMAT = 1  # PRAGMA user_version written when a file is created; kept as it is afterwards
DFDESK_TABLES = frozenset({"alembic_version", "cases", "evidence", "audit_events"})
QUICK_CHECK_LINES = 3  # problems quoted when a file is damaged


class DatabaseError(Exception):
    """The case database cannot be opened or is not a dfdesk database."""


@dataclass(frozen=True)
class FileFacts:
    """What :func:`examine` found out about a database file it accepted."""

    read_only: bool  # the file or its folder cannot be written: open it read-only
    needs_stamp: bool  # new, or made by dfdesk before the application id: write the id and format when opened


def examine(path: Path) -> FileFacts:
    """Check ``path`` (absolute) before it is opened for use; DatabaseError, naming the file, when it is refused."""
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a case database file")
    if path.exists() and not path.is_file():
        raise DatabaseError(f"{path} is not a regular file (a device, pipe or socket): not a case database")
    _make_folder(path.parent)
    if not path.exists() or path.stat().st_size == 0:
        if not os.access(path.parent, os.W_OK):
            raise DatabaseError(f"{path}: cannot create a case database in a folder that cannot be written")
        return FileFacts(read_only=False, needs_stamp=True)
    read_only = not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
    return FileFacts(read_only=read_only, needs_stamp=_examine_contents(path) == 0)


def sqlite_target(path: Path, read_only: bool) -> tuple[str, bool]:
    """(name, uri) for :func:`sqlite3.connect`: the literal file name, or a read-only URI of it."""
    if not read_only:
        return str(path), False
    # in a folder that cannot be written nothing can create the -shm file; without a -wal, no newer pages exist
    immutable = not os.access(path.parent, os.W_OK) and not _sibling(path, "-wal").exists()
    return _read_only_uri(path, immutable), True


def _read_only_uri(path: Path, immutable: bool) -> str:
    options = {"mode": "ro", **({"immutable": "1"} if immutable else {})}
    return f"file:{urllib.parse.quote(str(path))}?{urllib.parse.urlencode(options)}"


def connect(path: Path, read_only: bool, timeout_s: float) -> sqlite3.Connection:
    """A DB-API connection to ``path``, by its literal name (or read-only URI); shared across a pool's threads."""
    name, uri = sqlite_target(path, read_only)
    return sqlite3.connect(name, timeout=timeout_s, uri=uri, check_same_thread=False)


def stamp(connection) -> None:
    """Mark the file as dfdesk's (inside the caller's write transaction; SQLAlchemy or DB-API connection)."""
    run = getattr(connection, "exec_driver_sql", None) or connection.execute
    run(f"PRAGMA application_id = {APPLICATION_ID}")
    run(f"PRAGMA user_version = {FILE_FORMAT}")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"{folder}: cannot hold a case database ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise DatabaseError(f"{folder} is not a folder: it cannot hold a case database")


def _examine_contents(path: Path) -> int:
    """The file's application id, once it has passed the ownership check (read-only; nothing is created)."""
    try:
        connection = sqlite3.connect(_inspection_uri(path), uri=True, timeout=30)
        try:
            return _check_owner(connection, path)
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(_unreadable(path, exc)) from None


def _inspection_uri(path: Path) -> str:
    """Without a -wal file the main file holds every committed page: read it as immutable, creating no -shm."""
    return _read_only_uri(path, immutable=not _sibling(path, "-wal").exists())


def _check_owner(connection: sqlite3.Connection, path: Path) -> int:
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if application_id != APPLICATION_ID and (application_id != 0 or (tables and not DFDESK_TABLES <= tables)):
        raise DatabaseError(f"{path} is not a dfdesk case database (SQLite application id {application_id:#010x}"
                            f", {len(tables)} table(s) of another program): refused, nothing was written to it")
    return application_id


def quick_check(connection: sqlite3.Connection, path: Path) -> None:
    """DatabaseError when SQLite's quick check finds the file damaged (run on the connection dfdesk will use)."""
    try:
        problems = [" ".join(str(row[0]).split()) for row in
                    connection.execute(f"PRAGMA quick_check({QUICK_CHECK_LINES})")]
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(_unreadable(path, exc)) from None
    if problems != ["ok"]:
        raise DatabaseError(f"{path} is damaged (SQLite quick_check: {'; '.join(problems)}): refused; restore it "
                            "from a backup, or copy out what can be read with the sqlite3 shell's .recover")


def _unreadable(path: Path, exc: sqlite3.DatabaseError) -> str:
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return f"{path} is not a SQLite database: refused, nothing was written to it"
    if name == "SQLITE_CORRUPT":
        return f"{path} is damaged ({exc}): refused; restore it from a backup"
    return f"{path}: cannot open the case database ({exc})"


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)
