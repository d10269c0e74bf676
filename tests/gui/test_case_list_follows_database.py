"""The case list and the evidence table follow the database (this process and another one), a click opens a case,
and the case details dialog saves the number, examiner and description through the service, audited."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from sqlalchemy import select

from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.views.case_browser import CaseBrowser
from dfdesk.services import audit, cases, text_limits
from dfdesk.services.ingest import ingest_video
from dfdesk.store.tables import AuditEvent, Case
from tests.gui.conftest import messages


def window_on(qtbot, db, settings, jobs) -> MainWindow:
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.show()
    return window


def labels(browser: CaseBrowser) -> list[str]:
    return [browser.list.item(i).text() for i in range(browser.list.count())]


def in_another_process(db, code: str, *args: str) -> None:
    """Runs ``code`` in a fresh Python process on the same database file, as the CLI or a batch would."""
    prelude = ("import sys; from pathlib import Path; from dfdesk.store.database import Database\n"
               "db = Database(sys.argv[1])\n")
    subprocess.run([sys.executable, "-c", prelude + code, str(db.path), *args], check=True, timeout=120)


def test_a_case_and_evidence_added_by_another_process_appear_without_a_restart(qtbot, db, settings, jobs,
                                                                             clip_dir: Path):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Harbour", "alice").id
    window = window_on(qtbot, db, settings, jobs)
    window.open_case(case_id)
    assert labels(window.cases) == ["Harbour — 0 video(s)"]
    in_another_process(db, "from dfdesk.services.ingest import ingest_video\n"
                           "ingest_video(db, 'Harbour', Path(sys.argv[2]), 'cli-user')\n"
                           "ingest_video(db, 'From the CLI', Path(sys.argv[2]), 'cli-user')\n",
                       str(clip_dir / "face.mp4"))
    qtbot.waitUntil(lambda: "From the CLI — 1 video(s)" in labels(window.cases), timeout=10_000)  # the timer's poll
    assert "Harbour — 1 video(s)" in labels(window.cases)
    assert [row.file_name for row in window.evidence.model.rows] == ["face.mp4"]


def test_the_poll_reads_only_when_something_was_committed(qtbot, db, settings, jobs, clip_dir: Path):
    window = window_on(qtbot, db, settings, jobs)
    window.poll_timer.stop()  # driven by hand here
    assert window.poll_database() is False
    with db.unit_of_work() as session:
        cases.list_cases(session)
    assert window.poll_database() is False  # a read is not a change
    ingest_video(db, "Harbour", clip_dir / "face.mp4", "alice")
    assert window.poll_database() is True
    assert labels(window.cases) == ["Harbour — 1 video(s)"]
    assert window.poll_database() is False


def test_the_evidence_selection_survives_a_refresh_that_adds_a_row(qtbot, db, settings, jobs, clip_dir: Path):
    intake = ingest_video(db, "Harbour", clip_dir / "face.mp4", "alice")
    window = window_on(qtbot, db, settings, jobs)
    window.poll_timer.stop()
    window.open_case(intake.case_id)
    window.evidence.table.selectRow(0)
    ingest_video(db, "Harbour", clip_dir / "portrait.mp4", "bob")
    assert window.poll_database()
    assert [r.file_name for r in window.evidence.model.rows] == ["face.mp4", "portrait.mp4"]
    assert [r.file_name for r in window.evidence.selected_rows()] == ["face.mp4"]


def test_one_click_on_a_case_opens_it(qtbot, db, settings, jobs, clip_dir: Path):
    ingest_video(db, "Harbour", clip_dir / "face.mp4", "alice")
    with db.unit_of_work() as session:
        cases.create_case(session, "Election", "alice")
    window = window_on(qtbot, db, settings, jobs)
    item = next(window.cases.list.item(i) for i in range(window.cases.list.count())
                if window.cases.list.item(i).text().startswith("Harbour"))
    rect = window.cases.list.visualItemRect(item)
    qtbot.mouseClick(window.cases.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.evidence.case is not None and window.evidence.case.name == "Harbour"
    assert window.evidence.model.rowCount() == 1


def browser_on(qtbot, db) -> CaseBrowser:
    browser = CaseBrowser(db, lambda: "carol")
    qtbot.addWidget(browser)
    browser.show()
    return browser


def test_the_details_dialog_saves_number_examiner_and_description_audited(qtbot, db):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Harbour", "alice", number="HF-1").id
    browser = browser_on(qtbot, db)
    browser.select(case_id)
    browser.details_button.click()
    dialog = browser.details_dialog
    assert dialog.isVisible() and dialog.number.text() == "HF-1" and dialog.examiner.text() == ""
    dialog.number.setText("HF-2024-17")
    dialog.examiner.setText("Dr. Ada Lovelace")
    dialog.description.setPlainText("Clip sent by the harbour police")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    with db.unit_of_work() as session:
        case = session.get(Case, case_id)
        assert (case.number, case.examiner, case.description) == (
            "HF-2024-17", "Dr. Ada Lovelace", "Clip sent by the harbour police")
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.action, event.actor) == ("case.update", "carol")
        assert event.details["examiner"] == {"old": None, "new": "Dr. Ada Lovelace"}
    assert labels(browser) == ["Harbour [HF-2024-17] — 0 video(s)"]
    browser.details_button.click()
    assert browser.details_dialog.examiner.text() == "Dr. Ada Lovelace"  # read back from the database


def test_an_examiner_the_service_refuses_is_reported_and_not_saved(qtbot, db):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Harbour", "alice").id
    browser = browser_on(qtbot, db)
    browser.select(case_id)
    browser.details_button.click()
    dialog = browser.details_dialog
    assert dialog.examiner.maxLength() == text_limits.EXAMINER
    dialog.examiner.setText("Dr.\tTab")  # a control character the line edit accepts but the service refuses
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert messages() == ["examiner contains a forbidden character U+0009 (a control character)"]
    with db.unit_of_work() as session:
        assert session.get(Case, case_id).examiner is None


def test_cancelling_the_details_dialog_changes_nothing(qtbot, db):
    with db.unit_of_work() as session:
        case_id = cases.create_case(session, "Harbour", "alice", number="HF-1").id
    browser = browser_on(qtbot, db)
    browser.select(case_id)
    dialog = browser.ask_details()
    dialog.number.setText("typed, then cancelled")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    with db.unit_of_work() as session:
        assert session.get(Case, case_id).number == "HF-1"
        assert [e.action for e in audit.events_for(session, case_id=case_id)] == ["case.create"]


def test_details_need_a_selected_case(qtbot, db):
    browser = browser_on(qtbot, db)
    assert not browser.details_button.isEnabled()
    assert browser.ask_details() is None
