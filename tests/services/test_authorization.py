"""The one authorisation service both front-ends call (issue 19): who may act as admin, with real case and
installation databases in the test's own data folder."""
from __future__ import annotations

import pytest

from dfdesk.services import audit, authorization, identity, installation, profiles
from dfdesk.services.authorization import LoginRequired
from dfdesk.services.profiles import ProfileError, ProfileLocked, create_profile
from dfdesk.store.database import Database

ADMIN_PW, ANALYST_PW = "admin password", "analyst password"
ACTION = "model import"


@pytest.fixture(autouse=True)
def nobody_signed_in():
    yield
    identity.sign_out()


def actions(db: Database) -> list[tuple[str, str]]:
    with db.unit_of_work() as session:
        return [(e.action, e.actor) for e in audit.events_for(session)]


def installation_actions() -> list[tuple[str, str]]:
    with installation.database().unit_of_work() as session:
        return [(e.action, e.actor) for e in audit.events_for(session)]


def test_a_single_user_install_lets_the_user_act_without_a_login(db: Database) -> None:
    assert authorization.login_needed(db) is False
    actor, grant = authorization.authorize_admin(db, "whoever", "ignored", ACTION)
    assert (actor, grant.profile) == ("test-analyst", "test-analyst") and grant.valid
    assert identity.signed_in_profile() is None and actions(db) == []


def test_the_first_admin_becomes_the_installations_and_logs_in(db: Database) -> None:
    actor, grant = authorization.create_first_admin(db, "ada", ADMIN_PW)
    assert (actor, grant.profile) == ("ada", "ada") and grant.valid and installation.is_admin("ada")
    assert identity.signed_in_profile() == "ada" and authorization.login_needed(db)
    assert actions(db) == [("profile.create", "test-analyst"), ("profile.login", "ada")]
    assert ("installation.first_admin", "test-analyst") in installation_actions()
    with pytest.raises(ProfileError, match="profiles exist already"):
        authorization.create_first_admin(db, "eve", "eve's password")
    assert not installation.is_admin("eve")


@pytest.mark.parametrize("name, password", [("", ADMIN_PW), ("ada", "short")])
def test_a_first_admin_without_a_name_or_with_a_short_password_is_refused(db: Database, name, password) -> None:
    with pytest.raises(ProfileError):
        authorization.create_first_admin(db, name, password)
    assert not installation.has_admin() and authorization.login_needed(db) is False


def test_once_an_admin_exists_a_login_is_needed_and_every_refusal_is_audited(db: Database, tmp_path) -> None:
    authorization.create_first_admin(db, "ada", ADMIN_PW)
    with db.unit_of_work() as session:
        create_profile(session, "anna", "analyst", ANALYST_PW, "ada")
    identity.sign_out()
    with pytest.raises(LoginRequired, match="model import requires an admin profile"):
        authorization.authorize_admin(db, None, None, ACTION)
    with pytest.raises(ProfileError):
        authorization.authorize_admin(db, "anna", ANALYST_PW, ACTION)  # not an admin of the installation
    with pytest.raises(ProfileError, match="wrong password"):
        authorization.authorize_admin(db, "ada", "not it", ACTION)
    assert identity.signed_in_profile() is None
    denied = [actor for action, actor in actions(db) if action == "profile.denied"]
    assert denied == ["anna", "ada"]
    other = Database(tmp_path / "empty.sqlite")  # another, empty database: the installation's admin still decides
    try:
        assert authorization.login_needed(other)
        actor, grant = authorization.authorize_admin(other, "ada", ADMIN_PW, ACTION)
        assert actor == "ada" and installation.require_grant(grant, ACTION) == "ada"
        assert ("profile.login", "ada") in actions(other)
    finally:
        other.close()


def test_without_an_installation_admin_a_case_admin_decides(db: Database) -> None:
    with db.unit_of_work() as session:
        create_profile(session, "root", "admin", ADMIN_PW, "setup")
        create_profile(session, "anna", "analyst", ANALYST_PW, "root")
    with pytest.raises(ProfileError, match="requires an admin profile"):
        authorization.authorize_admin(db, "anna", ANALYST_PW, ACTION)
    actor, grant = authorization.authorize_admin(db, "root", ADMIN_PW, ACTION)
    assert actor == "root" and grant.profile == "root" and identity.signed_in_profile() == "root"
    assert authorization.case_admin_login(db, "root", ADMIN_PW, "adding a profile") == "root"
    with pytest.raises(ProfileError):
        authorization.case_admin_login(db, "anna", ANALYST_PW, "adding a profile")
    assert [actor for action, actor in actions(db) if action == "profile.denied"] == ["anna", "anna"]


def test_failed_logins_lock_out_in_the_installation_and_show_in_the_case_log(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(profiles, "_sleep", lambda _seconds: None)
    authorization.create_first_admin(db, "ada", ADMIN_PW)
    for attempt in range(profiles.MAX_FAILURES):
        with pytest.raises(ProfileError):
            authorization.authorize_admin(db, "ada", f"guess {attempt}", ACTION)
    with pytest.raises(ProfileLocked):
        authorization.authorize_admin(db, "ada", ADMIN_PW, ACTION)
    case_log = [action for action, actor in actions(db) if actor == "ada"]
    # the failure that locks the profile, and the attempt while locked, show as login_locked
    assert case_log.count("profile.login_failed") == profiles.MAX_FAILURES - 1
    assert case_log.count("profile.login_locked") == 2 and case_log.count("profile.denied") == profiles.MAX_FAILURES + 1
    assert case_log[-2:] == ["profile.login_locked", "profile.denied"]
    assert installation_actions().count(("profile.locked", "ada")) == 1
