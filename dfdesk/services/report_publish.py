"""Putting a finished report in place, so that a kill at any moment leaves either no report or a recorded one.

The order: the signed PDF and its ``.sha256`` file are written under temporary names in the target folder
(:func:`stage`: ``.dfdesk-report.HOST.PID.TOKEN.pdf.part`` and ``….sha256.part``); the caller commits the
``reports`` row and its audit events; only then are both renamed into place (:func:`publish`: checksum first,
PDF last).  A kill before the commit leaves temporary files and no record; a kill after it leaves a record whose
files still wait under their temporary names.  The next export into that folder (:func:`clean_stale`) finishes
the second kind (the database names the PDF's SHA-256 and where it goes) and deletes the first.  It only
touches files of processes that are no longer running on this host.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.core.probe import sha256_file
from dfdesk.services import audit
from dfdesk.store.database import Database
from dfdesk.store.tables import Report

log = logging.getLogger(__name__)
PREFIX = ".dfdesk-report"
PART = re.compile(r"^\.dfdesk-report\.(?P<host>.+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{32})\.(?P<kind>pdf|sha256)"
                  r"\.part$")
FILE_MODE = 0o644  # readable by colleagues, like any exported document


@dataclass(frozen=True)
class Staged:
    """The temporary files of one report: the PDF and its checksum line."""

    pdf: Path
    checksum: Path | None  # None for a stale PDF whose checksum file was already put in place

    def discard(self) -> None:
        for path in (self.pdf, self.checksum):
            if path is not None:
                path.unlink(missing_ok=True)


def sidecar(target: Path) -> Path:
    """The ``.sha256`` file beside a report (sha256sum format)."""
    return target.with_name(target.name + ".sha256")


def stage(folder: Path) -> Staged:
    """Two new, empty temporary files in ``folder``, named so that :func:`clean_stale` can tell whose they are."""
    stem = f"{PREFIX}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex}"
    staged = Staged(folder / f"{stem}.pdf.part", folder / f"{stem}.sha256.part")
    for path in (staged.pdf, staged.checksum):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.chmod(path, FILE_MODE)  # whatever the umask
    return staged


def publish(staged: Staged, target: Path) -> None:
    """Rename the staged files into place (after the record was committed): checksum first, the PDF last."""
    if staged.checksum is not None and staged.checksum.exists():
        os.replace(staged.checksum, sidecar(target))
    os.replace(staged.pdf, target)


def replaced_report(session: Session, target: Path) -> dict:
    """What an overwrite replaces, for its audit event: the old file's SHA-256 and, when known, its report."""
    try:
        digest = sha256_file(target)
    except OSError as exc:
        return {"path": str(target), "replaced_sha256": None, "replaced_unreadable": exc.strerror or str(exc)}
    uid = session.scalars(select(Report.report_uid).where(Report.path == str(target), Report.sha256 == digest)
                          .order_by(Report.id.desc())).first()
    return {"path": str(target), "replaced_sha256": digest, "replaced_report_uid": uid}


def clean_stale(db: Database, folder: Path, actor: str) -> None:
    """Finish or delete the temporary report files that dead dfdesk processes of this host left in ``folder``."""
    for token, parts in _stale_parts(folder).items():
        try:
            if "pdf" not in parts or not _finish(db, Staged(parts["pdf"], parts.get("sha256")), folder, actor):
                for path in parts.values():
                    path.unlink(missing_ok=True)
        except OSError as exc:  # someone else's file, or a folder that changed meanwhile: leave it
            log.warning("stale report files %s in %s not cleaned: %s", token, folder, exc)


def _stale_parts(folder: Path) -> dict[str, dict[str, Path]]:
    found: dict[str, dict[str, Path]] = {}
    host = socket.gethostname()
    for entry in os.scandir(folder):
        match = PART.match(entry.name)
        if match and match["host"] == host and not _running(int(match["pid"])):
            found.setdefault(match["token"], {})[match["kind"]] = Path(entry.path)
    return found


def _finish(db: Database, staged: Staged, folder: Path, actor: str) -> bool:
    """Publish a staged report that was recorded before its process died; False when no record names it."""
    digest = sha256_file(staged.pdf)
    with db.unit_of_work() as session:
        row = session.scalars(select(Report).where(Report.sha256 == digest).order_by(Report.id.desc())).first()
        if row is None or not _same_folder(Path(row.path).parent, folder) or not _is_latest_at_path(session, row):
            return False  # never recorded, or superseded by a later report at its path
        target = Path(row.path)
        audit.record(session, actor, "report.publish_resumed", report_uid=row.report_uid, path=row.path,
                     sha256=digest)
        publish(staged, target)
    log.info("report %s recorded by a process that stopped: put in place at %s", row.report_uid, target)
    return True


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_latest_at_path(session: Session, row: Report) -> bool:
    latest = session.scalars(select(Report.id).where(Report.path == row.path).order_by(Report.id.desc())).first()
    return latest == row.id


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, under another user
    return True
