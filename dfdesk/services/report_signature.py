"""Digitally signed PDF reports (PAdES baseline B-B, with pyHanko) and their validation.

:func:`sign_report` adds one signature, as an incremental update, to a finished report: ECDSA P-256 with SHA-256
under this installation's self-signed certificate (:func:`dfdesk.services.signing.report_key_and_certificate`).
Its signed ``/Reason`` names the report and the audit head printed in it, so a later check can compare that head
with the database.  Any PDF reader that validates signatures shows the document unchanged since signing and
the signer's certificate; since the certificate is self-signed, a reader trusts it only once the recipient
has compared its fingerprint (printed in the report) with the installation's.  It proves integrity since
signing and which installation signed, not a person's legal identity; there is no trusted time stamp (the
machine is offline), so the signing time is the signing computer's clock.

:func:`check_report` validates a signed report with pyHanko's validator against this installation's
certificate: intact (the signed bytes hash to the signed digest), valid (the signature verifies), trusted
(this installation's certificate), and covering the entire file (nothing appended after signing).
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dfdesk.services import signing

FIELD_NAME = "dfdesk-report"
REASON_PATTERN = re.compile(r"dfdesk report (?P<uid>\S+); audit head (?P<count>\d+) (?P<hash>[0-9a-f]{64})")


@dataclass(frozen=True)
class ReportSignature:
    """What :func:`check_report` found."""

    ok: bool
    problem: str  # empty when ok
    signer: str = ""  # the certificate's subject
    report_uid: str = ""
    audit_count: int | None = None
    audit_hash: str = ""


def reason_text(report_uid: str, audit_count: int, audit_hash: str) -> str:
    return f"dfdesk report {report_uid}; audit head {audit_count} {audit_hash}"


def sign_staged_report(path: Path, content) -> None:
    """Sign a just-written report, naming in the signature its uid and the audit head it printed."""
    trust = content.trust
    count, head_hash = (trust.audit_count, trust.audit_hash) if trust is not None else (0, "0" * 64)
    sign_report(path, reason_text(content.report_uid, count, head_hash))


def sign_report(path: Path, reason: str) -> None:
    """Sign the PDF at ``path`` in place (written to the same file, flushed to disk)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    key_path, cert_path = signing.report_key_and_certificate()
    signer = signers.SimpleSigner.load(str(key_path), str(cert_path))
    meta = signers.PdfSignatureMetadata(field_name=FIELD_NAME, reason=reason, md_algorithm="sha256",
                                        location=f"dfdesk installation {signing.installation_fingerprint()[:16]}",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(path.read_bytes()))
    signed = signers.sign_pdf(writer, meta, signer=signer)
    with path.open("wb") as stream:
        stream.write(signed.getbuffer())
        stream.flush()
        os.fsync(stream.fileno())


def check_report(path: str | Path) -> ReportSignature:
    """Validate the report's signature with pyHanko against this installation's certificate."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        with open(path, "rb") as stream:
            reader = PdfFileReader(stream, strict=False)
            signatures = reader.embedded_signatures
            if not signatures:
                return ReportSignature(False, "the PDF carries no digital signature")
            return _validate(signatures[-1], len(signatures))
    except (OSError, PdfError, ValueError, KeyError, TypeError) as exc:
        return ReportSignature(False, f"the PDF cannot be read as a signed PDF ({type(exc).__name__}: {exc})")


def _validate(embedded, count: int) -> ReportSignature:
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    der = signing.report_certificate().public_bytes(serialization.Encoding.DER)
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)], allow_fetching=False)
    status = validate_pdf_signature(embedded, context)
    facts = _reason_facts(str(embedded.sig_object.get("/Reason", "")))
    signer = status.signing_cert.subject.human_friendly if status.signing_cert else ""
    problem = ("" if status.intact and status.valid else "the signature does not match the document (the PDF "
               "was changed after signing)")
    if not problem and not status.trusted:
        problem = "the signature is intact, but not by this installation's certificate"
    if not problem and (count != 1 or status.coverage != SignatureCoverageLevel.ENTIRE_FILE):
        problem = "the PDF was extended after it was signed"
    return ReportSignature(not problem, problem, signer, **facts)


def _reason_facts(reason: str) -> dict:
    match = REASON_PATTERN.search(reason)
    if not match:
        return {}
    return {"report_uid": match["uid"], "audit_count": int(match["count"]), "audit_hash": match["hash"]}
