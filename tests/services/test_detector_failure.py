"""A detector that fails while it runs fails alone: the analysis records it (status, reason, warning), fuses the
models that scored, and a fitted ensemble that needed the failed model no longer decides the verdict.

The failing detector is a registered architecture (MesoNet-4 whose forward raises), installed beside the shipped
MesoNets with meso4_f2f's weights; decoding, MTCNN and the other detectors are the real ones.
"""
from __future__ import annotations

import dataclasses

import pytest

from dfdesk import paths
from dfdesk.core.fusion import STACKING_FILE
from dfdesk.core.outcome import DETECTOR_FAILED
from dfdesk.core.steps import run_to_end
from dfdesk.detectors import registry
from dfdesk.detectors.mesonet import Meso4
from dfdesk.services import model_selection, verdicts
from dfdesk.services.analysis import AnalysisRequest, DetectorScored, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.models import list_installed
from dfdesk.services.results import load_analysis
from dfdesk.services.verdicts import NO_VALIDATED_FUSION, Fuser
from dfdesk.store.database import Database
from trainer.stacking import write_stacking

FAILING = "meso4_failing"
ARCHITECTURE = "failing_mesonet4"
WORKING = ("meso4_df", "meso4_f2f")


class FailingMeso4(Meso4):
    """MesoNet-4 (so meso4_f2f's weights load strictly) whose forward raises ``error``."""

    error: BaseException = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def forward(self, clip):
        raise self.error


@pytest.fixture
def failing_installed(monkeypatch) -> None:
    """The failing model is installed beside the shipped ones (same weights as meso4_f2f, its own name); its
    architecture is registered for this test only, so no later test meets an untrained card of it."""
    monkeypatch.setitem(registry._REGISTRY, ARCHITECTURE, FailingMeso4)
    shipped = list_installed()
    f2f = next(c for c in shipped if c.name == "meso4_f2f")
    failing = dataclasses.replace(f2f, name=FAILING, architecture=ARCHITECTURE)
    monkeypatch.setattr(model_selection, "list_installed", lambda: [*shipped, failing])
    monkeypatch.setattr(verdicts, "stacking_files", lambda: [paths.user_models_dir() / STACKING_FILE])  # none shipped


def analyse(db: Database, clip, **request) -> tuple[int, list]:
    intake = ingest_video(db, "Case F", clip, "alice")
    events: list = []
    analysis_id = run_to_end(run_analysis(db, intake.evidence_id, AnalysisRequest(
        models=(*WORKING, FAILING), frames=4, **request), "alice"), events.append)
    return analysis_id, events


@pytest.mark.parametrize("error", [RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail"),
                                   ValueError("expected 4D input (got 3D input)"), MemoryError("")])
def test_a_failing_detector_is_recorded_and_the_others_are_fused(db, clip_dir, failing_installed, monkeypatch,
                                                                  error):
    monkeypatch.setattr(FailingMeso4, "error", error)
    analysis_id, events = analyse(db, clip_dir / "face.mp4", fusion="mean")
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert view.status == "done"
    runs = {d.name: d for d in view.detectors}
    failed = runs[FAILING]
    assert failed.status == DETECTOR_FAILED and failed.fake_probability is None
    assert failed.note == {RuntimeError: "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
                           ValueError: "ValueError: expected 4D input (got 3D input)",
                           MemoryError: "MemoryError"}[type(error)]
    assert f"{FAILING} failed and was left out of the fusion and the verdict: {failed.note}" in view.warnings
    assert [(e.name, e.status) for e in events if isinstance(e, DetectorScored)] == [
        ("meso4_df", "used"), ("meso4_f2f", "used"), (FAILING, DETECTOR_FAILED)]
    scored = [runs[n].fake_probability for n in WORKING]
    assert view.verdict.fake_probability == pytest.approx(sum(scored) / 2)  # the mean of the models that scored
    assert FAILING not in view.points and len(view.points["fused"]) == 4
    assert FAILING not in view.verdict.agreement


def fit_needing_the_failing_model() -> None:
    """A fitted ensemble (with a likelihood ratio) whose members are meso4_df and the failing model."""
    cards = {c.name: c for c in model_selection.list_installed()}
    clips = [{"name": f"v{i}.mp4", "sha256": f"{i:064x}", "label": "fake" if i < 3 else "real"} for i in range(6)]
    write_stacking({"format": 2, "weights": {"meso4_df": 1.0, "meso4_f2f": 0.0, FAILING: 0.5}, "bias": 0.0,
                    "models": [{"name": n, "weights_sha256": cards[n].weights_sha256} for n in (*WORKING, FAILING)],
                    "likelihood_ratio": {"slope": 0.5, "intercept": 0.0, "lower_log10": -0.6, "upper_log10": 0.6},
                    "coverage": {"validated": [{"family": "face_swap", "fakes": 3, "detected": 1}],
                                 "real_clips": 3, "real_called_fake": 0},
                    "validation": {"n_videos": 6, "n_fake": 3, "clips": clips}})


@pytest.mark.parametrize("fusion", ["auto", "stacking"])
def test_a_fit_that_needs_the_failed_model_does_not_decide(db, clip_dir, failing_installed, fusion):
    fit_needing_the_failing_model()
    selected = {c.name: c for c in model_selection.list_installed() if c.name in (*WORKING, FAILING)}
    assert Fuser("stacking", selected).rule == "stacking"  # valid for the models selected, before any ran
    analysis_id, _ = analyse(db, clip_dir / "face.mp4", fusion=fusion)
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert view.status == "done" and view.settings["fusion"] == fusion
    assert view.verdict.label == "inconclusive" and view.verdict.fusion == "mean"
    assert view.verdict.evidence is None
    assert view.verdict.explanation.startswith(f"{NO_VALIDATED_FUSION} (the fitted ensemble needs {FAILING}")
    assert any(w.startswith(f"{FAILING} failed") for w in view.warnings)
    assert any(w.startswith(NO_VALIDATED_FUSION) for w in view.warnings)
