"""The case database's record of training, whichever front-end starts it: ``train.start`` before a run (``dfdesk
train`` and the GUI's wizard, which runs that command), and ``model.stacking`` for a stacking file the run wrote,
with its SHA-256, members, weights and figures."""
from __future__ import annotations

from pathlib import Path

from dfdesk.detectors.weights import sha256_file
from dfdesk.services import audit
from dfdesk.store.database import Database


def record_training_start(db: Database, actor: str, config: str, *, dry_run: bool, resume: bool,
                          stacking: bool) -> None:
    with db.unit_of_work() as session:
        audit.record(session, actor, "train.start", config=config, dry_run=dry_run, resume=resume, stacking=stacking)


def record_stacking(db: Database, actor: str, config: str, done: dict) -> None:
    """``done``: the run's last event (``stacking``: the file written; its models, weights, bias and metrics)."""
    path = Path(done["stacking"])
    with db.unit_of_work() as session:
        audit.record(session, actor, "model.stacking", path=str(path), sha256=sha256_file(path), config=config,
                     models=done["models"], weights=done["weights"], bias=done["bias"], metrics=done["metrics"])
