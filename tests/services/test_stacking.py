"""Logistic stacking in the analysis: the file the trainer fits is read back, used, and refused when stale."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfdesk import paths
from dfdesk.core.fusion import STACKING_FILE, FusionError, Stacking, logit, sigmoid
from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisError, AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.models import list_installed
from dfdesk.services.results import load_analysis
from dfdesk.services.verdicts import Fuser, load_stacking
from dfdesk.store.database import Database
from tests.trainer.test_trainer_stacking import MESO, stacking_config, stacking_tree
from trainer.cli import main as train_main
from trainer.config import load_config
from trainer.stacking import make_scorer, write_stacking


@pytest.fixture(scope="module")
def stacking_data(tmp_path_factory) -> Path:
    return stacking_tree(tmp_path_factory.mktemp("stacking-set"))


def fit(tmp_path: Path, root: Path, capsys) -> dict:
    assert train_main(["--stacking", "--config", str(stacking_config(tmp_path, root)), "--jsonl"]) == 0
    capsys.readouterr()
    return json.loads((paths.user_models_dir() / STACKING_FILE).read_text())


def analyse(db: Database, clip: Path, **request):
    intake = ingest_video(db, "Case S", clip, "alice")
    return run_to_end(run_analysis(db, intake.evidence_id, AnalysisRequest(models=tuple(MESO), **request), "alice"))


def installed_hashes() -> dict[str, str]:
    return {c.name: c.weights_sha256 for c in list_installed() if c.name in MESO}


def test_the_file_round_trips(tmp_path):
    doc = {"weights": {"meso4_df": 0.7, "meso4_f2f": -1.25}, "bias": 0.4,
           "models": [{"name": n, "weights_sha256": h} for n, h in installed_hashes().items()],
           "metrics": {}, "created_at": "now"}
    write_stacking(doc)
    stacking = load_stacking()
    assert stacking == Stacking({"meso4_df": 0.7, "meso4_f2f": -1.25}, 0.4, installed_hashes())
    stacking.check_models(installed_hashes())  # no error: fitted on these very weights


def test_analysis_with_stacking_fusion_uses_the_fitted_weights(tmp_path, capsys, db, stacking_data):
    doc = fit(tmp_path, stacking_data, capsys)
    video = stacking_data / "val" / "fake" / "val0.mp4"
    analysis_id = analyse(db, video, fusion="stacking")
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    used = {d.name: d.fake_probability for d in view.detectors if d.status == "used"}
    assert set(used) == set(MESO) and view.verdict.fusion == "stacking"
    expected = sigmoid(doc["bias"] + sum(doc["weights"][n] * logit(p) for n, p in used.items()))
    assert view.verdict.fake_probability == pytest.approx(expected, abs=1e-9)
    assert view.verdict.fake_probability != pytest.approx(sum(used.values()) / 2, abs=1e-6)
    # the fit scored this video exactly as the analysis did: same frames, faces, crops and video score
    scorer = make_scorer(load_config(stacking_config(tmp_path, stacking_data), stacking=True))
    assert scorer.score(video) == pytest.approx(used, abs=1e-9)


def test_a_stacking_fitted_on_other_weights_is_refused(tmp_path, capsys, db, stacking_data, clip_dir):
    doc = fit(tmp_path, stacking_data, capsys)
    doc["models"][0]["weights_sha256"] = "0" * 64  # meso4_df was re-trained since the fit
    (paths.user_models_dir() / STACKING_FILE).write_text(json.dumps(doc))
    with pytest.raises(AnalysisError, match="fitted for meso4_df with weights SHA-256 000000000000"):
        analyse(db, clip_dir / "face.mp4", fusion="stacking", frames=4)
    assert analyse(db, clip_dir / "face.mp4", fusion="mean", frames=4)  # other rules are unaffected


def test_models_outside_the_stacking_or_without_hashes_are_refused():
    cards = {c.name: c for c in list_installed() if c.name in MESO}
    write_stacking({"weights": {"meso4_df": 1.0, "other": 1.0}, "bias": 0.0,
                    "models": [{"name": "meso4_df", "weights_sha256": cards["meso4_df"].weights_sha256},
                               {"name": "other", "weights_sha256": "ab" * 32}]})
    with pytest.raises(FusionError, match="not fitted for meso4_f2f"):
        Fuser("stacking", cards)
    write_stacking({"weights": {"meso4_df": 1.0, "meso4_f2f": 1.0}, "bias": 0.0, "models": []})
    with pytest.raises(FusionError, match="no weights SHA-256 for meso4_df, meso4_f2f"):
        Fuser("stacking", cards)
