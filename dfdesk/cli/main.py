"""The command-line parser and the one place that turns errors into exit codes."""
from __future__ import annotations

import argparse

from dfdesk import __version__
from dfdesk.cli import (
    analyze_command,
    case_commands,
    models_command,
    profile_command,
    report_command,
    sample_command,
    train_command,
)
from dfdesk.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, print_error
from dfdesk.services.cases import CaseError
from dfdesk.store.database import DatabaseError

COMMAND_MODULES = [case_commands, analyze_command, report_command, models_command, train_command, profile_command,
                   sample_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dfdesk", description="Video deepfake forensics. Without a command: the GUI.")
    parser.add_argument("--version", action="version", version=f"dfdesk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def run_cli(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
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
