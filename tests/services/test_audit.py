from __future__ import annotations

import sqlite3

from dfdesk.services import audit, cases
from dfdesk.store.database import Database


def _three_events(db: Database) -> None:
    with db.unit_of_work() as session:
        case = cases.create_case(session, "Case A", "alice")
        cases.rename_case(session, case.id, "Case B", "bob")
        cases.set_case_closed(session, case.id, True, "alice")


def _tamper(db: Database, *statements: str) -> None:
    """What someone with the file and the sqlite3 shell could do: drop the guards, then edit."""
    connection = sqlite3.connect(db.path)
    connection.execute("DROP TRIGGER audit_events_no_update")
    connection.execute("DROP TRIGGER audit_events_no_delete")
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def _problems(db: Database) -> list[audit.ChainProblem]:
    with db.unit_of_work() as session:
        return audit.verify(session)


def test_an_untouched_chain_verifies(db: Database) -> None:
    _three_events(db)
    assert _problems(db) == []
    with db.unit_of_work() as session:
        events = audit.events_for(session)
    assert [e.action for e in events] == ["case.create", "case.rename", "case.close"]
    assert [e.actor for e in events] == ["alice", "bob", "alice"]
    assert events[1].prev_hash == events[0].hash


def test_an_edited_row_is_detected(db: Database) -> None:
    _three_events(db)
    _tamper(db, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
    assert [p.event_id for p in _problems(db)] == [2]


def test_an_edited_detail_is_detected(db: Database) -> None:
    _three_events(db)
    _tamper(db, """UPDATE audit_events SET details = '{"old": "Case A", "new": "Case Z"}' WHERE id = 2""")
    assert 2 in [p.event_id for p in _problems(db)]


def test_a_deleted_row_is_detected(db: Database) -> None:
    _three_events(db)
    _tamper(db, "DELETE FROM audit_events WHERE id = 2")
    problems = _problems(db)
    assert problems and problems[0].event_id == 3
    assert "missing" in problems[0].problem


def test_reordered_rows_are_detected(db: Database) -> None:
    """Swapping two rows' ids (reordering) breaks the chain even if every row keeps its own hash."""
    _three_events(db)
    _tamper(db, "UPDATE audit_events SET id = 99 WHERE id = 2", "UPDATE audit_events SET id = 2 WHERE id = 3",
            "UPDATE audit_events SET id = 3 WHERE id = 99")
    assert _problems(db)
