"""Each detector's model is released once its scores and heat maps are done: the ensemble's models are never
resident together (real analysis, the two shipped MesoNet models, real MTCNN on a real clip)."""
from __future__ import annotations

import gc
import weakref
from pathlib import Path

from dfdesk.core.steps import run_to_end
from dfdesk.services import analysis
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database


def test_a_model_is_gone_before_the_next_one_loads_and_each_drew_its_heat_maps(db: Database, clip_dir: Path,
                                                                               monkeypatch) -> None:
    loaded: list[tuple[str, weakref.ref]] = []
    alive_at_load: list[list[str]] = []
    real_create = analysis.create_detector

    def create_and_watch(card, device):
        gc.collect()
        alive_at_load.append([name for name, ref in loaded if ref() is not None])
        model = real_create(card, device)
        loaded.append((card.name, weakref.ref(model)))
        return model

    monkeypatch.setattr(analysis, "create_detector", create_and_watch)
    intake = ingest_video(db, "Release", clip_dir / "face.mp4", "alice")
    analysis_id = run_to_end(run_analysis(db, intake.evidence_id,
                                          AnalysisRequest(models=("meso4_df", "meso4_f2f"), frames=4), "alice"))
    gc.collect()
    assert [name for name, _ in loaded] == ["meso4_df", "meso4_f2f"]
    assert alive_at_load == [[], []]  # meso4_df was released before meso4_f2f loaded
    assert all(ref() is None for _, ref in loaded)
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert {h.detector for h in view.heatmaps} == {"meso4_df", "meso4_f2f"}
    detectors = view.timings_s["meso4_df"] + view.timings_s["meso4_f2f"]  # each with its heat maps
    assert 0 < view.timings_s["explanations"] < detectors
