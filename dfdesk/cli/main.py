"""The command-line parser and the one place that turns errors into exit codes.

Only the module of the sub-command being run is imported, and the sub-command modules import their heavy
dependencies (PyTorch, PyAV, SQLAlchemy) in their handlers, so an argument error is answered before any of them
loads.  Every way a command can end is one line on stderr and an exit code (see ``docs/ARCHITECTURE.md``,
"Command-line contract"): 2 for bad input, refused before anything was written; 1 for a failure once work began.
"""
from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from dfdesk import __version__
from dfdesk.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    CliError,
    close_databases,
    logged_warnings_as_lines,
    print_error,
)
from dfdesk.cli.environment import check_environment

COMMANDS = {  # sub-command -> module of dfdesk.cli that registers it
    "case": "case_commands", "ingest": "case_commands", "audit": "case_commands",
    "analyze": "analyze_command", "resume": "analyze_command", "report": "report_command", "models": "models_command",
    "train": "train_command", "profile": "profile_command", "sample": "sample_command", "batch": "batch_command",
}
BAD_INPUT_ERRORS = (  # (module, exception class) whose message refuses the user's input: exit 2
    ("dfdesk.services.cases", "CaseError"),
    ("dfdesk.store.file_check", "DatabaseError"),
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors end the command like any other bad input: one line, exit 2."""

    def error(self, message: str):
        command = self.prog.removeprefix("dfdesk").strip()
        where = f"{command}: " if command else ""
        raise CliError(f"{where}{message} (see {self.prog} --help)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every sub-command, or only ``command``'s module when it is known."""
    parser = OneLineParser(prog="dfdesk", description="Video deepfake forensics. Without a command: the GUI.")
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
    """Run one command; never raises (bar a second Ctrl-C): every end is an exit code and at most one line (bar
    the warnings the services log on the way, each a ``dfdesk: warning:`` line)."""
    with logged_warnings_as_lines():
        return _run(argv)


def _run(argv: list[str]) -> int:
    try:
        args = build_parser(argv[0] if argv else None).parse_args(argv)
        check_environment()
        code = args.handler(args)
        sys.stdout.flush()  # a reader that went away is met here, not at the interpreter's exit
        return code
    except SystemExit as exc:  # --help and --version print and exit
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader stopped early (| head): nothing to say to it, and nothing left to write
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except CliError as exc:
        print_error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_FAILURE
    except OSError as exc:  # the system refused once work began: disk full, a file gone, a device error
        print_error(_os_error_line(exc))
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001  (the contract: one line, never a traceback)
        if _is_bad_input(exc):
            print_error(str(exc))
            return EXIT_BAD_INPUT
        print_error(f"unexpected {type(exc).__name__}: {exc} (please report this; the case database is "
                    "unchanged unless a line above said otherwise)")
        return EXIT_FAILURE
    finally:
        close_databases()


def _is_bad_input(exc: Exception) -> bool:
    """True for the services' refusals of what the user gave; looked up among the loaded modules, so that
    catching them imports nothing (an exception of a module not loaded cannot have been raised)."""
    for module, name in BAD_INPUT_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return True
    return False


def _os_error_line(exc: OSError) -> str:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {reason}" if exc.filename else reason
