"""Settings dialog, model manager and the main window (shortcuts, status bar, layout, closing with jobs)."""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtTest import QTest
from sqlalchemy import select

from dfdesk import paths
from dfdesk.core.types import Progress
from dfdesk.gui import dialogs, tasks
from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.settings import Analyst, AppSettings
from dfdesk.gui.views.model_manager import TRAINER_MISSING, EnableDialog, ModelManager
from dfdesk.gui.views.settings_dialog import SettingsDialog
from dfdesk.services import audit, model_enablement, models, profiles
from dfdesk.services.model_selection import select_models
from dfdesk.store.tables import AuditEvent
from tests.fixtures.analyses import make_saved_analysis
from tests.gui.conftest import messages

WEIGHTS = paths.bundled_models_dir() / "meso4_df" / "model.safetensors"


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


def test_the_model_manager_lists_cards_with_their_enabled_state(qtbot, settings, jobs, db):
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("root", "admin"))
    qtbot.addWidget(manager)
    installed = [c.name for c in models.list_installed()]
    names = [manager.tree.topLevelItem(i).text(1) for i in range(manager.tree.topLevelItemCount())]
    assert names[:len(installed)] == installed
    assert any("(untrained)" in n for n in names[len(installed):])  # architectures that need training
    assert manager.enabled_models() == tuple(installed)  # shipped models start enabled
    manager.select(installed[0])
    card = models.list_installed()[0]
    text = manager.details.toPlainText()
    assert card.weights_sha256 in text and card.licence in text and "enabled by default" in text
    assert f"video AUC (labelled clips, face swaps vs reals): {card.metrics['labelled_face_swap_video_auc']}" in text
    assert manager.disable_button.isEnabled() and not manager.enable_button.isEnabled()
    assert manager.train_button.isEnabled()  # this checkout has the trainer package
    assert manager.train_button.toolTip() == "Open the trainer wizard"


def test_without_the_trainer_package_the_train_button_says_why(qtbot, settings, jobs, db, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "trainer" else
                        real_find_spec(name, *a))
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("root", "admin"))
    qtbot.addWidget(manager)
    assert not manager.train_button.isEnabled()
    assert manager.train_button.toolTip() == TRAINER_MISSING


def _import_copy(name: str, metrics: dict):
    return models.import_model(WEIGHTS, "mesonet4", name, options={"hidden_activation": "leaky_relu",
                                                                    "clip_pool": "logit_mean"},
                               sigmoid_means="real", metrics=metrics)


def test_an_imported_model_is_enabled_only_after_its_figures_are_shown_and_confirmed(qtbot, settings, jobs, db):
    _import_copy("meso_test", {"val_video_auc": 0.0, "steps": 2})
    settings.enabled_models = ("meso4_df",)  # a choice saved by an older version
    shown: list = []
    answers = iter([False, True])

    def confirm(_parent, card, review):
        shown.append((card.name, review))
        return next(answers)

    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("root", "admin"), confirm=confirm)
    qtbot.addWidget(manager)
    manager.select("meso_test")
    assert manager.tree.currentItem().text(0) == "no" and "meso_test" not in manager.enabled_models()
    assert manager.enable_button.isEnabled() and not manager.disable_button.isEnabled()
    assert not manager.ask_enable()  # the admin read the figures and cancelled
    assert not model_enablement.is_enabled(models.find_model("meso_test"))
    assert manager.ask_enable()
    name, review = shown[0]
    assert name == "meso_test" and ("val_video_auc", "0") in review.figures
    assert review.warnings == ("val_video_auc is 0: at or below chance (0.5).",)
    assert "meso_test" in manager.enabled_models() and manager.selected_name() == "meso_test"
    assert "meso_test" in [c.name for c in select_models(None).usable]
    assert settings.enabled_models is None  # the desktop's analyses follow the installation from now on
    with db.unit_of_work() as session:
        events = [(e.action, e.details["name"]) for e in audit.events_for(session) if e.action.startswith("model.")]
    assert events == [("model.enable", "meso_test")]


def test_the_enable_dialog_shows_the_figures_and_the_warning_and_needs_a_click(qtbot):
    card = models.find_model("meso4_df")
    card.metrics = {"val_video_auc": 0.31, "test_eer": 0.42}
    dialog = EnableDialog(card, model_enablement.validation_review(card))
    qtbot.addWidget(dialog)
    text = dialog.text.toPlainText()
    assert "val_video_auc is 0.31: at or below chance (0.5)." in text and "test_eer" in text and "0.42" in text
    assert dialog.buttons.button(dialog.buttons.StandardButton.Cancel).isDefault()
    dialog.open()
    dialog.enable_button.click()
    assert dialog.result() == dialog.DialogCode.Accepted


def test_disabling_a_shipped_model_leaves_it_out_of_analyses_and_is_audited(qtbot, settings, jobs, db):
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("root", "admin"))
    qtbot.addWidget(manager)
    manager.select("meso4_f2f")
    assert manager.disable_selected()
    assert "meso4_f2f" not in manager.enabled_models() and manager.enable_button.isEnabled()
    assert "meso4_f2f" not in [c.name for c in select_models(None).usable]
    with db.unit_of_work() as session:
        assert [e.action for e in audit.events_for(session)] == ["model.disable"]


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

    args = build_parser().parse_args(["analyze", "clip.mp4"])
    gui = tasks.analysis_request(None, settings.frames, settings.sampling, settings.device)
    assert (gui.frames, gui.sampling, gui.fusion, gui.seed) == (args.frames, args.sampling, args.fusion, args.seed)
    assert (gui.frames, gui.sampling) == (None, None)
    chosen = tasks.analysis_request(None, 48, "random", "cpu")
    assert (chosen.frames, chosen.sampling) == (48, "random")


def test_an_analysis_saved_by_a_newer_dfdesk_is_refused_with_a_message(qtbot, window: MainWindow, db, clip_dir):
    from dfdesk.store.tables import Analysis

    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4")
    with db.unit_of_work() as session:
        row = session.get(Analysis, analysis_id)
        row.summary = {**row.summary, "schema": 99}
    assert window.open_analysis(analysis_id) is None
    assert window.tabs.count() == 1 and window.isVisible()
    assert any("record schema 99" in text for text in messages())
