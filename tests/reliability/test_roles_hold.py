"""Roles that hold (issue 22): the installation's admin is needed to install a model whichever database is open,
a model folder copied in by hand is not used, failed logins slow down and lock out, and an unauthenticated
label is marked as such in the audit log and the report."""
from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from dfdesk import paths
from dfdesk.cli.main import run_cli
from dfdesk.services import audit, identity, installation, models, profiles
from dfdesk.services.profiles import ProfileLocked
from dfdesk.store.database import Database
from tests.fixtures import hostile
from tests.reliability.conftest import ANALYZE, audit_problems
from tests.report.conftest import pdf_text

ARCH = "mesonet4"
WEIGHTS = paths.bundled_models_dir() / "meso4_df" / "model.safetensors"
ADMIN_PW, ANALYST_PW = "admin password", "analyst password"


@pytest.fixture(autouse=True)
def nobody_signed_in():
    yield
    identity.sign_out()  # in-process CLI runs sign in; the next test starts from nobody


@pytest.fixture
def lab(cli, monkeypatch):
    """A lab's case database with an admin (also the installation's first admin) and an analyst."""
    monkeypatch.setenv("DFDESK_PASSWORD", ADMIN_PW)
    created = cli("profile", "add", "ada", "--role", "admin")
    assert created.code == 0 and "first admin of this installation" in created.stdout, created.stderr
    monkeypatch.setenv("DFDESK_ADMIN_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("DFDESK_PASSWORD", ANALYST_PW)
    assert cli("profile", "add", "anna", "--role", "analyst", "--admin", "ada").code == 0
    return cli


def _run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_cli(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _events(db_path: Path) -> list[tuple[str, str]]:
    connection = sqlite3.connect(db_path)
    try:
        return list(connection.execute("SELECT action, actor FROM audit_events ORDER BY id"))
    finally:
        connection.close()


def _installation_events() -> list[tuple[str, str]]:
    return _events(paths.user_data_dir() / installation.INSTALLATION_DB)


def test_an_analyst_cannot_install_a_model_through_an_empty_database(lab, tmp_path, monkeypatch, capsys) -> None:
    empty = str(tmp_path / "empty.sqlite")
    importing = ("models", "import", str(WEIGHTS), "--architecture", ARCH, "--name", "sneaky", "--db", empty)
    code, _, err = _run(capsys, *importing)
    assert code == 2 and "requires an admin profile" in err
    # the analyst makes themselves the admin of their own empty database: still not the installation's admin
    code, out, _ = _run(capsys, "profile", "add", "me", "--role", "admin", "--db", empty)
    assert code == 0 and "first admin of this installation" not in out
    code, _, err = _run(capsys, *importing, "--profile", "me")
    assert code == 2 and len(err.strip().splitlines()) == 1
    with pytest.raises(models.ModelStoreError, match="needs an admin of this installation"):
        models.import_model(WEIGHTS, ARCH, "sneaky")  # the service refuses too, without a grant
    assert not (paths.user_models_dir() / "sneaky").exists()
    assert "sneaky" not in [c.name for c in models.list_installed()]
    monkeypatch.setenv("DFDESK_PASSWORD", ADMIN_PW)  # the installation's admin may, from any database
    assert _run(capsys, *importing, "--profile", "ada")[0] == 0
    assert "sneaky" in [c.name for c in models.list_installed()]
    events = _installation_events()
    assert ("profile.login_failed", "me") in events and ("model.install", "ada") in events


def test_a_model_folder_copied_in_by_hand_is_used_only_once_an_admin_registers_it(lab, monkeypatch) -> None:
    folder = paths.user_models_dir() / "meso4_copy"
    shutil.copytree(paths.bundled_models_dir() / "meso4_df", folder)
    card = folder / "card.toml"
    card.write_text(card.read_text().replace('name = "meso4_df"', 'name = "meso4_copy"', 1))
    found = models.scan_installed()
    assert "meso4_copy" not in [c.name for c in found.cards]
    assert any(p.path == folder and "not registered" in p.message for p in found.problems)
    assert lab("models", "register", "meso4_copy", "--profile", "anna").code == 2  # an analyst may not
    monkeypatch.setenv("DFDESK_PASSWORD", ADMIN_PW)
    assert lab("models", "register", "meso4_copy", "--profile", "ada").code == 0
    assert "meso4_copy" in [c.name for c in models.list_installed()]
    card.write_text(card.read_text().replace("threshold = 0.5", "threshold = 0.05", 1))  # edited afterwards
    assert any("changed since an admin registered" in p.message for p in models.scan_installed().problems)
    assert ("model.register", "ada") in _events(lab.db_path)


def test_twenty_wrong_passwords_slow_down_then_lock_out(lab, monkeypatch) -> None:
    delays: list[float] = []
    monkeypatch.setattr(profiles, "_sleep", delays.append)  # the delays asked for, not wall-clock time
    monkeypatch.setenv("DFDESK_PASSWORD", "not the password")
    importing = ("models", "import", str(WEIGHTS), "--architecture", ARCH, "--name", "guessed", "--profile", "ada")
    results = [lab(*importing) for _ in range(20)]
    assert [r.code for r in results] == [2] * 20
    assert all(len(r.error_lines) == 1 for r in results)
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0]  # then locked: answered at once, the password not even checked
    assert all("locked" in r.stderr for r in results[4:])
    monkeypatch.setenv("DFDESK_PASSWORD", ADMIN_PW)
    assert "locked" in lab(*importing).stderr  # the right password does not help while locked
    actions = [action for action, actor in _installation_events() if actor == "ada"]  # checked there
    assert actions.count("profile.login_failed") == 5 and actions.count("profile.locked") == 1
    assert actions.count("profile.login_locked") == 16
    assert [action for action, actor in _events(lab.db_path)].count("profile.denied") == 21  # and the case's log
    later = profiles._utcnow() + timedelta(seconds=profiles.LOCK_SECONDS + 60)
    monkeypatch.setattr(profiles, "_utcnow", lambda: later)
    assert lab(*importing).code == 0
    assert not (paths.user_models_dir() / "guessed").exists() or "guessed" in [c.name for c in
                                                                              models.list_installed()]
    assert audit_problems(lab.db_path) == []


def test_the_installation_locks_out_too_whichever_database_is_open(lab, monkeypatch) -> None:
    monkeypatch.setattr(profiles, "_sleep", lambda _seconds: None)
    for attempt in range(profiles.MAX_FAILURES):
        with pytest.raises(profiles.ProfileError):
            installation.grant_admin("ada", f"guess {attempt}", "model import")
    with pytest.raises(ProfileLocked):
        installation.grant_admin("ada", ADMIN_PW, "model import")
    with installation.database().unit_of_work() as session:
        assert audit.verify(session) == []
        assert [e.action for e in audit.events_for(session)][-2:] == ["profile.locked", "profile.login_locked"]


def test_an_unauthenticated_label_is_marked_in_the_log_and_the_report(lab, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DFDESK_ANALYST", "boss")  # anyone can claim any name this way
    evidence = hostile.h264(tmp_path, "evidence.mp4")
    assert lab("analyze", str(evidence), *ANALYZE, "--case", "C").code == 0
    report = tmp_path / "report.pdf"
    assert lab("report", "1", "--out", str(report)).code == 0
    monkeypatch.setenv("DFDESK_PROFILE", "anna")
    monkeypatch.setenv("DFDESK_PASSWORD", "wrong password")
    refused = lab("ingest", str(evidence), "--case", "C")
    assert refused.code == 2 and "DFDESK_PROFILE" in refused.stderr and len(refused.error_lines) == 1
    monkeypatch.setenv("DFDESK_PASSWORD", ANALYST_PW)
    assert lab("ingest", str(evidence), "--case", "C").code == 0
    db = Database(lab.db_path)
    with db.unit_of_work() as session:
        marks = {(e.action, e.actor): e.details.get("actor_authenticated") for e in audit.events_for(session)}
    db.close()
    assert marks[("analysis.done", "boss")] is False and marks[("report.export", "boss")] is False
    assert marks[("evidence.reingest", "anna")] is True and marks[("profile.login", "anna")] is True
    text = " ".join(pdf_text(report)).replace("\n", " ")
    assert "boss (not authenticated)" in text
    assert "boss (NOT AUTHENTICATED" in text
