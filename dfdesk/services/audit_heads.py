"""The installation's own record of each case database's audit head, kept outside the database.

A database alone cannot show that its last rows were deleted (what remains is a valid, signed chain).  So after
every commit that added audit events, the head (event count and hash) is written to ``audit_heads.json`` in the
per-user data folder, keyed by the database file's resolved path, and ``audit verify`` checks that the
database still holds that event with that hash.  The record only moves forward (a lower head never replaces a
higher one) and may lag behind the database when two processes commit at once; it never runs ahead of what was
committed.  Whoever can write the data folder can edit it too: it guards against an edited database file, not
against the installation's own user (see the threat model in docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from dfdesk import paths

log = logging.getLogger(__name__)
HEADS_FILE = "audit_heads.json"
PENDING_KEY = "dfdesk.audit_head"


def remember_after_commit(session: Session, count: int, head_hash: str) -> None:
    """Record (count, hash) for the session's database once the session commits (not if it rolls back)."""
    first = PENDING_KEY not in session.info
    session.info[PENDING_KEY] = (count, head_hash)
    if first:
        event.listen(session, "after_commit", _write_pending, once=True)
        event.listen(session, "after_rollback", _forget_pending, once=True)


def recorded_head(database_path: str | Path) -> tuple[int, str] | None:
    """The last (count, hash) this installation saw committed to the database at ``database_path``."""
    entry = _load().get(_key(database_path))
    return (int(entry["count"]), str(entry["hash"])) if entry else None


def _write_pending(session: Session) -> None:
    count, head_hash = session.info.pop(PENDING_KEY)
    database = session.get_bind().url.database
    if not database or database == ":memory:":
        return
    try:
        _remember(database, count, head_hash)
    except OSError as exc:  # the commit has happened; a missing ledger entry only weakens the later check
        log.warning("could not record the audit head of %s: %s", database, exc)


def _forget_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def _remember(database_path: str, count: int, head_hash: str) -> None:
    heads = _load()
    key = _key(database_path)
    if key in heads and int(heads[key]["count"]) >= count:
        return
    heads[key] = {"count": count, "hash": head_hash}
    folder = paths.user_data_dir()
    handle, name = tempfile.mkstemp(dir=folder, prefix=f".{HEADS_FILE}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(heads, stream, indent=1, sort_keys=True)
    os.replace(name, folder / HEADS_FILE)


def _load() -> dict[str, dict]:
    file = paths.user_data_dir() / HEADS_FILE
    try:
        heads = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s is unreadable (%s); no recorded audit heads", file, exc)
        return {}
    return heads if isinstance(heads, dict) else {}


def _key(database_path: str | Path) -> str:
    return str(Path(database_path).resolve())
