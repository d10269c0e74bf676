"""The trainer wizard driven end to end: dry-run counts, paper defaults, a real `dfdesk train --jsonl` subprocess
with live curves, the summary of the installed model, cancel, the admin-only rule, and training as the logged-in
admin once a profile exists (--profile, the password through the environment)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QProcess, Qt
from PySide6.QtWidgets import QWizard

from dfdesk.cli.common import PASSWORD_ENV
from dfdesk.detectors.cards import load_card
from dfdesk.gui import trainer_wizard
from dfdesk.gui.settings import AdminSession, Analyst
from dfdesk.gui.trainer_wizard import TrainerWizard, dfdesk_train_command
from dfdesk.services import authorization, identity, installation
from dfdesk.services.audit import events_for as audit_events
from dfdesk.services.models import list_installed
from dfdesk.store.database import Database
from tests.trainer.test_trainer_cli import build_tree

RUN_TIMEOUT_MS = 240_000
ADMIN_PW = "admin password"
SINGLE_USER_ADMIN = Analyst("test-analyst", "admin")  # no profile anywhere: `dfdesk train` lets the user act


@pytest.fixture(autouse=True)
def nobody_signed_in():
    yield
    identity.sign_out()


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("wizard-set"), {"train": 2, "val": 1, "test": 1})


def make_wizard(qtbot, tmp_path, analyst: Analyst = SINGLE_USER_ADMIN, db_path=None) -> TrainerWizard:
    """The wizard running the real `dfdesk train` (python -m dfdesk train) on the case database ``db_path``."""
    extra = {"cache_dir": str(tmp_path / "cache"), "eval": {"bootstrap": 20}}
    wizard = TrainerWizard(None, analyst=analyst, db_path=db_path or tmp_path / "cases.sqlite", extra=extra)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def check_data(qtbot, wizard: TrainerWizard, root) -> None:
    page = wizard.data_page
    page.folder.setText(str(root))
    page.kind.setCurrentText("folders")
    assert not page.isComplete()
    with qtbot.waitSignal(wizard.process_finished, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(page.check, Qt.MouseButton.LeftButton)


def choose_tiny_meso(wizard: TrainerWizard) -> None:
    wizard.next()
    wizard.detector_page.select("meso4_df")
    wizard.detector_page.frames.setValue(2)
    wizard.detector_page.max_clips.setValue(1)
    wizard.next()
    params = wizard.params_page
    assert params.learning_rate.value() == pytest.approx(1e-4)  # MesoNet fine-tuning default
    params.epochs.setValue(1)
    params.batch_size.setValue(2)
    params.device.setCurrentText("cpu")
    wizard.next()


def test_wizard_trains_and_installs_a_model_end_to_end(qtbot, tmp_path, tiny_set):
    wizard = make_wizard(qtbot, tmp_path)
    check_data(qtbot, wizard, tiny_set)
    page = wizard.data_page
    assert page.isComplete(), page.status.text()
    assert page.counts.rowCount() == 3 and page.counts.item(0, 0).text() == "2" and page.problems.count() == 0
    choose_tiny_meso(wizard)
    run = wizard.run_page
    assert wizard.currentPage() is run and not run.isComplete()
    with qtbot.waitSignal(wizard.process_finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(run.start, Qt.MouseButton.LeftButton)
    assert finished.args == [0], run.log.toPlainText()
    assert run.isComplete() and run.steps == [1, 2] and len(run.aucs) == 1
    assert len(run.loss_curve.getData()[0]) == 2
    wizard.next()
    name = run.result["model"]
    assert f"Installed as model '{name}'" in wizard.summary_page.installed.text()
    assert wizard.summary_page.table.rowCount() > 5
    assert name in [c.name for c in list_installed()] and load_card(run.result["model_dir"]).trained


def test_cancel_kills_the_training_process(qtbot, tmp_path, tiny_set):
    wizard = make_wizard(qtbot, tmp_path)
    check_data(qtbot, wizard, tiny_set)
    choose_tiny_meso(wizard)
    run = wizard.run_page
    qtbot.mouseClick(run.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.process.state() == QProcess.ProcessState.Running, timeout=30_000)
    qtbot.mouseClick(run.cancel, Qt.MouseButton.LeftButton)
    assert wizard.process.state() == QProcess.ProcessState.NotRunning
    assert run.status.text() == "Cancelled" and not run.isComplete() and run.start.isEnabled()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert not [c for c in list_installed() if c.name.startswith("meso4_df-ft-")]


def test_data_page_shows_why_a_data_set_is_unusable(qtbot, tmp_path):
    root = tmp_path / "only-real"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.mp4").write_bytes(b"x")
    wizard = make_wizard(qtbot, tmp_path)
    check_data(qtbot, wizard, root)
    page = wizard.data_page
    assert not page.isComplete()
    assert "only real videos" in page.status.text()
    page.pseudo_fakes.setCurrentText("video_blend")  # a changed setting needs a new check
    assert not page.isComplete()


def test_only_administrators_may_open_the_trainer(qtbot):
    with pytest.raises(PermissionError):
        TrainerWizard(None, analyst=Analyst("anna"))


def test_default_program_runs_dfdesk_train():
    assert dfdesk_train_command()[-2:] == ["dfdesk", "train"]


def _installation_admin(db: Database) -> Analyst:
    """The installation's first admin `ada`, logged in through the service the settings dialog uses."""
    actor, grant = authorization.create_first_admin(db, "ada", ADMIN_PW)
    return Analyst(actor, "admin", AdminSession(grant, "ada", ADMIN_PW))


def test_the_wizard_trains_as_the_logged_in_admin_once_a_profile_exists(qtbot, tmp_path, tiny_set, db,
                                                                       monkeypatch):
    """The real `dfdesk train` subcommand (its admin check included) runs the data check as `ada`."""
    monkeypatch.setenv(PASSWORD_ENV, "an inherited password that is not ada's")
    monkeypatch.setenv(trainer_wizard.PROFILE_ENV, "someone-else")
    admin = _installation_admin(db)
    assert installation.is_admin("ada")
    wizard = make_wizard(qtbot, tmp_path, admin, db.path)
    check_data(qtbot, wizard, tiny_set)
    assert wizard.data_page.isComplete(), wizard.data_page.status.text()
    arguments = wizard.process.arguments()
    assert arguments[:2] == ["-m", "dfdesk"] and arguments[2] == "train"  # not python -m trainer.cli
    assert arguments[arguments.index("--profile") + 1] == "ada" and ADMIN_PW not in " ".join(arguments)
    child = wizard.process.processEnvironment()
    assert child.value(PASSWORD_ENV) == ADMIN_PW and not child.contains(trainer_wizard.PROFILE_ENV)
    with db.unit_of_work() as session:
        events = [(e.action, e.actor, e.details) for e in audit_events(session)]
    started = [(actor, details["dry_run"]) for action, actor, details in events if action == "train.start"]
    assert started == [("ada", True)]
    assert [actor for action, actor, _ in events if action == "profile.login"][-1] == "ada"


def test_without_the_admins_login_the_wizard_is_refused_once_a_profile_exists(qtbot, tmp_path, tiny_set, db):
    """What the wizard did before it passed --profile: `dfdesk train` refuses, and the page says why."""
    _installation_admin(db)
    identity.sign_out()
    wizard = make_wizard(qtbot, tmp_path, Analyst("ada", "admin"), db.path)  # the role without the login
    check_data(qtbot, wizard, tiny_set)
    assert not wizard.data_page.isComplete()
    assert "requires an admin profile" in wizard.data_page.status.text()
