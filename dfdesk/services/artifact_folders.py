"""Where an analysis's derived files (heat-map PNGs) live: in a folder beside its case database.

Case and analysis ids restart at 1 in every database, so a folder named by ids alone, shared by all databases,
let two ``--db`` files overwrite each other's heat maps (and the report then called the first one's tampered).
Keying the folder by the database file it belongs to makes a collision impossible and keeps a case database and
its derived files together when the analyst moves or archives them.  The folder is derived from the database
object passed in, never from the environment.
"""
from __future__ import annotations

from pathlib import Path

from dfdesk.store.database import Database

SUFFIX = ".files"


def database_files_dir(db: Database) -> Path:
    """``cases.sqlite`` -> ``cases.sqlite.files`` in the same folder."""
    return db.path.with_name(db.path.name + SUFFIX)


def analysis_folder(db: Database, case_id: int, analysis_id: int) -> Path:
    """The folder of one analysis's heat maps (not created here)."""
    return database_files_dir(db) / f"case-{case_id:05d}" / f"analysis-{analysis_id:05d}"
