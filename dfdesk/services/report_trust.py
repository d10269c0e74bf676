"""What a report says about the records it was made from, and the checks made before it is written.

Before a report is made, the analysis and its evidence are compared with their audit events
(:func:`dfdesk.services.records_check.check_analysis`): a report never prints a verdict or an evidence hash
that disagrees with what was audited when it was recorded.  A record that no audit event describes (written
by something other than dfdesk's own services) is reported in the records section instead.

The report then prints the audit log's head (event count, hash, the installation's signature), whether the
whole log verified, who exported it and whether that name was an authenticated profile, and the fingerprint
of the certificate its PDF signature uses.  A later audit log that no longer holds that head (fewer events,
or another hash at that count) was truncated or rewritten after this report.
"""
from __future__ import annotations

from dfdesk.services import audit, identity, records_check, signing
from dfdesk.services.report_layout import TrustFacts
from dfdesk.store.database import Database
from dfdesk.store.tables import AuditEvent


class RecordsDisagree(Exception):
    """The analysis or its evidence no longer agrees with its audit events; no report is made."""


def gather_trust(db: Database, analysis_id: int, exporter: str) -> TrustFacts:
    """The facts of the report's records section; RecordsDisagree when the records were edited."""
    with db.unit_of_work() as session:
        problems = records_check.check_analysis(session, analysis_id)
        differing = [str(p) for p in problems if p.kind != records_check.UNAUDITED]
        if differing:
            raise RecordsDisagree("the database's records disagree with the audit log (" + "; ".join(differing)
                                  + "): no report is made; run `dfdesk audit verify`")
        chain_problems = audit.verify(session)
        head = audit.head(session)
        profiles = audit.has_profiles(session)
    return TrustFacts(audit_count=head.count, audit_hash=head.hash, audit_signer=head.signer,
                      audit_signature=head.signature, chain_problems=len(chain_problems), exporter=exporter,
                      exporter_authenticated=identity.is_authenticated(exporter) if profiles else None,
                      certificate_sha256=signing.certificate_fingerprint(signing.report_certificate()),
                      unaudited=tuple(str(p) for p in problems), chain_findings=_findings(chain_problems))


CHAIN_FINDINGS_SHOWN = 10


def _findings(problems: list) -> tuple[str, ...]:
    """`audit verify`'s problems as the report lists them: the first few, then how many more."""
    lines = [f"event {p.event_id}: {p.problem}" for p in problems[:CHAIN_FINDINGS_SHOWN]]
    if len(problems) > CHAIN_FINDINGS_SHOWN:
        lines.append(f"… and {len(problems) - CHAIN_FINDINGS_SHOWN} more: run `dfdesk audit verify`")
    return tuple(lines)


def actor_label(event: AuditEvent) -> str:
    """The event's actor as the report prints it: marked when the name was not an authenticated profile."""
    details = event.details if isinstance(event.details, dict) else {}
    return f"{event.actor} (not authenticated)" if details.get("actor_authenticated") is False else event.actor
