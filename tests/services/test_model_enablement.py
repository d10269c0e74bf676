"""Models start disabled when installed here, shipped ones enabled; only an admin changes that, audited; analyses
use enabled models only, and naming a disabled or untrained model is refused with one sentence (real model
folders, real installation database, real signatures)."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from dfdesk import paths
from dfdesk.detectors.cards import save_card
from dfdesk.services import audit, identity, installation, model_enablement, models, profiles
from dfdesk.services.analysis import AnalysisError, AnalysisRequest, check_request
from dfdesk.services.model_enablement import EnablementError
from dfdesk.services.model_selection import SelectionError, select_models
from dfdesk.store.database import Database

WEIGHTS = paths.bundled_models_dir() / "meso4_df" / "model.safetensors"
SHIPPED = "meso4_df"
OPTIONS = {"hidden_activation": "leaky_relu", "clip_pool": "logit_mean"}
ADMIN_PW = "admin password"


@pytest.fixture(autouse=True)
def nobody_signed_in():
    identity.sign_out()
    yield
    identity.sign_out()


def imported(name: str = "meso_copy", metrics: dict | None = None):
    return models.import_model(WEIGHTS, "mesonet4", name, options=OPTIONS, sigmoid_means="real",
                               metrics=metrics if metrics is not None else {"val_video_auc": 0.81})


def usable() -> list[str]:
    return [c.name for c in select_models(None).usable]


def test_a_shipped_model_is_enabled_and_an_imported_one_starts_disabled():
    card = imported()
    states = model_enablement.model_states(models.list_installed())
    assert states[SHIPPED].enabled and states[SHIPPED].shipped and states[SHIPPED].changed_by is None
    assert not states[card.name].enabled and not states[card.name].shipped
    assert "disabled until an admin enables it" in states[card.name].reason
    selection = select_models(None)
    assert SHIPPED in usable() and card.name not in usable()
    assert card.name in [c.name for c in selection.disabled]


def test_naming_a_disabled_model_is_refused_with_who_can_enable_it():
    card = imported()
    with pytest.raises(SelectionError) as refused:
        select_models((SHIPPED, card.name))
    message = str(refused.value)
    assert message == f"model {card.name!r} is disabled: {model_enablement.WHO_ENABLES}"
    assert "\n" not in message and "admin" in message
    with pytest.raises(AnalysisError, match="is disabled"):  # what `dfdesk analyze --models` checks before work
        check_request(AnalysisRequest(models=(card.name,)))


def test_naming_an_untrained_architecture_says_it_needs_training_not_that_it_is_missing():
    with pytest.raises(SelectionError, match=r"'mesonet4 \(untrained\)' needs training"):
        select_models(("mesonet4 (untrained)",))
    with pytest.raises(SelectionError, match="not installed: nonsense"):
        select_models(("nonsense",))


def test_enabling_and_disabling_is_audited_with_the_actor_in_both_logs(db: Database):
    card = imported()
    grant = installation.grant_admin(None, None, "enabling a model")  # single-user installation: anyone
    state = model_enablement.set_enabled(card, True, grant, db)
    assert state.enabled and state.changed_by == "test-analyst" and card.name in usable()
    model_enablement.set_enabled(models.find_model(SHIPPED), False, grant, db)
    assert SHIPPED not in usable()
    with db.unit_of_work() as session:
        events = [(e.action, e.actor, e.details["name"]) for e in audit.events_for(session)]
        assert audit.verify(session) == []
    assert events == [("model.enable", "test-analyst", card.name), ("model.disable", "test-analyst", SHIPPED)]
    with installation.database().unit_of_work() as session:
        assert [e.action for e in audit.events_for(session)][-2:] == ["model.enable", "model.disable"]


def test_once_the_installation_has_an_admin_only_that_admins_grant_changes_a_state(db: Database):
    card = imported()
    authorization_db = Database(paths.user_data_dir() / "cases.sqlite")
    with authorization_db.unit_of_work() as session:
        profiles.create_profile(session, "ada", "admin", ADMIN_PW, "setup")
    installation.adopt_first_admin("ada", ADMIN_PW, "setup")
    authorization_db.close()
    with pytest.raises(EnablementError, match="needs an admin of this installation"):
        model_enablement.set_enabled(card, True, None, db)
    assert not model_enablement.is_enabled(card)
    grant = installation.grant_admin("ada", ADMIN_PW, "enabling a model")
    assert model_enablement.set_enabled(card, True, grant).changed_by == "ada"


def test_an_untrained_card_cannot_be_enabled():
    with pytest.raises(EnablementError, match="needs training"):
        model_enablement.set_enabled(models.untrained_card("mesonet4"), True, None)


def test_new_weights_under_an_enabled_name_start_disabled_again():
    card = imported()
    model_enablement.set_enabled(card, True, None)
    card.metrics = {"val_video_auc": 0.2}  # a changed card: same name, the state is tied to the weights' hash
    card.weights_sha256 = "f" * 64
    assert not model_enablement.model_states([card])[card.name].enabled


def test_an_enable_event_forged_in_the_installation_log_is_ignored():
    """Someone with a SQLite shell but not the key inserts an 'enable' row: it carries no valid signature."""
    card = imported()
    installation.record("setup", "installation.note")  # the file exists with a chain to append to
    path = paths.user_data_dir() / installation.INSTALLATION_DB
    connection = sqlite3.connect(path)
    try:
        last_id, last_hash = connection.execute("SELECT id, hash FROM audit_events ORDER BY id DESC").fetchone()
        details = f'{{"name": "{card.name}", "weights_sha256": "{card.weights_sha256}"}}'
        connection.execute("INSERT INTO audit_events (id, at, actor, action, details, prev_hash, hash, signer, "
                           "signature) VALUES (?, ?, 'mallory', 'model.enable', ?, ?, ?, '', '')",
                           (last_id + 1, datetime.now(UTC).isoformat(), details, last_hash, "e" * 64))
        connection.commit()
    finally:
        connection.close()
    assert not model_enablement.is_enabled(card)
    assert card.name not in usable()


def test_the_validation_review_shows_the_figures_and_warns_about_chance_or_missing_ones():
    bad = imported("meso_bad", metrics={"val_video_auc": 0.0, "steps": 2, "test_video_auc_ci": [0.0, 0.1]})
    review = model_enablement.validation_review(bad)
    assert ("val_video_auc", "0") in review.figures and ("steps", "2") in review.figures
    assert review.warnings == ("val_video_auc is 0: at or below chance (0.5).",)
    empty = imported("meso_empty", metrics={})
    assert model_enablement.validation_review(empty).warnings[0].startswith("No validation figures are recorded")
    assert model_enablement.validation_review(imported("meso_fine")).warnings == ()


def test_a_model_registered_after_training_starts_disabled():
    """What `dfdesk train` installs: a folder written by the trainer, then registered by the admin."""
    source = models.find_model(SHIPPED)
    folder = paths.user_models_dir() / "meso_trained"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(WEIGHTS.read_bytes())
    source.name = "meso_trained"
    save_card(source, folder)
    card = models.register_model("meso_trained")
    assert not model_enablement.is_enabled(card) and "meso_trained" not in usable()
