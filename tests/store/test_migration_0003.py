"""Revision 0003 (the case examiner) upgrades a database made by the previous schema in place."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from dfdesk.services import audit, cases
from dfdesk.store import file_check
from dfdesk.store.database import Database, alembic_config, head_revision, make_engine, schema_revision
from dfdesk.store.tables import Case


def _database_at_0002(path: Path) -> None:
    """A dfdesk file as the previous release left it: schema 0002, stamped, one case (written in SQL: today's
    tables already have the new column)."""
    engine = make_engine(path)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        file_check.stamp(connection)
    engine.dispose()
    engine = make_engine(path)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO cases (name, number, description, created_at, created_by, closed) "
                                "VALUES ('Harbour', 'HF-1', 'old case', '2025-01-01 00:00:00', 'alice', 0)"))
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(cases)"))]
    engine.dispose()
    assert "examiner" not in columns


def test_an_older_database_gains_a_null_examiner_and_keeps_its_rows_and_audit_guards(tmp_path: Path):
    path = tmp_path / "old.sqlite"
    _database_at_0002(path)
    db = Database(path)
    try:
        assert schema_revision(db.engine) == head_revision() == "0003"
        with db.unit_of_work() as session:
            case = cases.find_case(session, "Harbour")
            assert (case.number, case.description, case.examiner) == ("HF-1", "old case", None)
            cases.update_case_details(session, case.id, "HF-1", "old case", "bob", examiner="Dr. Ada Lovelace")
        with db.unit_of_work() as session:
            assert session.get(Case, case.id).examiner == "Dr. Ada Lovelace"
            assert audit.verify(session) == []
        with db.engine.connect() as connection:
            triggers = {row[0] for row in connection.execute(
                text("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'"))}
        assert {"audit_events_no_update", "audit_events_no_delete"} <= triggers
    finally:
        db.close()


def test_a_new_case_has_no_examiner_recorded(db: Database):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Fresh", "alice").id
    with db.unit_of_work() as session:
        assert session.get(Case, case_id).examiner is None
