"""`dfdesk sample OUT.mp4`: write the demonstration clip."""
from __future__ import annotations

import argparse
from pathlib import Path

from dfdesk.cli import arguments
from dfdesk.cli.common import EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    sample = commands.add_parser("sample", help="write a short demonstration clip (a real face) to open in the app")
    sample.add_argument("out", type=arguments.output_file, nargs="?", default=Path("dfdesk-sample.mp4"))
    sample.set_defaults(handler=write_sample)


def write_sample(args: argparse.Namespace) -> int:
    from dfdesk.services.sample import write_sample_clip  # PyAV loads here

    print(write_sample_clip(args.out))
    return EXIT_OK
