"""`dfdesk report ANALYSIS_ID --out FILE.pdf [--force]` and `dfdesk report verify FILE.pdf`.

Export exit codes: 0 written; 1 written, but the evidence failed its SHA-256 check (the report says so
prominently); 2 not written (unknown or unfinished analysis, unusable output path, an existing file without
``--force``).  ``--force`` replaces an existing file, and the audit log records what it replaced.

Verify exit codes: 0 every check passed; 1 a check failed (each check is one line on stdout); 2 bad input
(no such file, not a PDF, an unusable database).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from dfdesk.cli import arguments
from dfdesk.cli.common import EXIT_FAILURE, EXIT_OK, CliError, add_db_option, open_database, print_error
from dfdesk.services.identity import current_analyst

VERIFY = "verify"
MAX_ID = arguments.MAX_ID
USAGE = ("dfdesk report ANALYSIS_ID --out FILE.pdf [--force] [--examiner NAME] [--db PATH]\n"
         "       dfdesk report verify FILE.pdf [--db PATH]")


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", usage=USAGE, help="export the PDF forensic report of an analysis, or "
                                                             "verify one")
    report.add_argument("target", metavar="ANALYSIS_ID|verify",
                        help="the analysis to report on, or `verify` to check FILE.pdf")
    report.add_argument("file", nargs="?", type=Path, metavar="FILE.pdf", help="with verify: the report to check")
    report.add_argument("--out", type=arguments.output_file, metavar="FILE.pdf", help="where to write the report")
    report.add_argument("--force", action="store_true", help="replace an existing file at --out (audited)")
    report.add_argument("--examiner", type=arguments.examiner, default=None,
                        help="name printed as examiner (default: the current analyst)")
    add_db_option(report)
    report.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    if args.target == VERIFY:
        return verify(args)
    return report_analysis(args)


def report_analysis(args: argparse.Namespace) -> int:
    analysis_id = _analysis_id(args.target)
    if args.file is not None:
        raise CliError(f"unexpected argument {args.file}: the report goes to --out FILE.pdf")
    if args.out is None:
        raise CliError("--out FILE.pdf is required")
    from dfdesk.services.report import ReportError, export_report  # PyTorch and the PDF stack load here

    db = open_database(args.db)
    try:
        result = export_report(db, analysis_id, args.out, current_analyst(), examiner=args.examiner,
                               overwrite=args.force)
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


def _analysis_id(text: str) -> int:
    """A decimal analysis id (ASCII digits only: other scripts' digits are not ids) within SQLite's range."""
    if not re.fullmatch(r"[0-9]{1,19}", text) or not 1 <= int(text) <= MAX_ID:
        raise CliError(f"{text!r} is not an analysis id (a whole number from 1) nor `verify`")
    return int(text)


def verify(args: argparse.Namespace) -> int:
    from dfdesk.services.report_verify import ReportFileError, verify_report  # pyHanko, pypdf: only here

    if args.file is None:
        raise CliError("report verify needs the report: dfdesk report verify FILE.pdf")
    if args.out is not None or args.force or args.examiner is not None:
        raise CliError("report verify takes FILE.pdf (and --db) only")
    db = open_database(args.db)
    try:
        checks = verify_report(db, args.file)
    except ReportFileError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.close()
    for check in checks:
        print(check)
    failed = [check.name for check in checks if not check.ok]
    if failed:
        raise CliError(f"report {args.file} failed {len(failed)} check(s): {', '.join(failed)}", EXIT_FAILURE)
    return EXIT_OK
