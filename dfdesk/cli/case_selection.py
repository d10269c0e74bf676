"""How a command names its case: ``--case NAME`` is always a name (even "1" or "١٢"), ``--case-id N`` always an id.

One of the two is required by the commands that file evidence; ``--case-id`` must name an existing case, while a
``--case`` name that does not exist yet is created by the services when the command has something to file.
"""
from __future__ import annotations

import argparse

from dfdesk.cli import arguments
from dfdesk.cli.common import CliError


def add_case_options(parser: argparse.ArgumentParser, required: bool, name_help: str,
                     default: str | None = None) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--case", type=arguments.case_name, default=default, metavar="NAME", help=name_help)
    group.add_argument("--case-id", type=arguments.record_id, metavar="N",
                       help="the case with this id (see dfdesk case list); it must exist")


def selected_case_name(db, args: argparse.Namespace) -> str:
    """The name of the case ``args`` selects; CliError (exit 2) for a ``--case-id`` no case has."""
    if args.case_id is None:
        return args.case
    from dfdesk.services import cases  # imported here: parsing arguments must not load the services

    with db.unit_of_work() as session:
        try:
            return cases.get_case(session, args.case_id).name
        except cases.CaseError:
            raise CliError(f"--case-id {args.case_id}: no case has this id (dfdesk case list shows them)") from None
