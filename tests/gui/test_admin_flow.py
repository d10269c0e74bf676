"""The GUI acting as an admin through the same authorisation service as the CLI (issue 19): the settings dialog
creates the first admin profile on a single-user install or logs in, keeps the grant for the session only, and
the model manager imports with that grant, audited in the open case database like `dfdesk models import`."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dfdesk import paths
from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.settings import AdminSession, Analyst, AppSettings
from dfdesk.gui.views.model_manager import ModelManager
from dfdesk.gui.views.settings_dialog import SINGLE_USER, SettingsDialog
from dfdesk.services import audit, authorization, identity, installation, models
from dfdesk.services.profiles import create_profile
from dfdesk.store.database import Database
from tests.gui.conftest import messages

WEIGHTS = paths.bundled_models_dir() / "meso4_df" / "model.safetensors"
ADMIN_PW = "admin password"


@pytest.fixture(autouse=True)
def nobody_signed_in():
    yield
    identity.sign_out()  # a login signs the whole process in; the next test starts from nobody


def never_asked(*_args):
    raise AssertionError("this question must not be asked here")


def events(db: Database) -> list[tuple[str, str]]:
    with db.unit_of_work() as session:
        return [(e.action, e.actor) for e in audit.events_for(session)]


def installation_events() -> list[tuple[str, str]]:
    connection = sqlite3.connect(paths.user_data_dir() / installation.INSTALLATION_DB)
    try:
        return list(connection.execute("SELECT action, actor FROM audit_events ORDER BY id"))
    finally:
        connection.close()


def choose_admin(qtbot, db, settings, credentials=never_asked, first_admin=never_asked) -> SettingsDialog:
    dialog = SettingsDialog(db, settings, Analyst("frank"), credentials=credentials, first_admin=first_admin)
    qtbot.addWidget(dialog)
    dialog.name.setText("frank")
    dialog.role.setCurrentIndex(dialog.role.findData("admin"))
    dialog.apply()
    return dialog


def test_a_single_user_install_creates_its_first_admin_from_the_settings_dialog(qtbot, db, settings: AppSettings):
    dialog = choose_admin(qtbot, db, settings, first_admin=lambda *_: ("ada", ADMIN_PW, ADMIN_PW))
    assert dialog.result() == dialog.DialogCode.Accepted, messages()
    assert dialog.analyst == Analyst("ada", "admin") and settings.analyst_name == "ada"
    session = dialog.analyst.admin
    assert session.profile == "ada" and session.grant.valid and session.grant.profile == "ada"
    assert installation.is_admin("ada") and identity.signed_in_profile() == "ada"
    assert ("installation.first_admin", "test-analyst") in installation_events()
    assert ("profile.login", "ada") in installation_events()
    assert [e for e in events(db) if e[0] in ("profile.create", "profile.login")] == [
        ("profile.create", "test-analyst"), ("profile.login", "ada")]
    settings.sync()
    stored = Path(settings.store.fileName()).read_text(encoding="utf-8")
    assert "name=ada" in stored and ADMIN_PW not in stored and "role" not in stored  # the login is never stored


def test_two_different_passwords_create_nobody(qtbot, db, settings):
    dialog = choose_admin(qtbot, db, settings, first_admin=lambda *_: ("ada", ADMIN_PW, "admin passwort"))
    assert dialog.result() != dialog.DialogCode.Accepted and dialog.analyst.role == "analyst"
    assert messages() == ["The two passwords differ."]
    assert not installation.has_admin() and authorization.login_needed(db) is False


def test_a_single_user_may_go_on_as_admin_without_a_profile(qtbot, db, settings):
    dialog = choose_admin(qtbot, db, settings, first_admin=lambda *_: SINGLE_USER)
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.analyst == Analyst("frank", "admin") and dialog.analyst.admin.profile is None
    assert dialog.analyst.admin.grant.valid and not installation.has_admin()


def test_once_the_installation_has_an_admin_the_dialog_logs_in_there(qtbot, db, settings):
    authorization.create_first_admin(db, "ada", ADMIN_PW)
    identity.sign_out()
    refused = choose_admin(qtbot, db, settings, credentials=lambda *_: ("ada", "wrong password"))
    assert refused.result() != refused.DialogCode.Accepted and refused.analyst.role == "analyst"
    assert messages() == ["unknown profile or wrong password"]
    assert {("profile.login_failed", "ada"), ("profile.denied", "ada")} <= set(events(db))
    assert ("profile.login_failed", "ada") in installation_events()  # counted (and locked out) there
    dialog = choose_admin(qtbot, db, settings, credentials=lambda *_: ("ada", ADMIN_PW))
    assert dialog.result() == dialog.DialogCode.Accepted and dialog.analyst.admin.grant.valid
    dialog.role.setCurrentIndex(dialog.role.findData("analyst"))  # giving the role up ends the login
    dialog.apply()
    assert dialog.analyst == Analyst("ada") and dialog.analyst.admin is None
    assert identity.signed_in_profile() is None


def _import(qtbot, manager: ModelManager, name: str):
    job = manager.start_import(WEIGHTS, "mesonet4", name, "MIT", "FF++", 0.5)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    return job


def test_the_model_manager_imports_with_the_admins_grant_and_audits_it(qtbot, db, settings, jobs):
    dialog = choose_admin(qtbot, db, settings, first_admin=lambda *_: ("ada", ADMIN_PW, ADMIN_PW))
    manager = ModelManager(settings, jobs, db=db, analyst=dialog.analyst)
    qtbot.addWidget(manager)
    _import(qtbot, manager, "meso_gui")
    assert messages() == []
    card = models.find_model("meso_gui")
    assert card.trained and card.weights_sha256
    with db.unit_of_work() as session:
        done = [e for e in audit.events_for(session) if e.action == "model.import"]
        assert audit.verify(session) == []
    assert [(e.actor, e.details["name"], e.details["weights_sha256"]) for e in done] == [
        ("ada", "meso_gui", card.weights_sha256)]
    assert ("model.install", "ada") in installation_events()


def test_the_admin_role_without_its_login_is_refused_with_one_message(qtbot, db, settings, jobs):
    authorization.create_first_admin(db, "ada", ADMIN_PW)
    identity.sign_out()
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst("ada", "admin"))  # no grant from a login
    qtbot.addWidget(manager)
    _import(qtbot, manager, "meso_sneaky")
    assert len(messages()) == 1 and "needs an admin of this installation" in messages()[0]
    assert not (paths.user_models_dir() / "meso_sneaky").exists()
    assert ("model.import_refused", "ada") in events(db)


def test_a_grant_from_a_case_database_admin_does_not_outlive_the_installation_gaining_an_admin(qtbot, db, settings,
                                                                                            jobs, tmp_path):
    """Before the installation had an admin, a case admin's grant was enough; after, the installation decides."""
    with db.unit_of_work() as session:
        create_profile(session, "root", "admin", ADMIN_PW, "setup")
    actor, grant = authorization.authorize_admin(db, "root", ADMIN_PW, "acting as admin")
    other = Database(tmp_path / "other.sqlite")
    authorization.create_first_admin(other, "ada", ADMIN_PW)  # someone else becomes the installation's admin
    other.close()
    manager = ModelManager(settings, jobs, db=db, analyst=Analyst(actor, "admin", AdminSession(grant, "root")))
    qtbot.addWidget(manager)
    _import(qtbot, manager, "meso_late")
    assert len(messages()) == 1 and "needs an admin of this installation" in messages()[0]
    assert not (paths.user_models_dir() / "meso_late").exists()


def test_the_main_window_opens_the_model_manager_as_the_logged_in_admin(qtbot, db, settings, jobs, monkeypatch):
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    dialog = choose_admin(qtbot, db, settings, first_admin=lambda *_: ("ada", ADMIN_PW, ADMIN_PW))
    window.set_analyst(dialog.analyst)
    opened: list[ModelManager] = []
    monkeypatch.setattr(ModelManager, "exec", lambda manager: opened.append(manager) or 0)
    window.open_models()
    assert [(m.db, m.analyst.admin) for m in opened] == [(db, dialog.analyst.admin)]
