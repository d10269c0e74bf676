"""Which installed models an analysis runs, which are excluded and why, and what frames each one needs."""
from __future__ import annotations

from dataclasses import dataclass

from dfdesk.detectors.cards import ModelCard
from dfdesk.detectors.scoring import is_frame_level, plan_for  # noqa: F401  (re-exported)
from dfdesk.services.models import list_installed, untrained_cards


class SelectionError(ValueError):
    """The analysis was asked for a model that is not installed."""


@dataclass(frozen=True)
class Selection:
    usable: tuple[ModelCard, ...]
    needs_training: tuple[ModelCard, ...]


def select_models(names: tuple[str, ...] | None) -> Selection:
    """Named models (all must be installed), or by default every installed model with trained weights."""
    installed = {card.name: card for card in list_installed()}
    if names:
        unknown = [n for n in names if n not in installed]
        if unknown:
            known = ", ".join(sorted(installed)) or "none"
            raise SelectionError(f"model(s) not installed: {', '.join(unknown)} (installed: {known})")
        chosen = [installed[n] for n in names]
        return Selection(tuple(c for c in chosen if c.trained), tuple(c for c in chosen if not c.trained))
    trained = tuple(c for c in installed.values() if c.trained)
    untrained = tuple(c for c in installed.values() if not c.trained) + tuple(untrained_cards())
    return Selection(trained, untrained)
