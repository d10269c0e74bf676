"""`dfdesk train --config FILE [--jsonl] [--dry-run] [--resume]`: the trainer (what the GUI wizard runs).

A thin wrapper over :mod:`trainer.cli`, which owns the arguments, the JSON-lines events and the exit codes
(0 done, 2 bad data or settings with one line on stderr, 1 a failure mid-run).
"""
from __future__ import annotations

import argparse

from dfdesk.cli.common import add_db_option, open_database
from dfdesk.cli.profile_command import add_profile_option, authorize
from dfdesk.services import audit


def register(commands: argparse._SubParsersAction) -> None:
    from trainer.cli import add_arguments

    train = commands.add_parser("train", help="train or fine-tune a detector on a local data set (admins)")
    add_arguments(train)
    add_db_option(train)
    add_profile_option(train)
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    db = open_database(args.db)
    actor = authorize(db, args.profile, "training")  # admins only
    with db.unit_of_work() as session:
        audit.record(session, actor, "train.start", config=str(args.config), dry_run=bool(args.dry_run),
                     resume=bool(args.resume))
    db.close()
    from trainer.cli import run  # torch and the data pipeline load only when training

    return run(args)
