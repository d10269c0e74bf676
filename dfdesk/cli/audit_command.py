"""`dfdesk audit verify [--report FILE.pdf ...]`: is the audit log intact, and do the records agree with it?

Checks, in order: the hash chain and every row's signature, and that the log still holds the head this
installation last recorded for this database file (:func:`dfdesk.services.audit.verify`); that evidence hashes,
verdicts and report hashes agree with the audit events that recorded them
(:func:`dfdesk.services.records_check.check_records`); and, for each ``--report``, that the PDF's signature is
intact and this installation's, and that the audit head printed in it is still in the log (a log truncated or
rewritten after an earlier report shows here even when the installation's own record was lost).

Exit codes: 0 everything agrees; 1 something was altered (each problem on its own line); 2 bad input.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from dfdesk.cli import arguments
from dfdesk.cli.common import EXIT_FAILURE, EXIT_OK, CliError, add_db_option, open_database


def register(commands: argparse._SubParsersAction) -> None:
    audit_parser = commands.add_parser("audit", help="the audit log")
    audit_commands = audit_parser.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the audit log's chain and signatures, and that the "
                                                      "records agree with it")
    verify.add_argument("--report", type=arguments.input_file, action="append", default=[], metavar="FILE.pdf",
                        help="also check this signed report and that the audit head it printed is still in the log "
                             "(repeatable)")
    add_db_option(verify)
    verify.set_defaults(handler=audit_verify)


def audit_verify(args: argparse.Namespace) -> int:
    from dfdesk.services import audit, records_check, signing

    db = open_database(args.db)
    try:
        with db.unit_of_work() as session:
            chain = [f"audit event {p.event_id}: {p.problem}" for p in audit.verify(session)]
            records = [str(p) for p in records_check.check_records(session)]
            head = audit.head(session)
            reports = [line for path in args.report for line in _report_problems(session, path)]
    finally:
        db.close()
    problems = chain + records + reports
    if not problems:
        print(f"audit log intact: {head.count} event(s), hash chain and signatures verified (installation key "
              f"{signing.installation_fingerprint()[:16]}…); evidence, verdicts and reports agree with it"
              + (f"; {len(args.report)} report(s) checked" if args.report else ""))
        return EXIT_OK
    for line in problems:
        print(line)
    raise CliError(f"the audit log or the records have been altered ({len(problems)} problem(s) found)",
                   EXIT_FAILURE)


def _report_problems(session, path: Path) -> list[str]:
    from dfdesk.services.report_signature import check_report  # pyHanko loads only when a report is checked
    from dfdesk.store.tables import AuditEvent

    if not path.is_file():
        raise CliError(f"report {path} does not exist")
    found = check_report(path)
    problems = [] if found.ok else [f"report {path}: {found.problem}"]
    if found.audit_count is None:
        return problems + [f"report {path}: its signature names no audit head"]
    row = session.get(AuditEvent, found.audit_count) if found.audit_count else None
    if found.audit_count and row is None:
        problems.append(f"report {path}: it printed an audit log of {found.audit_count} event(s); event "
                        f"{found.audit_count} is gone from the log (truncated)")
    elif row is not None and row.hash != found.audit_hash:
        problems.append(f"report {path}: audit event {found.audit_count} differs from the head it printed "
                        "(log rewritten)")
    return problems
