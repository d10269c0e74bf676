"""What every sub-command shares: the database option, exit codes, one-line errors, progress bars."""
from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

from dfdesk import paths
from dfdesk.store.database import Database

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    """Ends the command with one line on stderr and the given exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None, metavar="PATH",
                        help="case database file (default: the per-user data folder)")


def open_database(path: Path | None) -> Database:
    return Database(path or paths.default_database_path())


def print_error(message: str) -> None:
    print(f"dfdesk: error: {message}", file=sys.stderr)


def interactive() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, description: str, unit: str = "it", unit_scale: bool = False):
    """A tqdm bar on a terminal; a silent stand-in when output goes to a file or pipe."""
    if not interactive():
        yield _Silent()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit=unit, unit_scale=unit_scale, leave=False) as bar:
        yield bar


class _Silent:
    def update(self, _n: int = 1) -> None:
        pass

    def set_description_str(self, _text: str) -> None:
        pass
