"""Case number and description edited through the case service (audited), and the data_version probe with which
the GUI follows the database, against real SQLite files and a second process."""
from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from dfdesk.services import audit, cases
from dfdesk.store.database import Database
from dfdesk.store.tables import AuditEvent, Case


def test_number_and_description_are_saved_and_audited_with_old_and_new_values(db: Database):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Harbour", "alice", number="HF-1").id
    with db.unit_of_work() as session:
        cases.update_case_details(session, case_id, "  HF-2024-17 ", "Clip sent by the harbour police", "bob")
    with db.unit_of_work() as session:
        case = session.get(Case, case_id)
        assert (case.number, case.description) == ("HF-2024-17", "Clip sent by the harbour police")
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.action, event.actor, event.case_id) == ("case.update", "bob", case_id)
        assert event.details["number"] == {"old": "HF-1", "new": "HF-2024-17"}
        assert event.details["description"] == {"old": "", "new": "Clip sent by the harbour police"}
        assert audit.verify(session) == []


def test_saving_unchanged_details_records_nothing(db: Database):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Harbour", "alice", number="HF-1", description="d").id
    with db.unit_of_work() as session:
        cases.update_case_details(session, case_id, "HF-1", "d", "bob")
        assert [e.action for e in audit.events_for(session, case_id=case_id)] == ["case.create"]


def test_a_too_long_number_is_refused_and_nothing_changes(db: Database):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Harbour", "alice", number="HF-1").id
    with pytest.raises(cases.CaseError, match="100 characters"), db.unit_of_work() as session:
        cases.update_case_details(session, case_id, "9" * 101, "", "bob")
    with db.unit_of_work() as session:
        assert session.get(Case, case_id).number == "HF-1"
        assert len(audit.events_for(session, case_id=case_id)) == 1


def _create_case_in_another_process(db: Database, name: str) -> None:
    code = ("import sys; from dfdesk.store.database import Database; from dfdesk.services import cases\n"
            "db = Database(sys.argv[1])\n"
            "with db.unit_of_work() as s: cases.create_case(s, sys.argv[2], 'cli-user')\n")
    subprocess.run([sys.executable, "-c", code, str(db.path), name], check=True, timeout=120)


def test_data_version_moves_on_every_commit_elsewhere_and_not_on_reads(db: Database):
    watch = cases.change_watch_connection(db)
    try:
        first = cases.data_version(watch)
        with db.unit_of_work() as session:
            cases.list_cases(session)
        assert cases.data_version(watch) == first  # a read commits nothing
        with db.unit_of_work() as session:
            cases.create_case(session, "In this process", "alice")
        second = cases.data_version(watch)
        assert second != first
        _create_case_in_another_process(db, "From the CLI")
        assert cases.data_version(watch) != second
    finally:
        watch.close()
