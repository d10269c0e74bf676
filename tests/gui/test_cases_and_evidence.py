"""Case browser and evidence page against a real database and real clips."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from sqlalchemy import func, select

from dfdesk.gui.views.case_browser import CaseBrowser
from dfdesk.gui.views.evidence_table import COLUMNS, EvidencePage
from dfdesk.services import cases
from dfdesk.store.tables import AuditEvent, Case, Evidence
from tests.fixtures.analyses import make_saved_analysis
from tests.gui.conftest import messages
from tests.services.evidence_fixtures import OVERCLAIM, make_lr_analysis


def browser_with(qtbot, db, answers: list[str | None]) -> CaseBrowser:
    browser = CaseBrowser(db, lambda: "carol", prompt=lambda *_args: answers.pop(0))
    qtbot.addWidget(browser)
    return browser


def test_cases_in_the_database_show_and_search_filters_them(qtbot, db):
    with db.unit_of_work() as s:
        cases.create_case(s, "Harbour fraud", "x", number="HF-1")
        cases.create_case(s, "Election clip", "x")
    browser = browser_with(qtbot, db, [])
    assert sorted(r.name for r in browser.rows()) == ["Election clip", "Harbour fraud"]
    browser.search.setText("hf-")
    assert [r.name for r in browser.rows()] == ["Harbour fraud"]


def test_create_rename_and_close_change_the_database(qtbot, db):
    browser = browser_with(qtbot, db, ["Case one", "Case 1 renamed"])
    with qtbot.waitSignal(browser.case_opened) as opened:
        browser.new_button.click()
    browser.rename_button.click()
    browser.close_button.click()
    with db.unit_of_work() as s:
        case = s.get(Case, opened.args[0])
        assert (case.name, case.closed) == ("Case 1 renamed", True)
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["case.create", "case.rename", "case.close"]
    assert browser.close_button.text() == "Reopen"


def test_a_duplicate_name_gives_one_readable_dialog_and_changes_nothing(qtbot, db):
    with db.unit_of_work() as s:
        cases.create_case(s, "Taken", "x")
    browser = browser_with(qtbot, db, ["Taken"])
    browser.new_button.click()
    assert messages() == ["a case named 'Taken' already exists"]
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count(Case.id))) == 1


def evidence_page(qtbot, db, jobs, case_name="Case A") -> EvidencePage:
    with db.unit_of_work() as s:
        case_id = cases.get_or_create_case(s, case_name, "x").id
    page = EvidencePage(db, jobs, lambda: "dave")
    qtbot.addWidget(page)
    page.show_case(case_id)
    return page


def cell(page: EvidencePage, row: int, column: str) -> str:
    return page.model.data(page.model.index(row, COLUMNS.index(column)))


def test_added_videos_are_ingested_in_a_worker_and_shown(qtbot, db, jobs, clip_dir: Path):
    page = evidence_page(qtbot, db, jobs)
    job = page.add_files([clip_dir / "face.mp4", clip_dir / "portrait.mp4"])
    progress = []
    job.progress.connect(lambda p: progress.append(p.stage))
    with qtbot.waitSignal(job.finished, timeout=10_000):
        assert not page.add_button.isEnabled()  # one intake at a time
    assert "hash" in progress and progress[-1] == "ingest"
    assert [cell(page, r, "Name") for r in range(2)] == ["face.mp4", "portrait.mp4"]
    assert cell(page, 1, "Resolution") == "240×320"  # displayed upright
    assert cell(page, 0, "Status") == "not analysed" and cell(page, 0, "Verdict") == "—"
    with db.unit_of_work() as s:
        sha = s.scalar(select(Evidence.sha256).where(Evidence.file_name == "face.mp4"))
    assert cell(page, 0, "SHA-256") == sha[:12]
    assert messages() == []


def test_a_bad_file_gives_one_dialog_and_records_nothing(qtbot, db, jobs, tmp_path: Path, clip_dir: Path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    page = evidence_page(qtbot, db, jobs)
    with qtbot.waitSignal(page.add_files([bad, tmp_path / "missing.mp4"]).finished, timeout=10_000):
        pass
    assert len(messages()) == 1
    assert "notes.mp4" in messages()[0] and "missing.mp4" in messages()[0]
    assert "Traceback" not in messages()[0]
    assert page.model.rowCount() == 0
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count(Evidence.id))) == 0


def test_dropping_files_on_the_page_adds_them(qtbot, db, jobs, clip_dir: Path):
    page = evidence_page(qtbot, db, jobs)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clip_dir / "vfr.mp4"))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    page.dropEvent(event)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=10_000)
    assert cell(page, 0, "Name") == "vfr.mp4"


def test_a_saved_analysis_shows_its_verdict_and_can_be_opened(qtbot, db, jobs, clip_dir: Path):
    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4")
    page = evidence_page(qtbot, db, jobs)
    assert (cell(page, 0, "Status"), cell(page, 0, "Verdict"), cell(page, 0, "P(fake)")) == (
        "done", "likely manipulated", "71%")
    page.table.selectRow(0)
    with qtbot.waitSignal(page.analysis_opened) as opened:
        page.open_button.click()
    assert opened.args == [analysis_id]


def test_a_missed_fake_reads_no_manipulation_detected_never_real(qtbot, db, jobs, clip_dir: Path):
    make_lr_analysis(db, clip_dir / "face.mp4", case="Case A")  # the verdict "real" for scripts
    page = evidence_page(qtbot, db, jobs)
    assert page.model.rows[0].verdict == "real"
    assert cell(page, 0, "Verdict") == "no manipulation detected"
    texts = [cell(page, 0, column) for column in COLUMNS] + list(COLUMNS)
    assert not [text for text in texts if OVERCLAIM.search(text)]


def test_a_closed_case_takes_no_new_evidence(qtbot, db, jobs, clip_dir: Path):
    page = evidence_page(qtbot, db, jobs)
    with db.unit_of_work() as s:
        cases.set_case_closed(s, page.case.id, True, "x")
    page.refresh()
    assert not page.add_button.isEnabled()
    assert page.add_files([clip_dir / "face.mp4"]) is None
