"""`dfdesk train --config FILE [--jsonl] [--dry-run] [--resume]`: the trainer (what the GUI wizard runs).

A thin wrapper over :mod:`trainer.cli`, which owns the arguments, the JSON-lines events and the exit codes
(0 done, 2 bad data or settings with one line on stderr, 1 a failure mid-run).
"""
from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    from trainer.cli import add_arguments

    train = commands.add_parser("train", help="train or fine-tune a detector on a local data set (admins)")
    add_arguments(train)
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    from trainer.cli import run  # torch and the data pipeline load only when training

    return run(args)
