"""`dfdesk case new|list|show`, `dfdesk ingest`; registers `dfdesk audit verify` (audit_command.py)."""
from __future__ import annotations

import argparse
import json

from dfdesk.cli import arguments, audit_command
from dfdesk.cli.case_selection import add_case_options, selected_case_name
from dfdesk.cli.common import EXIT_OK, CliError, add_db_option, open_database, progress_bar
from dfdesk.services.identity import current_analyst


def register(commands: argparse._SubParsersAction) -> None:
    case = commands.add_parser("case", help="create, list and show cases")
    case_commands = case.add_subparsers(dest="case_command", required=True)
    new = case_commands.add_parser("new", help="create a case")
    new.add_argument("name", type=arguments.case_name)
    new.add_argument("--number", type=arguments.case_number, default="", help="the lab's case number")
    new.add_argument("--description", type=arguments.description, default="")
    new.set_defaults(handler=case_new)
    listing = case_commands.add_parser("list", help="list cases")
    listing.add_argument("--search", default="")
    listing.set_defaults(handler=case_list)
    show = case_commands.add_parser("show", help="show a case and its evidence")
    show.add_argument("name", nargs="?", type=arguments.case_name, help="the case's name (or give --case-id)")
    show.add_argument("--case-id", type=arguments.record_id, metavar="N", help="the case with this id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=case_show)
    for sub in (new, listing, show):
        add_db_option(sub)

    ingest = commands.add_parser("ingest", help="hash, probe and record videos as evidence in a case")
    ingest.add_argument("videos", nargs="+", metavar="VIDEO")
    add_case_options(ingest, required=True, name_help="name of the case (created if it does not exist)")
    add_db_option(ingest)
    ingest.set_defaults(handler=ingest_videos)
    audit_command.register(commands)


def case_new(args: argparse.Namespace) -> int:
    from dfdesk.services import cases

    db = open_database(args.db)
    with db.unit_of_work() as session:
        case = cases.create_case(session, args.name, current_analyst(), args.number, args.description)
        print(f"case {case.id}: {case.name}")
    return EXIT_OK


def case_list(args: argparse.Namespace) -> int:
    from dfdesk.services import cases

    db = open_database(args.db)
    with db.unit_of_work() as session:
        for case in cases.list_cases(session, args.search):
            state = "closed" if case.closed else "open"
            print(f"{case.id}\t{case.name}\t{case.number}\t{len(case.evidence)} video(s)\t{state}")
    return EXIT_OK


def case_show(args: argparse.Namespace) -> int:
    from dfdesk.services import cases

    if (args.name is None) == (args.case_id is None):
        raise CliError("case show needs the case's NAME or --case-id N (one of them)")
    db = open_database(args.db)
    args.case = args.name
    name = selected_case_name(db, args)
    with db.unit_of_work() as session:
        case = cases.find_case(session, name)
        rows = [{"id": e.id, "file": e.file_name, "sha256": e.sha256, "width": e.width, "height": e.height,
                 "fps": e.fps, "frames": e.frame_count, "duration_s": e.duration_s,
                 "analyses": len(e.analyses)} for e in case.evidence]
        if args.json:
            print(json.dumps({"id": case.id, "name": case.name, "number": case.number, "evidence": rows}, indent=2))
            return EXIT_OK
        print(f"case {case.id}: {case.name}  number: {case.number or '-'}  created by {case.created_by}")
        for row in rows:
            print(f"  [{row['id']}] {row['file']}  {row['width']}x{row['height']} {row['fps']:.3f} fps "
                  f"{row['frames']} frames {row['duration_s']:.2f} s  sha256 {row['sha256'][:16]}…")
    return EXIT_OK


def ingest_videos(args: argparse.Namespace) -> int:
    from dfdesk.core.probe import VideoError
    from dfdesk.services.ingest import ingest_video

    db = open_database(args.db)
    actor = current_analyst()
    case_name = selected_case_name(db, args)
    for video in args.videos:
        try:
            with progress_bar(0, f"hashing {video}", unit="B", unit_scale=True) as bar:
                result = ingest_video(db, case_name, video, actor, hash_progress=bar.update)
        except VideoError as exc:
            raise CliError(str(exc)) from None
        state = "ingested" if result.created else "already in the case"
        info = result.info
        print(f"evidence {result.evidence_id}: {video} {state}; {info.width}x{info.height} {info.fps:.3f} fps "
              f"{info.frame_count} frames sha256 {result.sha256}")
    return EXIT_OK
