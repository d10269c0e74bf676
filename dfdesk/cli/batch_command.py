"""`dfdesk batch PATH... --case NAME`: triage many videos, on this machine or on a Ray cluster."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dfdesk.cli.common import EXIT_FAILURE, EXIT_OK, CliError, add_db_option, interactive, open_database
from dfdesk.core.types import Progress
from dfdesk.services.analysis import AnalysisRequest
from dfdesk.services.batch import REFUSED, BatchCancelled, BatchError, BatchOptions, VideoSettled, run_batch
from dfdesk.services.batch_triage import TriageRow, case_name, triage_rows, write_csv, write_json
from dfdesk.services.identity import current_analyst
from dfdesk.services.recovery import mark_interrupted

TABLE_LINES = 20  # rows of the triage table printed at the end


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("batch", help="triage many videos (files, folders, or a whole case)",
                                 description="Analyse every video with the installed default ensemble and print "
                                 "a triage table, strongest evidence of manipulation first. A re-run skips what is "
                                 "done. Without PATH: the case's own evidence.")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="video files and folders")
    parser.add_argument("--case", required=True, help="case to file the videos in (created if needed)")
    parser.add_argument("--recursive", action="store_true", help="also the files of sub-folders")
    parser.add_argument("--workers", type=int, help="local worker processes (default: one per core, as memory "
                        "allows)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster: 'auto' or host:port")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the triage table as CSV")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the triage table as JSON")
    add_db_option(parser)
    parser.set_defaults(handler=batch)


def batch(args: argparse.Namespace) -> int:
    db = open_database(args.db)
    mark_interrupted(db)
    options = BatchOptions(case=args.case, inputs=tuple(args.paths), recursive=args.recursive, workers=args.workers,
                           ray=args.ray, request=AnalysisRequest(device=args.device))
    try:
        summary = _drive(run_batch(db, options, current_analyst()))
    except BatchError as exc:
        raise CliError(str(exc)) from None
    except BatchCancelled:
        raise CliError("the batch was cancelled; what finished is saved (run it again to go on)",
                       EXIT_FAILURE) from None
    with db.unit_of_work() as session:
        rows, name = triage_rows(session, summary.case_id), case_name(session, summary.case_id)
    if args.csv:
        write_csv(rows, args.csv)
    if args.json:
        write_json(rows, args.json, name, summary.refused)
    _print_table(rows)
    print(f"{summary.total} file(s) in {summary.seconds:.0f} s ({summary.executor}): {summary.analysed} analysed, "
          f"{summary.skipped} skipped (already done), {len(summary.refused)} refused")
    return EXIT_OK


def _drive(steps) -> object:
    """Run the batch with a progress bar on a terminal (counts, rate, ETA); refusals are listed as they come."""
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


def _update(bar, event: Progress):
    if not interactive():
        return None
    if bar is None:
        from tqdm import tqdm

        bar = tqdm(total=event.total, desc="batch", unit="video", leave=False, file=sys.stderr)
    bar.update(event.done - bar.n)
    return bar


def _print_refusal(bar, event: VideoSettled) -> None:
    line = f"refused: {event.path}: {event.detail}"
    if bar is not None:
        bar.write(line)
    else:
        print(line)


def _print_table(rows: list[TriageRow]) -> None:
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
