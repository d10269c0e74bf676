"""Audit trail of every kind of action with its actor, failed logins kept, admin-only commands, and model
files treated as untrusted input, through the real command line."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import torch

from dfdesk import paths
from dfdesk.services import audit, model_enablement, models
from dfdesk.services.notes import add_note
from dfdesk.services.profiles import ProfileError, authenticate, create_profile
from dfdesk.store.database import Database
from tests.detectors.test_weights import write_evil
from tests.fixtures import hostile
from tests.reliability.conftest import ANALYZE, audit_problems


def _events(db_path: Path) -> list[tuple[str, str]]:
    connection = sqlite3.connect(db_path)
    try:
        return list(connection.execute("SELECT action, actor FROM audit_events ORDER BY id"))
    finally:
        connection.close()


def _meso_checkpoint(path: Path) -> Path:
    from safetensors.torch import load_file

    torch.save(load_file(str(paths.bundled_models_dir() / "meso4_df" / "model.safetensors")), path)
    return path


def test_failed_logins_are_audited_although_authenticate_raises(db: Database) -> None:
    with db.unit_of_work() as session:
        create_profile(session, "alice", "admin", "correct horse", "setup")
    for name, password in (("alice", "wrong horse"), ("mallory", "anything!")):
        with pytest.raises(ProfileError), db.unit_of_work() as session:
            authenticate(session, name, password)
    with db.unit_of_work() as session:
        failed = [(e.actor, e.details["known"]) for e in audit.events_for(session)
                  if e.action == "profile.login_failed"]
        assert audit.verify(session) == []
    assert failed == [("alice", True), ("mallory", False)]


def test_every_kind_of_action_is_audited_with_its_actor(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DFDESK_ANALYST", "dana")
    evidence = hostile.h264(tmp_path, "evidence.mp4")
    assert cli("profile", "add", "root-admin", "--role", "admin").code == 2  # no password source: refused
    monkeypatch.setenv("DFDESK_PASSWORD", "admin password")
    assert cli("profile", "add", "root-admin", "--role", "admin").code == 0
    assert cli("ingest", str(evidence), "--case", "Audit case").code == 0
    assert cli("analyze", str(evidence), *ANALYZE, "--case", "Audit case").code == 0
    db = Database(cli.db_path)
    with db.unit_of_work() as session:
        add_note(session, 1, "dana", "the mouth flickers", analysis_id=1)
        add_note(session, 1, "dana", "", conclusion="agree", analysis_id=1)
    db.close()
    assert cli("report", "1", "--out", str(tmp_path / "report.pdf")).code == 0
    checkpoint = _meso_checkpoint(tmp_path / "meso.pt")
    assert cli("models", "import", str(checkpoint), "--architecture", "mesonet4", "--name", "meso_copy",
               "--profile", "root-admin").code == 0
    events = _events(cli.db_path)
    expected = [("profile.create", "dana"), ("case.create", "dana"), ("evidence.ingest", "dana"),
                ("evidence.reingest", "dana"), ("analysis.start", "dana"), ("analysis.done", "dana"),
                ("note.add", "dana"), ("verdict.analyst", "dana"), ("report.export", "dana"),
                ("profile.login", "root-admin"), ("model.import", "root-admin")]
    assert [e for e in events if e in expected] == expected, events
    connection = sqlite3.connect(cli.db_path)
    assert connection.execute("SELECT count(*) FROM audit_events WHERE at IS NULL OR actor = ''").fetchone()[0] == 0
    connection.close()
    assert audit_problems(cli.db_path) == []
    assert cli("audit", "verify").code == 0


def test_model_import_and_training_need_an_admin_once_profiles_exist(cli, tmp_path: Path, monkeypatch) -> None:
    checkpoint = _meso_checkpoint(tmp_path / "meso.pt")
    imported = cli("models", "import", str(checkpoint), "--architecture", "mesonet4", "--name", "first")
    assert imported.code == 0 and "single-user install" in imported.stderr  # no profile yet: admin, and says so
    monkeypatch.setenv("DFDESK_PASSWORD", "admin password")
    assert cli("profile", "add", "anna", "--role", "analyst").code == 2  # the first profile must be an admin
    assert cli("profile", "add", "ada", "--role", "admin").code == 0
    monkeypatch.setenv("DFDESK_ADMIN_PASSWORD", "admin password")
    monkeypatch.setenv("DFDESK_PASSWORD", "analyst password")
    assert cli("profile", "add", "anna", "--role", "analyst").code == 2  # needs --admin now
    assert cli("profile", "add", "anna", "--role", "analyst", "--admin", "ada").code == 0
    attempts = {
        "no profile": cli("models", "import", str(checkpoint), "--architecture", "mesonet4", "--name", "second"),
        "analyst": cli("models", "import", str(checkpoint), "--architecture", "mesonet4", "--name", "second",
                       "--profile", "anna"),
    }
    monkeypatch.setenv("DFDESK_PASSWORD", "not the password")
    attempts["wrong password"] = cli("models", "import", str(checkpoint), "--architecture", "mesonet4",
                                     "--name", "second", "--profile", "ada")
    for why, result in attempts.items():
        assert result.code == 2 and len(result.error_lines) == 1, (why, result.stderr)
    assert not (paths.user_models_dir() / "second").exists()
    monkeypatch.setenv("DFDESK_PASSWORD", "admin password")
    assert cli("models", "import", str(checkpoint), "--architecture", "mesonet4", "--name", "second",
               "--profile", "ada").code == 0
    events = _events(cli.db_path)
    assert ("profile.denied", "anna") in events and ("profile.login_failed", "ada") in events
    assert ("model.import", "ada") in events
    assert audit_problems(cli.db_path) == []


def test_training_is_gated_like_model_import(tmp_path: Path, monkeypatch) -> None:
    """`dfdesk train` (registered by the trainer's engineer) refuses non-admins before reading its config."""
    import argparse

    from dfdesk.cli import train_command
    from dfdesk.cli.common import CliError

    parser = argparse.ArgumentParser()
    train_command.register(parser.add_subparsers())
    db_path = tmp_path / "cases.sqlite"
    db = Database(db_path)
    with db.unit_of_work() as session:
        create_profile(session, "ada", "admin", "admin password", "setup")
        create_profile(session, "anna", "analyst", "analyst password", "setup")
    db.close()
    monkeypatch.setenv("DFDESK_PASSWORD", "analyst password")
    args = parser.parse_args(["train", "--config", str(tmp_path / "none.toml"), "--db", str(db_path),
                              "--profile", "anna"])
    with pytest.raises(CliError, match="requires an admin"):
        args.handler(args)


@pytest.mark.parametrize("zip_format", [False, True], ids=["raw-pickle", "torch-zip"])
def test_a_pickle_that_would_run_code_is_refused_by_models_import(cli, tmp_path: Path, zip_format: bool) -> None:
    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pt"
    write_evil(evil, marker, zip_format)
    result = cli("models", "import", str(evil), "--architecture", "mesonet4", "--name", "evil")
    assert result.code == 2 and "refused" in result.stderr
    assert not marker.exists() and not (paths.user_models_dir() / "evil").exists()
    assert ("model.import_refused", "test-analyst") in _events(cli.db_path)


def test_a_card_hash_mismatch_fails_that_model_only(cli, tmp_path: Path) -> None:
    tampered = paths.user_models_dir() / "meso4_tampered"
    shutil.copytree(paths.bundled_models_dir() / "meso4_df", tampered)
    card = tampered / "card.toml"
    card.write_text(card.read_text().replace('name = "meso4_df"', 'name = "meso4_tampered"', 1))
    with (tampered / "model.safetensors").open("r+b") as weights:  # one weight byte flipped
        weights.seek(-1, 2)
        last = weights.read(1)
        weights.seek(-1, 2)
        weights.write(bytes([last[0] ^ 0xFF]))
    model_enablement.set_enabled(models.find_model("meso4_tampered"), True, None)  # an admin's decision
    out = tmp_path / "result.json"
    evidence = hostile.h264(tmp_path, "evidence.mp4")
    result = cli("analyze", str(evidence), "--models", "meso4_df,meso4_tampered", "--frames", "4",
                 "--device", "cpu", "--json", str(out))
    assert result.code == 0, result.stderr
    import json

    detectors = {d["name"]: d for d in json.loads(out.read_text())["detectors"]}
    assert detectors["meso4_tampered"]["status"] == "failed"
    assert "SHA-256" in detectors["meso4_tampered"]["note"] and detectors["meso4_tampered"]["fake_probability"] is None
    assert detectors["meso4_df"]["fake_probability"] is not None
