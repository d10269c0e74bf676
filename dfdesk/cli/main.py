"""The command-line parser and the one place that turns errors into exit codes.

Only the module of the sub-command being run is imported, so `dfdesk audit verify` or `dfdesk case list` do not
pay for importing PyTorch.
"""
from __future__ import annotations

import argparse
from importlib import import_module

from dfdesk import __version__
from dfdesk.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, print_error
from dfdesk.services.cases import CaseError
from dfdesk.store.database import DatabaseError

COMMANDS = {  # sub-command -> module of dfdesk.cli that registers it
    "case": "case_commands", "ingest": "case_commands", "audit": "case_commands",
    "analyze": "analyze_command", "resume": "analyze_command", "report": "report_command", "models": "models_command",
    "train": "train_command", "profile": "profile_command", "sample": "sample_command", "batch": "batch_command",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every sub-command, or only ``command``'s module when it is known."""
    parser = argparse.ArgumentParser(prog="dfdesk", description="Video deepfake forensics. Without a command: the GUI.")
    parser.add_argument("--version", action="version", version=f"dfdesk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command in COMMANDS:
        names = [COMMANDS[command]]
    elif command == "--version":
        names = []  # answered before any sub-command is needed: do not import them (and PyTorch)
    else:
        names = COMMANDS.values()
    for name in dict.fromkeys(names):
        import_module(f"dfdesk.cli.{name}").register(commands)
    return parser


def run_cli(argv: list[str]) -> int:
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return args.handler(args)
    except CliError as exc:
        print_error(str(exc))
        return exc.code
    except (CaseError, DatabaseError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_FAILURE
