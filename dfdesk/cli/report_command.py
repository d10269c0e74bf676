"""`dfdesk report ANALYSIS_ID --out FILE.pdf`: the PDF forensic report of a saved analysis.

Exit codes: 0 written; 1 written, but the evidence failed its SHA-256 check (the report says so
prominently); 2 not written (unknown or unfinished analysis, unusable output path).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from dfdesk.cli.common import EXIT_FAILURE, EXIT_OK, CliError, add_db_option, open_database, print_error
from dfdesk.services.identity import current_analyst
from dfdesk.services.report import ReportError, export_report


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="export the PDF forensic report of an analysis")
    report.add_argument("analysis_id", type=int, metavar="ANALYSIS_ID")
    report.add_argument("--out", type=Path, required=True, metavar="FILE.pdf", help="where to write the report")
    report.add_argument("--examiner", default=None, help="name printed as examiner (default: the current analyst)")
    add_db_option(report)
    report.set_defaults(handler=report_analysis)


def report_analysis(args: argparse.Namespace) -> int:
    db = open_database(args.db)
    try:
        result = export_report(db, args.analysis_id, args.out, current_analyst(), examiner=args.examiner)
    except ReportError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.close()
    print(f"report {result.report_uid}: {result.path} sha256 {result.sha256}")
    if not result.evidence_hash_ok:
        print_error("the evidence failed its SHA-256 check (report written; it says so, and the audit log "
                    "records it)")
        return EXIT_FAILURE
    return EXIT_OK
