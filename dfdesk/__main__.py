"""Entry point: `dfdesk` opens the GUI; `dfdesk SUBCOMMAND …` is the command line.

The GUI is reached only through :func:`dfdesk.gui.launch.launch` (the one import of dfdesk.gui allowed here), so
the command line never loads Qt.
"""
from __future__ import annotations

import multiprocessing
import sys

SMOKE_GUI = "--smoke-gui"  # hidden: open the GUI, print one line once the main window is shown, quit (smoke tests)


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = sys.argv[1:] if argv is None else argv
    if not args or args == [SMOKE_GUI]:
        from dfdesk.gui.launch import launch

        return launch(smoke=bool(args))
    from dfdesk.cli.main import run_cli

    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
