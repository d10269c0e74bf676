"""Settings dialog, model manager and the main window (shortcuts, status bar, layout, closing with jobs)."""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtTest import QTest
from sqlalchemy import select

from dfdesk.core.types import Progress
from dfdesk.gui import dialogs, tasks
from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.settings import Analyst, AppSettings
from dfdesk.gui.views.model_manager import TRAINER_MISSING, TRAINER_WIZARD, ModelManager
from dfdesk.gui.views.settings_dialog import SettingsDialog
from dfdesk.services import models, profiles
from dfdesk.store.tables import AuditEvent
from tests.fixtures.analyses import make_saved_analysis
from tests.gui.conftest import messages


def make_admin(db, name="root", password="correct horse"):
    with db.unit_of_work() as s:
        profiles.create_profile(s, name, "admin", password, "setup")


def test_settings_are_stored_and_admin_needs_a_profile_login(qtbot, db, settings: AppSettings):
    make_admin(db)
    dialog = SettingsDialog(db, settings, Analyst("frank"), credentials=lambda *_: ("root", "correct horse"))
    qtbot.addWidget(dialog)
    dialog.name.setText("Frank Smith")
    dialog.sampling.setCurrentIndex(dialog.sampling.findData("random"))
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.frames.setValue(48)
    dialog.role.setCurrentIndex(dialog.role.findData("admin"))
    dialog.apply()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.analyst == Analyst("root", "admin")  # an admin acts under the profile's name
    assert (settings.sampling, settings.device, settings.frames) == ("random", "cpu", 48)
    with db.unit_of_work() as s:
        assert "profile.login" in s.scalars(select(AuditEvent.action)).all()


def test_a_wrong_password_keeps_the_analyst_role_and_the_failure_is_audited(qtbot, db, settings):
    make_admin(db)
    dialog = SettingsDialog(db, settings, Analyst("frank"), credentials=lambda *_: ("root", "wrong password"))
    qtbot.addWidget(dialog)
    dialog.role.setCurrentIndex(dialog.role.findData("admin"))
    dialog.apply()
    assert dialog.result() != dialog.DialogCode.Accepted and dialog.analyst.role == "analyst"
    assert messages() == ["unknown profile or wrong password"]
    with db.unit_of_work() as s:
        assert "profile.login_failed" in s.scalars(select(AuditEvent.action)).all()


def test_the_model_manager_lists_cards_and_persists_the_enabled_set(qtbot, settings, jobs, db):
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("root", "admin"))
    qtbot.addWidget(manager)
    installed = [c.name for c in models.list_installed()]
    names = [manager.tree.topLevelItem(i).text(1) for i in range(manager.tree.topLevelItemCount())]
    assert names[:len(installed)] == installed
    assert any("(untrained)" in n for n in names[len(installed):])  # architectures that need training
    manager.tree.setCurrentItem(manager.tree.topLevelItem(0))
    card = models.list_installed()[0]
    assert card.weights_sha256 in manager.details.toPlainText() and card.licence in manager.details.toPlainText()
    manager.set_checked(installed[0], False)
    manager.save_and_close()
    assert settings.enabled_models == tuple(installed[1:])
    trainer_there = importlib.util.find_spec(TRAINER_WIZARD) is not None
    assert manager.train_button.isEnabled() == trainer_there
    assert (manager.train_button.toolTip() == TRAINER_MISSING) != trainer_there


def test_importing_bad_weights_fails_with_a_readable_dialog(qtbot, settings, jobs, db, tmp_path: Path):
    bad = tmp_path / "weights.safetensors"
    bad.write_bytes(b"garbage")
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("root", "admin"))
    qtbot.addWidget(manager)
    before = manager.tree.topLevelItemCount()
    with qtbot.waitSignal(manager.start_import(bad, "mesonet4", "bad_one", "", "", 0.5).finished, timeout=10_000):
        pass
    assert len(messages()) == 1 and "Traceback" not in messages()[0]
    assert manager.tree.topLevelItemCount() == before and manager.import_button.isEnabled()


@pytest.fixture
def window(qtbot, db, jobs, settings) -> MainWindow:
    main = MainWindow(db, settings, jobs)
    qtbot.addWidget(main)
    main.show()
    return main


def test_status_bar_shows_the_device_and_models_need_admin(window: MainWindow):
    assert window.device_label.text().startswith("Device: CPU") or "GPU" in window.device_label.text()
    assert not window.models_action.isEnabled()
    window.set_analyst(Analyst("root", "admin"))
    assert window.models_action.isEnabled() and "root (admin)" in window.analyst_label.text()


def test_ctrl_e_without_an_open_analysis_says_so(qtbot, window: MainWindow):
    QTest.keySequence(window, "Ctrl+E")
    assert messages() == ["Open an analysis first: the report describes one analysis."]


def test_ctrl_e_exports_the_open_analysis_in_a_worker(qtbot, window: MainWindow, db, clip_dir, tmp_path, jobs):
    if not tasks.report_available():
        pytest.skip("the report service is not in this build")
    window.open_analysis(make_saved_analysis(db, clip_dir / "face.mp4"))
    out = tmp_path / "report.pdf"
    window.ask_report_path = lambda *_: out
    with qtbot.waitSignal(jobs.job_added) as added:
        QTest.keySequence(window, "Ctrl+E")
    with qtbot.waitSignal(added.args[0].finished, timeout=30_000):
        pass
    assert out.read_bytes().startswith(b"%PDF")
    assert any(str(out) in text for text in messages())


def test_opening_a_case_and_an_analysis_from_the_window(qtbot, window: MainWindow, db, clip_dir, settings):
    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4", case="Case B")
    window.cases.refresh()
    window.open_case(window.cases.rows()[0].id)
    assert window.evidence.model.rowCount() == 1 and settings.recent_cases == [window.cases.rows()[0].id]
    page = window.open_analysis(analysis_id)
    assert window.tabs.count() == 2 and window.open_analysis(analysis_id) is page  # not opened twice
    window.close_tab(1)
    assert window.tabs.count() == 1


def test_analyse_runs_the_real_analysis_in_a_worker_and_opens_the_result(qtbot, window: MainWindow, db,
                                                                         clip_dir, settings):
    if not tasks.analysis_available():
        pytest.skip("the analysis service is not in this build")
    from dfdesk.services.ingest import ingest_video

    intake = ingest_video(db, "Case R", clip_dir / "face.mp4", "x")
    settings.frames, settings.sampling, settings.device = 6, "uniform", "cpu"
    settings.enabled_models = ("meso4_df",)
    window.open_case(intake.case_id)
    window.evidence.table.selectRow(0)
    stages = []
    with qtbot.waitSignal(window.jobs.job_added) as added:
        window.evidence.analyse_button.click()
    job = added.args[0]
    job.progress.connect(lambda p: stages.append(p.stage))
    with qtbot.waitSignal(job.finished, timeout=120_000):
        pass
    assert job.state == "done", job.error
    assert stages[-1] == "save"
    page = window.current_analysis()
    assert page is not None and page.analysis_id == job.result
    assert page.verdict.headline.text() != "" and page.player.source is not None
    assert window.evidence.model.rows[0].status == "done"
    from dfdesk.services.analysis import AnalysisRequest
    from dfdesk.services.results import load_analysis

    with db.unit_of_work() as session:  # the window asks for the request's default fusion rule
        assert load_analysis(session, job.result).settings["fusion"] == AnalysisRequest().fusion == "auto"
    qtbot.waitUntil(lambda: window.jobs.active_count() == 0, timeout=10_000)


def test_closing_cancels_running_jobs_and_remembers_the_layout(qtbot, db, jobs, settings, monkeypatch, tmp_path):
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.show()
    window.jobs_dock.hide()
    gate, ticks = threading.Event(), []

    def forever(ctx):
        while not gate.wait(0.005):
            ticks.append(1)
            yield Progress("busy", len(ticks), 0)
    job = jobs.submit("busy", forever, gpu=True)
    qtbot.waitUntil(lambda: len(ticks) > 0, timeout=5000)
    monkeypatch.setattr(dialogs, "ask", lambda *_: False)
    assert not window.close() and job.state == "running"  # the analyst said no: nothing stops
    monkeypatch.setattr(dialogs, "ask", lambda *_: True)
    assert window.close()
    assert job.state == "cancelled" and jobs.active_count() == 0
    reopened = MainWindow(db, AppSettings(QSettings(settings.store.fileName(), QSettings.Format.IniFormat)), jobs)
    qtbot.addWidget(reopened)
    assert reopened.jobs_dock.isHidden()


def test_settings_menu_changes_the_analyst_shown(qtbot, window: MainWindow, monkeypatch):
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: (self.name.setText("Grace"), self.apply(),
                                                              self.result())[-1])
    window.open_settings()
    assert window.analyst == Analyst("Grace") and "Grace (analyst)" in window.analyst_label.text()
    assert window.settings.analyst_name == "Grace"


def test_a_cancelled_analysis_is_resumed_from_the_evidence_page(qtbot, window: MainWindow, db, clip_dir, settings):
    if not tasks.analysis_available():
        pytest.skip("the analysis service is not in this build")
    from dfdesk.core.steps import run_to_end
    from dfdesk.services.analysis import AnalysisCancelled, AnalysisRequest, run_analysis
    from dfdesk.services.ingest import ingest_video

    intake = ingest_video(db, "Case S", clip_dir / "face.mp4", "x")
    request = AnalysisRequest(models=("meso4_df",), frames=6, device="cpu")
    calls = iter([False, False, True])  # cancelled during face extraction, after the analysis row exists
    with pytest.raises(AnalysisCancelled):
        run_to_end(run_analysis(db, intake.evidence_id, request, "alice", cancel=lambda: next(calls, True)))
    window.open_case(intake.case_id)
    row = window.evidence.model.rows[0]
    assert row.status == "cancelled" and row.resumable_id is not None and row.analysis_id is None
    window.evidence.table.selectRow(0)
    assert window.evidence.resume_button.isEnabled() and not window.evidence.open_button.isEnabled()
    with qtbot.waitSignal(window.jobs.job_added) as added:
        window.evidence.resume_button.click()
    job = added.args[0]
    with qtbot.waitSignal(job.finished, timeout=120_000):
        pass
    assert job.state == "done", job.error
    assert job.result == row.resumable_id  # finished in place, not a new analysis
    assert window.current_analysis().analysis_id == row.resumable_id
    done = window.evidence.model.rows[0]
    assert done.status == "done" and done.analysis_id == row.resumable_id and done.resumable_id is None
    window.evidence.table.selectRow(0)
    assert not window.evidence.resume_button.isEnabled()
    qtbot.waitUntil(lambda: window.jobs.active_count() == 0, timeout=10_000)


def test_the_gui_asks_for_the_same_analysis_as_the_cli_by_default(settings: AppSettings) -> None:
    """Untouched settings give each model its card's frames and sampling, as `dfdesk analyze` without --frames
    and --sampling does: the same video gets the same P(fake) from both front ends."""
    from dfdesk.cli.main import build_parser
    from dfdesk.gui import tasks

    args = build_parser().parse_args(["analyze", "clip.mp4"])
    gui = tasks.analysis_request(None, settings.frames, settings.sampling, settings.device)
    assert (gui.frames, gui.sampling, gui.fusion, gui.seed) == (args.frames, args.sampling, args.fusion, args.seed)
    assert (gui.frames, gui.sampling) == (None, None)
    chosen = tasks.analysis_request(None, 48, "random", "cpu")
    assert (chosen.frames, chosen.sampling) == (48, "random")
