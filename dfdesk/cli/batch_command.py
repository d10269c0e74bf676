"""`dfdesk batch PATH... --case NAME`: triage many videos, on this machine or on a Ray cluster."""
from __future__ import annotations

import argparse
import sys

from dfdesk.cli import arguments
from dfdesk.cli.case_selection import add_case_options, selected_case_name
from dfdesk.cli.common import EXIT_FAILURE, EXIT_OK, CliError, add_db_option, interactive, open_database

TABLE_LINES = 20  # rows of the triage table printed at the end


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("batch", help="triage many videos (files, folders, or a whole case)",
                                 description="Analyse every video with the installed default ensemble and print "
                                 "a triage table, strongest evidence of manipulation first. A re-run skips what is "
                                 "done. Without PATH: the case's own evidence.")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="video files and folders")
    add_case_options(parser, required=True, name_help="name of the case to file the videos in (created if needed)")
    parser.add_argument("--recursive", action="store_true", help="also the files of sub-folders")
    parser.add_argument("--workers", type=arguments.worker_count, help="local worker processes (default: one per "
                        f"core, as memory allows; at most {arguments.MAX_WORKERS})")
    parser.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster: 'auto' or host:port")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--csv", type=arguments.output_file, metavar="OUT.csv", help="write the triage table as CSV")
    parser.add_argument("--json", type=arguments.output_file, metavar="OUT.json",
                        help="write the triage table as JSON")
    add_db_option(parser)
    parser.set_defaults(handler=batch)


def batch(args: argparse.Namespace) -> int:
    from dfdesk.services.analysis import AnalysisRequest
    from dfdesk.services.batch import BatchCancelled, BatchError, BatchOptions, run_batch
    from dfdesk.services.batch_triage import case_name, triage_rows
    from dfdesk.services.identity import current_analyst
    from dfdesk.services.recovery import mark_interrupted

    db = open_database(args.db)
    mark_interrupted(db)
    options = BatchOptions(case=selected_case_name(db, args), inputs=tuple(args.paths), recursive=args.recursive,
                           workers=args.workers, ray=args.ray, request=AnalysisRequest(device=args.device))
    try:
        summary = _drive(run_batch(db, options, current_analyst()))
    except BatchError as exc:
        raise CliError(str(exc)) from None
    except BatchCancelled:
        raise CliError("the batch was cancelled; what finished is saved (run it again to go on)",
                       EXIT_FAILURE) from None
    with db.unit_of_work() as session:
        rows, name = triage_rows(session, summary.case_id), case_name(session, summary.case_id)
    _write_tables(args, rows, name, summary.refused)
    _print_table(rows)
    print(f"{summary.total} file(s) in {summary.seconds:.0f} s ({summary.executor}): {summary.analysed} analysed, "
          f"{summary.skipped} skipped (already done), {len(summary.refused)} refused")
    return EXIT_OK


def _write_tables(args: argparse.Namespace, rows: list, name: str, refused) -> None:
    """The --csv and --json files; a failure (disk full, the folder gone) is exit 1: the analyses are saved."""
    from dfdesk.services.batch_triage import write_csv, write_json

    try:
        if args.csv:
            write_csv(rows, args.csv)
        if args.json:
            write_json(rows, args.json, name, refused)
    except OSError as exc:
        raise CliError(f"the batch's analyses are saved, but a triage table was not written: {exc.filename or ''} "
                       f"{exc.strerror or exc}", EXIT_FAILURE) from None


def _drive(steps) -> object:
    """Run the batch with a progress bar on a terminal (counts, rate, ETA); refusals are listed as they come."""
    from dfdesk.core.types import Progress
    from dfdesk.services.batch import REFUSED, VideoSettled

    bar = None
    try:
        while True:
            event = next(steps)
            if isinstance(event, Progress):
                bar = _update(bar, event)
            elif isinstance(event, VideoSettled) and event.status == REFUSED:
                _print_refusal(bar, event)
    except StopIteration as done:
        return done.value
    finally:
        if bar is not None:
            bar.close()


def _update(bar, event):
    if not interactive():
        return None
    if bar is None:
        from tqdm import tqdm

        bar = tqdm(total=event.total, desc="batch", unit="video", leave=False, file=sys.stderr)
    bar.update(event.done - bar.n)
    return bar


def _print_refusal(bar, event) -> None:
    line = f"refused: {event.path}: {event.detail}"
    if bar is not None:
        bar.write(line)
    else:
        print(line)


def _print_table(rows: list) -> None:
    from dfdesk.services.batch_triage import order_note

    if not rows:
        print("no analysed video in this case yet")
        return
    print(f"{'#':>3}  {'evidence':<28} {'finding':<42} {'faces':>5} {'peak':>6}  {'strongest':<20} file")
    for rank, row in enumerate(rows[:TABLE_LINES], start=1):
        peak = str(row.peak_frame) if row.peak_frame is not None else "-"
        print(f"{rank:>3}  {row.evidence:<28} {row.verdict_text:<42} {row.faces:>5} {peak:>6}  "
              f"{row.strongest_detector:<20} {row.file}")
    if len(rows) > TABLE_LINES:
        print(f"… and {len(rows) - TABLE_LINES} more (see --csv / --json)")
    if note := order_note(rows):
        print(f"{note}.")
