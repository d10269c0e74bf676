"""Entry point: `dfdesk` opens the GUI; `dfdesk SUBCOMMAND …` is the command line."""
from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = sys.argv[1:] if argv is None else argv
    if not args:
        from dfdesk.gui.app import run_gui

        return run_gui()
    from dfdesk.cli.main import run_cli

    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
