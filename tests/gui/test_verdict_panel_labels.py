"""The verdict panel names the probability after the fusion actually applied (never "fused" for a plain mean) and
flags a model of the analysis that was trained on this very video (a real saved analysis, a real model folder
with the trainer's training-file record)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from dfdesk.core.fusion import FUSION_RULES
from dfdesk.detectors.cards import Calibration
from dfdesk.detectors.weights import read_safetensors, sha256_file
from dfdesk.gui.views.verdict_panel import FALLBACK_NAME, PROBABILITY_NAMES, VerdictPanel
from dfdesk.services import models
from dfdesk.services.results import load_analysis
from tests.fixtures.analyses import make_saved_analysis
from trainer.install import install_trained, training_file_entries


@pytest.fixture
def view(db, clip_dir):
    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4")
    with db.unit_of_work() as session:
        return load_analysis(session, analysis_id)


def shown(qtbot, view) -> VerdictPanel:
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(view)
    return panel


def with_fusion(view, applied: str, requested: str | None):
    return replace(view, verdict=replace(view.verdict, fusion=applied), settings={**view.settings,
                                                                                    "fusion": requested})


def test_every_fusion_rule_has_its_own_name_and_none_calls_a_mean_fused():
    assert set(PROBABILITY_NAMES) == set(FUSION_RULES)
    assert not any("fused" in name.lower() for name in (*PROBABILITY_NAMES.values(), FALLBACK_NAME))


@pytest.mark.parametrize(("applied", "requested", "label"), [
    ("mean", "auto", "Mean probability (fallback) 71% (band 62%–79%)"),
    ("mean", "stacking", "Mean probability (fallback) 71% (band 62%–79%)"),
    ("mean", "mean", "Mean probability 71% (band 62%–79%)"),
    ("weighted", "weighted", "AUC-weighted mean probability 71% (band 62%–79%)"),
    ("stacking", "auto", "Fitted-ensemble P(fake) 71% (band 62%–79%)"),
])
def test_the_probability_is_named_after_the_fusion_applied(qtbot, view, applied, requested, label):
    assert shown(qtbot, with_fusion(view, applied, requested)).probability.text() == label


def test_a_model_trained_on_this_video_is_flagged_and_others_are_not(qtbot, view, clip_dir):
    panel = shown(qtbot, view)
    assert panel.provenance.isHidden() and panel.provenance.text() == ""  # meso4_df has no record: not flagged
    source = models.find_model("meso4_df")
    install_trained(read_safetensors(source.weights_path), source, name="meso_seen", threshold=0.5,
                    calibration=Calibration(), metrics={}, training_data="test",
                    training_files=training_file_entries([(clip_dir / "face.mp4", "train")]))
    assert view.evidence.sha256 == sha256_file(clip_dir / "face.mp4")
    seen = replace(view, detectors=tuple(replace(d, name="meso_seen") if d.name == "meso4_df" else d
                                         for d in view.detectors))
    panel.show_analysis(seen)
    assert not panel.provenance.isHidden()
    assert panel.provenance.text().startswith("Trained on this video: meso_seen saw this file")
    panel.show_analysis(view)  # the same model installed, but not part of this analysis
    assert panel.provenance.isHidden()
