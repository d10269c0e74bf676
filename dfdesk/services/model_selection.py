"""Which installed models an analysis runs, which are excluded and why, and what frames each one needs."""
from __future__ import annotations

from dataclasses import dataclass

from dfdesk.core.sampling import SamplingPlan, plan_sampling
from dfdesk.detectors.cards import ModelCard
from dfdesk.detectors.registry import detector_class
from dfdesk.services.models import list_installed, untrained_cards

DEFAULT_CLIPS = 4  # clip-based detectors look at this many clips unless told otherwise


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


def is_frame_level(card: ModelCard) -> bool:
    return detector_class(card.architecture).frame_level


def plan_for(card: ModelCard, frame_count: int, frames: int | None, sampling: str | None, seed: int) -> SamplingPlan:
    """The frames a detector scores.

    Frame-level detectors: ``sampling``/``frames`` as asked (default: the card's sampling and T frames).
    Clip detectors keep their card's sampling: "clips" gives ``frames // T`` clips of T consecutive frames
    (default 4 clips); "uniform"/"random" give one clip of T frames spread over the video.
    """
    spec = card.input
    clip_len = spec.frames_per_clip
    if is_frame_level(card):
        mode = sampling or spec.sampling
        return plan_sampling(frame_count, mode, frames=frames or clip_len, seed=seed)
    if spec.sampling == "clips":
        count = max(1, (frames or clip_len * DEFAULT_CLIPS) // clip_len)
        return plan_sampling(frame_count, "clips", frames=count, clip_len=clip_len, seed=seed)
    plan = plan_sampling(frame_count, spec.sampling, frames=clip_len, seed=seed)
    return SamplingPlan(plan.mode, plan.frame_count, plan.indices, (plan.indices,), plan.seed, plan.params)
