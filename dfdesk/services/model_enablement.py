"""Which installed models the default analysis may use: a model is *enabled* or *disabled* for the installation.

Why: a newly trained or imported model (a 2-step test run with a validation AUC of 0.0, say) must not join every
later analysis just because it was installed.  So a model the installation's admins installed (the user models
folder) starts disabled, and only an admin enables it, after seeing its validation figures
(:func:`validation_review`).  Shipped models (the bundled ``models/`` folder) start enabled; an admin may disable
them too.

The state is not kept in a file of its own: it *is* the newest ``model.enable`` / ``model.disable`` event of the
installation's signed audit log (``installation.sqlite``) for that model's name and weights SHA-256, so every
change is audited with its actor by construction, and a model replaced by other weights under the same name
starts disabled again.  An event whose hash or signature does not check out is ignored (someone with a SQLite
shell but without the installation's key cannot enable a model).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select

from dfdesk import paths
from dfdesk.detectors.cards import ModelCard
from dfdesk.services import audit, installation
from dfdesk.services.installation import AdminGrant
from dfdesk.services.profiles import ProfileError
from dfdesk.store.database import Database
from dfdesk.store.tables import AuditEvent

ENABLE, DISABLE = "model.enable", "model.disable"
WHO_ENABLES = "an admin of this installation enables it in Tools → Models after reviewing its validation figures"
CHANCE_AUC = 0.5


class EnablementError(ValueError):
    """A model cannot be enabled or disabled (not trained, not installed, no admin); the message says why."""


@dataclass(frozen=True)
class ModelState:
    """Whether ``card`` may run by default, and why: the last admin decision, or the default for where it lies."""

    enabled: bool
    shipped: bool
    changed_by: str | None = None  # None: never changed, the default applies
    changed_at: str | None = None

    @property
    def reason(self) -> str:
        if self.changed_by is None:
            return "shipped with dfdesk: enabled by default" if self.shipped else "installed here: disabled until " \
                "an admin enables it"
        return f"{'enabled' if self.enabled else 'disabled'} by {self.changed_by} on {self.changed_at}"


def is_shipped(card: ModelCard) -> bool:
    """True for a model of the bundled ``models/`` folder (shipped with the application)."""
    return card.path is not None and card.path.parent.resolve() == paths.bundled_models_dir().resolve()


def model_states(cards: list[ModelCard]) -> dict[str, ModelState]:
    """Each card's state by name, from one read of the installation's log."""
    decisions = _decisions()
    states = {}
    for card in cards:
        shipped = is_shipped(card)
        decision = decisions.get((card.name, card.weights_sha256))
        if decision is None:
            states[card.name] = ModelState(enabled=shipped and card.trained, shipped=shipped)
        else:
            enabled, actor, at = decision
            states[card.name] = ModelState(enabled=enabled and card.trained, shipped=shipped, changed_by=actor,
                                           changed_at=at)
    return states


def is_enabled(card: ModelCard) -> bool:
    return model_states([card])[card.name].enabled


def set_enabled(card: ModelCard, enabled: bool, grant: AdminGrant | None, db: Database | None = None) -> ModelState:
    """Enable or disable ``card`` for every analysis on this installation, as the admin of ``grant``.

    Audited in the installation's log (which is what the state is read from) and, when given, in the open case
    database ``db`` too, so the database an admin worked in shows the decision.  Enabling an untrained card is
    refused.  Returns the new state."""
    if enabled and not card.trained:
        raise EnablementError(f"model {card.name!r} needs training; it cannot be enabled")
    try:
        admin = installation.require_grant(grant, "enabling or disabling a model")
    except ProfileError as exc:
        raise EnablementError(str(exc)) from None
    action = ENABLE if enabled else DISABLE
    details = {"name": card.name, "weights_sha256": card.weights_sha256, "shipped": is_shipped(card)}
    installation.record(admin, action, **details)
    if db is not None:
        with db.unit_of_work() as session:
            audit.record(session, admin, action, **details)
    return model_states([card])[card.name]


@dataclass(frozen=True)
class ValidationReview:
    """What an admin sees before enabling a model: its recorded figures and what is wrong with them."""

    figures: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]


def validation_review(card: ModelCard) -> ValidationReview:
    """The card's validation figures as (name, value) text, and warnings: none recorded, or an AUC at or below
    chance (the model ranks fakes no better than a coin)."""
    figures = tuple((key, _shown(value)) for key, value in sorted(card.metrics.items()))
    warnings = []
    if not figures:
        warnings.append("No validation figures are recorded for this model: nothing shows it detects "
                        "manipulations.")
    for key, value in sorted(card.metrics.items()):
        if _is_auc(key) and isinstance(value, int | float) and math.isfinite(value) and value <= CHANCE_AUC:
            warnings.append(f"{key} is {value:.3g}: at or below chance ({CHANCE_AUC}).")
    return ValidationReview(figures, tuple(warnings))


def _is_auc(key: str) -> bool:
    return key.endswith("auc")  # val_video_auc, test_video_auc, labelled_clips_video_auc; not the *_ci intervals


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def _decisions() -> dict[tuple[str, str], tuple[bool, str, str]]:
    """(name, weights SHA-256) -> (enabled, actor, when) of the newest sound decision in the installation's log;
    nothing (and no file created) when the installation has no database yet."""
    if not (paths.user_data_dir() / installation.INSTALLATION_DB).exists():
        return {}
    decisions = {}
    with installation.database().unit_of_work() as session:
        query = select(AuditEvent).where(AuditEvent.action.in_((ENABLE, DISABLE))).order_by(AuditEvent.id)
        for event in session.scalars(query):
            details = event.details or {}
            if not _sound(event) or not isinstance(details.get("name"), str):
                continue
            key = (details["name"], str(details.get("weights_sha256", "")))
            decisions[key] = (event.action == ENABLE, event.actor, event.at.isoformat(timespec="seconds"))
    return decisions


def _sound(event: AuditEvent) -> bool:
    """The event's content matches its hash and that hash carries this installation's signature."""
    return audit.content_matches(event) and audit.signed_here(event)
