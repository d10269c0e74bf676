"""`dfdesk train --config FILE [--jsonl] [--dry-run] [--resume] [--stacking]`: the trainer (what the GUI wizard runs).

A thin wrapper over :mod:`trainer.cli`, which owns the arguments, the JSON-lines events and the exit codes
(0 done, 2 bad data or settings with one line on stderr, 1 a failure mid-run).
"""
from __future__ import annotations

import argparse
import os
import sys

from dfdesk.cli.common import add_db_option, open_database
from dfdesk.cli.profile_command import add_profile_option, authorize_installation
from dfdesk.services.training_records import record_stacking, record_training_start


def register(commands: argparse._SubParsersAction) -> None:
    from trainer.cli import add_arguments

    train = commands.add_parser("train", help="train or fine-tune a detector on a local data set (admins)")
    add_arguments(train)
    add_db_option(train)
    add_profile_option(train)
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Audit the start (and, for --stacking, the stacking file written), then run the trainer; a model the run
    installs is registered under the admin's grant, like an import, so that it is not ignored as copied in by
    hand.  Under torchrun only rank 0 writes to the database."""
    main_rank = int(os.environ.get("RANK", "0")) == 0
    db = open_database(args.db)
    actor, grant = authorize_installation(db, args.profile, "training")  # admins only
    if main_rank:
        record_training_start(db, actor, _config_name(args), dry_run=bool(args.dry_run), resume=bool(args.resume),
                              stacking=bool(args.stacking))
    db.close()
    from trainer.cli import run  # torch and the data pipeline load only when training

    done: list[dict] = []
    code = run(args, observe=lambda event: done.append(event) if event.get("event") == "done" else None)
    if main_rank and code == 0 and args.stacking and done and done[-1].get("stacking"):
        _audit_stacking(args, actor, done[-1])
    if main_rank and code == 0 and done and done[-1].get("model"):
        code = _register(done[-1]["model"], grant)
    return code


def _config_name(args: argparse.Namespace) -> str:
    """The settings file as given, or what ``--stacking`` uses without one."""
    return str(args.config) if args.config else "default: the labelled clips of ../shared/data (labels.csv)"


def _register(name: str, grant) -> int:
    from dfdesk.services.models import ModelStoreError, register_model

    try:
        register_model(name, grant=grant)
    except ModelStoreError as exc:
        print(f"dfdesk: the trained model {name!r} was installed but not registered: {exc}", file=sys.stderr)
        return 1
    return 0


def _audit_stacking(args: argparse.Namespace, actor: str, done: dict) -> None:
    db = open_database(args.db)
    try:
        record_stacking(db, actor, _config_name(args), done)
    finally:
        db.close()
