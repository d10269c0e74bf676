"""Is this PDF a report that dfdesk exported, unchanged, and does it still agree with the case database?

:func:`verify_report` makes five checks, each reported on its own (a failure names what differs):

* ``sidecar``: the ``FILE.pdf.sha256`` file written beside the report holds the PDF's SHA-256;
* ``recorded``: the database holds the report (found by the id in its signature, else by its SHA-256 or path),
  with this SHA-256 in its row and in the ``report.export`` audit event;
* ``signature``: the PAdES signature is intact, by this installation, and covers the whole file
  (:func:`dfdesk.services.report_signature.check_report`);
* ``evidence``: the evidence SHA-256 printed in the report ("SHA-256 at intake") is the database's;
* ``audit head``: the audit head the report printed and signed is still in the log (not truncated or rewritten).

It only reads: it works on a database opened read-only, and records nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.core.probe import sha256_file
from dfdesk.services.report_publish import sidecar
from dfdesk.services.report_signature import ReportSignature, check_report
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis, AuditEvent, Report

PRINTED_INTAKE = re.compile(r"SHA-256\s+at\s+intake\s*((?:[0-9a-f]\s*){64})")
SIDECAR_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)\n?$")


class ReportFileError(Exception):
    """The file given is not something a report check can start from (missing, a folder, not a PDF)."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok    ' if self.ok else 'FAILED'} {self.name}: {self.detail}"


def verify_report(db: Database, path: str | Path) -> list[Check]:
    """Every check of the report at ``path`` against its sidecar and ``db`` (see the module's docstring)."""
    path = Path(path).absolute()
    digest = _pdf_digest(path)
    signature = check_report(path)
    with db.unit_of_work() as session:
        row = _find_record(session, path, digest, signature.report_uid)
        return [_sidecar_check(path, digest), _recorded_check(session, row, digest), _signature_check(signature),
                _evidence_check(session, row, path), _audit_head_check(session, signature)]


def _pdf_digest(path: Path) -> str:
    if not path.is_file():
        raise ReportFileError(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
    try:
        with path.open("rb") as stream:
            if not stream.read(1024).lstrip().startswith(b"%PDF-"):
                raise ReportFileError(f"{path} is not a PDF")
        return sha256_file(path)
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _find_record(session: Session, path: Path, digest: str, uid: str) -> Report | None:
    """The report's row: by the id its signature names, else by its SHA-256, else the newest at its path."""
    for condition in (Report.report_uid == uid if uid else None, Report.sha256 == digest, Report.path == str(path)):
        if condition is not None:
            row = session.scalars(select(Report).where(condition).order_by(Report.id.desc())).first()
            if row is not None:
                return row
    return None


def _sidecar_check(path: Path, digest: str) -> Check:
    checksum = sidecar(path)
    try:
        match = SIDECAR_LINE.match(checksum.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return Check("sidecar", False, f"{checksum.name} cannot be read ({getattr(exc, 'strerror', None) or exc})")
    if match is None:
        return Check("sidecar", False, f"{checksum.name} is not one sha256sum line")
    if match[1] != digest:
        return Check("sidecar", False, f"the PDF's SHA-256 {digest} differs from {checksum.name}'s {match[1]}")
    return Check("sidecar", True, f"the PDF's SHA-256 {digest} is the one in {checksum.name}")


def _recorded_check(session: Session, row: Report | None, digest: str) -> Check:
    if row is None:
        return Check("recorded", False, "no report in this database has this file's report id, SHA-256 or path")
    exported = _export_event(session, row.report_uid)
    audited = exported.get("sha256") if exported else None
    if row.sha256 != digest:
        return Check("recorded", False, f"report {row.report_uid} was recorded with SHA-256 {row.sha256}; "
                                        f"this file's is {digest}")
    if audited != digest:
        return Check("recorded", False, f"report {row.report_uid}: its 'report.export' audit event records "
                                        f"SHA-256 {audited}, not {digest}")
    return Check("recorded", True, f"report {row.report_uid} (analysis {row.analysis_id}), recorded and audited "
                                   "with this SHA-256")


def _export_event(session: Session, report_uid: str) -> dict | None:
    for event in session.scalars(select(AuditEvent).where(AuditEvent.action == "report.export")
                                 .order_by(AuditEvent.id)):
        details = event.details if isinstance(event.details, dict) else {}
        if details.get("report_uid") == report_uid:
            return details
    return None


def _signature_check(signature: ReportSignature) -> Check:
    if not signature.ok:
        return Check("signature", False, signature.problem)
    return Check("signature", True, f"intact, covers the whole file, signed by {signature.signer}")


def _evidence_check(session: Session, row: Report | None, path: Path) -> Check:
    if row is None:
        return Check("evidence", False, "no recorded report to take the evidence from")
    analysis = session.get(Analysis, row.analysis_id)
    if analysis is None:
        return Check("evidence", False, f"analysis {row.analysis_id} of report {row.report_uid} is gone")
    printed = printed_evidence_sha256(path)
    database = analysis.evidence.sha256
    if printed is None:
        return Check("evidence", False, "no evidence SHA-256 could be read from the report's text")
    if printed != database:
        return Check("evidence", False, f"the report prints evidence SHA-256 {printed}; the database holds "
                                        f"{database} (evidence {analysis.evidence_id})")
    return Check("evidence", True, f"the evidence SHA-256 printed, {printed}, is the database's (evidence "
                                   f"{analysis.evidence_id})")


def printed_evidence_sha256(path: Path) -> str | None:
    """The "SHA-256 at intake" the report prints, from its text; None when it cannot be found."""
    from pypdf import PdfReader  # only when a report is checked
    from pypdf.errors import PyPdfError

    try:
        text = "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    except (PyPdfError, OSError, ValueError, KeyError, TypeError):
        return None
    match = PRINTED_INTAKE.search(text)
    return "".join(match[1].split()) if match else None


def _audit_head_check(session: Session, signature: ReportSignature) -> Check:
    if signature.audit_count is None:
        return Check("audit head", False, "the signature names no audit head")
    if signature.audit_count == 0:
        return Check("audit head", True, "printed before the log had any event")
    event = session.get(AuditEvent, signature.audit_count)
    if event is None:
        return Check("audit head", False, f"event {signature.audit_count}, the head the report printed, is gone "
                                          "from the log (truncated)")
    if event.hash != signature.audit_hash:
        return Check("audit head", False, f"event {signature.audit_count} differs from the head the report "
                                          "printed (log rewritten)")
    return Check("audit head", True, f"event {signature.audit_count} is still the one the report printed")
