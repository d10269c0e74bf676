"""The labelled-clip figures each shipped model card states are the ones its recorded scores give: the shipped fit
(models/stacking.json) keeps every labelled clip's label, family, pair group and each model's video score, for the
exact weights (SHA-256) the cards name. A card whose figures drift from those scores, or that lost them, fails."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfdesk import paths
from dfdesk.detectors.cards import load_card

FAMILIES = ("face_swap", "reenactment", "talking_head")


def shipped_fit() -> dict:
    return json.loads((paths.bundled_models_dir() / "stacking.json").read_text())


def auc(fakes: list[float], reals: list[float]) -> float:
    """Mann-Whitney AUC, fake = positive, ties counting half."""
    wins = sum((f > r) + 0.5 * (f == r) for f in fakes for r in reals)
    return wins / (len(fakes) * len(reals))


def figures(clips: list[dict], name: str) -> dict[str, float]:
    """What a card records for model ``name`` from the fit's per-clip scores."""
    reals = [c["scores"][name] for c in clips if c["label"] == "real"]
    fakes = {family: [c["scores"][name] for c in clips if c["family"] == family] for family in FAMILIES}
    pairs = {}
    for clip in clips:
        pairs.setdefault(clip["group"], {})[clip["label"]] = clip["scores"][name]
    paired = [p for p in pairs.values() if {"fake", "real"} <= set(p)]
    return {"labelled_clips_video_auc": auc(sum(fakes.values(), []), reals),
            **{f"labelled_{family}_video_auc": auc(fakes[family], reals) for family in FAMILIES},
            "labelled_pairs_fake_above_original": sum(p["fake"] > p["real"] for p in paired),
            "labelled_pairs": len(paired)}


@pytest.mark.parametrize("member", shipped_fit()["models"], ids=lambda m: m["name"])
def test_each_shipped_card_states_the_figures_of_its_recorded_scores(member: dict):
    card = load_card(Path(paths.bundled_models_dir()) / member["name"] / "card.toml")
    assert card.weights_sha256 == member["weights_sha256"]  # the scores are this very model's
    expected = figures(shipped_fit()["validation"]["clips"], member["name"])
    stated = {key: card.metrics.get(key) for key in expected}
    assert stated == pytest.approx(expected, abs=0.0006), member["name"]  # cards round to three decimals


def test_the_figures_come_from_the_25_clips_the_cards_describe():
    clips = shipped_fit()["validation"]["clips"]
    counts = {family: sum(c["family"] == family for c in clips) for family in FAMILIES}
    assert (len(clips), counts, sum(c["label"] == "real" for c in clips)) == (
        25, {"face_swap": 4, "reenactment": 2, "talking_head": 9}, 10)
