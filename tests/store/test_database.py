from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from dfdesk.services import audit, cases
from dfdesk.store.database import Database, DatabaseError, head_revision, schema_revision
from dfdesk.store.tables import Evidence


def test_new_database_is_migrated_to_head_with_wal_and_foreign_keys(db: Database) -> None:
    assert schema_revision(db.engine) == head_revision() == "0003"
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
    assert db.integrity_check() == "ok"


def test_reopening_keeps_data(db: Database) -> None:
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice")
    reopened = Database(db.path)
    with reopened.unit_of_work() as session:
        assert [c.name for c in cases.list_cases(session)] == ["Case A"]
    reopened.close()


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"), db.unit_of_work() as session:
        session.add(Evidence(case_id=999, path="x", file_name="x", sha256="0" * 64, size_bytes=1, container="mp4",
                             codec="h264", width=1, height=1, fps=1.0, frame_count=1, duration_s=1.0, ingested_by="a"))


def test_unit_of_work_rolls_back_everything_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        cases.create_case(session, "Half done", "alice")
        raise RuntimeError("crash in the middle")
    with db.unit_of_work() as session:
        assert cases.list_cases(session) == []
        assert audit.events_for(session) == []


def test_audit_rows_cannot_be_updated_or_deleted_through_sql(db: Database) -> None:
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice")
    connection = sqlite3.connect(db.path)
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute(statement)
    connection.close()


def test_a_file_that_is_not_a_database_is_refused_with_one_message(tmp_path) -> None:
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="is not a SQLite database: refused"):
        Database(bogus)
