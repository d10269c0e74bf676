"""Case number, examiner and description edited through the case service (audited), and the data_version probe
with which the GUI follows the database, against real SQLite files and a second process."""
from __future__ import annotations

import re
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


def test_the_examiner_is_saved_audited_cleared_and_shown_in_the_evidence_view(db: Database, clip_dir):
    from dfdesk.services.ingest import ingest_video
    from dfdesk.services.results import evidence_view
    from dfdesk.store.tables import Evidence

    intake = ingest_video(db, "Harbour", clip_dir / "face.mp4", "alice")
    with db.unit_of_work() as session:
        cases.update_case_details(session, intake.case_id, "", "d", "bob", examiner="  Dr. Ada Lovelace ")
    with db.unit_of_work() as session:
        evidence = session.get(Evidence, intake.evidence_id)
        view = evidence_view(evidence, evidence.case)
        assert (view.case_examiner, view.case_description) == ("Dr. Ada Lovelace", "d")
        event = audit.events_for(session, case_id=intake.case_id)[-1]
        assert event.details["examiner"] == {"old": None, "new": "Dr. Ada Lovelace"}
    with db.unit_of_work() as session:  # None leaves it alone; "" clears it back to "not recorded"
        cases.update_case_details(session, intake.case_id, "", "d", "bob")
        assert session.get(Case, intake.case_id).examiner == "Dr. Ada Lovelace"
        cases.update_case_details(session, intake.case_id, "", "d", "bob", examiner="")
    with db.unit_of_work() as session:
        assert session.get(Case, intake.case_id).examiner is None
        assert audit.events_for(session, case_id=intake.case_id)[-1].details["examiner"] == {
            "old": "Dr. Ada Lovelace", "new": None}
        assert audit.verify(session) == []


def test_a_case_can_be_created_with_an_examiner(db: Database):
    with db.unit_of_work() as session:
        case = cases.create_case(session, "Harbour", "alice", examiner="Grace Hopper")
        assert case.examiner == "Grace Hopper"
        assert audit.events_for(session, case_id=case.id)[-1].details["examiner"] == "Grace Hopper"


@pytest.mark.parametrize(("field", "kwargs", "sentence"), [
    ("examiner", {"examiner": "x" * 201}, "examiner is 201 characters; the limit is 200"),
    ("number", {"number": "9" * 65}, "case number is 65 characters; the limit is 64"),
    ("description", {"description": "x" * 4001}, "description is 4001 characters; the limit is 4000"),
    ("examiner", {"examiner": "Ada\u202eecalevol"}, "examiner contains a forbidden character U+202E"),
])
def test_text_over_the_limits_is_refused_with_one_sentence_and_nothing_changes(db: Database, field, kwargs,
                                                                                sentence):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Harbour", "alice", number="HF-1").id
    values = {"number": "HF-1", "description": "", **kwargs}
    with pytest.raises(cases.CaseError, match=re.escape(sentence)), db.unit_of_work() as session:
        cases.update_case_details(session, case_id, values.pop("number"), values.pop("description"), "bob", **values)
    with db.unit_of_work() as session:
        case = session.get(Case, case_id)
        assert (case.number, case.description, case.examiner) == ("HF-1", "", None)
        assert len(audit.events_for(session, case_id=case_id)) == 1
