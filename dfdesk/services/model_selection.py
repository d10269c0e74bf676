"""Which installed models an analysis runs, which are excluded and why, and what frames each one needs.

By default an analysis runs every installed model that is trained and *enabled*
(:mod:`dfdesk.services.model_enablement`: shipped models start enabled, installed ones disabled until an admin
enables them).  Naming a disabled or an untrained model is refused with one sentence that says so and what to do,
before any work starts."""
from __future__ import annotations

from dataclasses import dataclass

from dfdesk.detectors import list_detectors
from dfdesk.detectors.cards import ModelCard
from dfdesk.services.model_enablement import WHO_ENABLES, model_states
from dfdesk.services.models import list_installed, untrained_cards


class SelectionError(ValueError):
    """The analysis was asked for a model that is not installed, not trained or not enabled."""


@dataclass(frozen=True)
class Selection:
    usable: tuple[ModelCard, ...]
    needs_training: tuple[ModelCard, ...]
    disabled: tuple[ModelCard, ...] = ()  # trained, installed, not enabled: left out of the default analysis


def select_models(names: tuple[str, ...] | None) -> Selection:
    """Named models (all must be installed, trained and enabled), or by default every enabled trained model."""
    installed = {card.name: card for card in list_installed()}
    enabled = {name for name, state in model_states(list(installed.values())).items() if state.enabled}
    if names:
        unknown = [n for n in names if n not in installed and not _is_architecture(n)]
        if unknown:
            known = ", ".join(sorted(installed)) or "none"
            raise SelectionError(f"model(s) not installed: {', '.join(unknown)} (installed: {known})")
        return Selection(tuple(_named(n, installed, enabled) for n in names), ())
    trained = tuple(c for c in installed.values() if c.trained)
    untrained = tuple(c for c in installed.values() if not c.trained) + tuple(untrained_cards())
    return Selection(tuple(c for c in trained if c.name in enabled), untrained,
                     tuple(c for c in trained if c.name not in enabled))


def _named(name: str, installed: dict[str, ModelCard], enabled: set[str]) -> ModelCard:
    """The installed card ``name`` when it may run; SelectionError saying why not (untrained, disabled)."""
    card = installed.get(name)
    if card is None or not card.trained:
        raise SelectionError(f"model {name!r} needs training: it has no trained weights, so it gives no score "
                             "(train one with `dfdesk train`, or name an installed model)")
    if name not in enabled:
        raise SelectionError(f"model {name!r} is disabled: {WHO_ENABLES}")
    return card


def _is_architecture(name: str) -> bool:
    """An architecture's name, or its untrained card's ("mesonet4 (untrained)")."""
    return name.removesuffix(" (untrained)") in list_detectors()
