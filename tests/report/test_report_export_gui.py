"""The desktop's report export: the save dialog is offered the suggested name, and the message after export
offers "Open" and "Show in folder", each handing the right place to the desktop (its opener replaced here)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtTest import QTest

from dfdesk.gui import dialogs, report_done
from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.views import evidence_details
from dfdesk.services import cases
from dfdesk.services.report_names import suggested_report_name
from tests.fixtures.analyses import make_saved_analysis
from tests.gui.conftest import close_messages, jobs, no_thread_left_running, settings  # noqa: F401 (fixtures)


@pytest.fixture
def window(qtbot, db, jobs, settings) -> MainWindow:  # noqa: F811
    main = MainWindow(db, settings, jobs)
    qtbot.addWidget(main)
    main.show()
    return main


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    urls: list[str] = []
    monkeypatch.setattr(evidence_details, "open_url", lambda url: urls.append(url.toLocalFile()) or True)
    return urls


def written_box():
    return next(box for box in dialogs.open_messages() if box.objectName() == "reportWrittenDialog")


def export_with_the_dialog(qtbot, window: MainWindow, db, clip_dir: Path, out: Path, jobs) -> list[str]:  # noqa: F811
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice", "HF 17")
    window.open_analysis(make_saved_analysis(db, clip_dir / "face.mp4"))
    offered: list[str] = []
    window.ask_report_path = lambda _parent, suggested: offered.append(suggested) or out
    with qtbot.waitSignal(jobs.job_added) as added:
        QTest.keySequence(window, "Ctrl+E")
    with qtbot.waitSignal(added.args[0].finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: any(b.objectName() == "reportWrittenDialog" for b in dialogs.open_messages()))
    return offered


def test_export_offers_the_suggested_name_then_open_and_show_in_folder(qtbot, window, db, clip_dir, tmp_path,
                                                                       jobs, opened):  # noqa: F811
    out = tmp_path / "reports" / "chosen.pdf"
    out.parent.mkdir()
    offered = export_with_the_dialog(qtbot, window, db, clip_dir, out, jobs)
    assert offered == [suggested_report_name("HF 17", "face.mp4", date.today())]
    box = written_box()
    labels = [button.text() for button in box.buttons()]
    assert report_done.OPEN in labels and report_done.SHOW_IN_FOLDER in labels and str(out) in box.text()
    next(b for b in box.buttons() if b.text() == report_done.OPEN).click()
    assert opened == [str(out)]


def test_show_in_folder_opens_the_reports_folder(qtbot, window, db, clip_dir, tmp_path, jobs, opened):  # noqa: F811
    out = tmp_path / "reports" / "chosen.pdf"
    out.parent.mkdir()
    export_with_the_dialog(qtbot, window, db, clip_dir, out, jobs)
    next(b for b in written_box().buttons() if b.text() == report_done.SHOW_IN_FOLDER).click()
    assert opened == [str(out.parent)]


def test_opening_a_report_that_was_moved_says_so(qtbot, tmp_path, opened):
    assert "no longer there" in report_done.open_report(tmp_path / "gone.pdf") and opened == []
