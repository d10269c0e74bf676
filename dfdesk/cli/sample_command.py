"""`dfdesk sample OUT.mp4`: write the demonstration clip."""
from __future__ import annotations

import argparse
from pathlib import Path

from dfdesk.cli.common import EXIT_OK
from dfdesk.services.sample import write_sample_clip


def register(commands: argparse._SubParsersAction) -> None:
    sample = commands.add_parser("sample", help="write a short demonstration clip (a real face) to open in the app")
    sample.add_argument("out", type=Path, nargs="?", default=Path("dfdesk-sample.mp4"))
    sample.set_defaults(handler=write_sample)


def write_sample(args: argparse.Namespace) -> int:
    print(write_sample_clip(args.out))
    return EXIT_OK
