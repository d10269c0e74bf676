"""The fitted ensemble in the analysis: the file the trainer fits is read back, checked, used for a bounded
likelihood ratio, and refused when stale; ``auto`` falls back to the mean and says so."""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from dfdesk import paths
from dfdesk.core.fusion import STACKING_FILE, FusionError, Stacking, logit, sigmoid
from dfdesk.core.likelihood import LrModel, even_odds_probability
from dfdesk.core.steps import run_to_end
from dfdesk.detectors.cards import Calibration
from dfdesk.services import model_selection, verdicts
from dfdesk.services.analysis import AnalysisError, AnalysisRequest, run_analysis
from dfdesk.services.analysis_json import analysis_document
from dfdesk.services.ingest import ingest_video
from dfdesk.services.models import list_installed
from dfdesk.services.results import load_analysis
from dfdesk.services.verdicts import NO_VALIDATED_FUSION, Fuser, fusion_rule_text, load_stacking
from dfdesk.store.database import Database
from tests.trainer.test_trainer_stacking import MESO, stacking_config, stacking_tree
from trainer.cli import main as train_main
from trainer.config import load_config
from trainer.stacking import write_stacking
from trainer.video_scorer import make_scorer


@pytest.fixture(scope="module")
def stacking_data(tmp_path_factory) -> Path:
    return stacking_tree(tmp_path_factory.mktemp("stacking-set"))


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    """Crops and scores shared by this module's fits (scores are keyed by the videos' content)."""
    return tmp_path_factory.mktemp("stacking-cache") / "crops"


def fit(tmp_path: Path, root: Path, capsys, cache: Path) -> dict:
    assert train_main(["--stacking", "--config", str(stacking_config(tmp_path, root, cache=cache)), "--jsonl"]) == 0
    capsys.readouterr()
    return json.loads((paths.user_models_dir() / STACKING_FILE).read_text())


def analyse(db: Database, clip: Path, **request):
    intake = ingest_video(db, "Case S", clip, "alice")
    return run_to_end(run_analysis(db, intake.evidence_id, AnalysisRequest(models=tuple(MESO), **request), "alice"))


def installed_hashes() -> dict[str, str]:
    return {c.name: c.weights_sha256 for c in list_installed() if c.name in MESO}


def fitted_doc(weights: dict[str, float], bias: float = 0.0, lr: dict | None = None) -> dict:
    """A format-2 stacking file for the installed MESO models, fitted on two (made-up) videos."""
    clips = [{"name": "a.mp4", "sha256": "a" * 64, "label": "fake"}, {"name": "b.mp4", "sha256": "b" * 64,
                                                                      "label": "real"}]
    return {"format": 2, "weights": weights, "bias": bias,
            "models": [{"name": n, "weights_sha256": h} for n, h in installed_hashes().items()],
            "likelihood_ratio": lr or {"slope": 0.5, "intercept": 0.1, "lower_log10": -0.7, "upper_log10": 0.6},
            "coverage": {"validated": [{"family": "face_swap", "fakes": 1, "detected": 0}], "real_clips": 1,
                         "real_called_fake": 0},
            "validation": {"n_videos": 2, "n_fake": 1, "clips": clips}}


def test_a_file_without_likelihood_ratios_still_round_trips(tmp_path):
    doc = {"weights": {"meso4_df": 0.7, "meso4_f2f": -1.25}, "bias": 0.4,
           "models": [{"name": n, "weights_sha256": h} for n, h in installed_hashes().items()],
           "metrics": {}, "created_at": "now"}
    write_stacking(doc)
    stacking = load_stacking()
    assert stacking == Stacking({"meso4_df": 0.7, "meso4_f2f": -1.25}, 0.4, installed_hashes())
    stacking.check_models(installed_hashes())  # no error: fitted on these very weights
    assert stacking.probability({"meso4_df": 0.8, "meso4_f2f": 0.3}) == pytest.approx(
        sigmoid(0.4 + 0.7 * logit(0.8) - 1.25 * logit(0.3)))


def test_a_fitted_file_gives_the_bounded_lr_at_even_odds():
    stacking = Stacking.from_dict(fitted_doc({"meso4_df": 2.0, "meso4_f2f": 0.0}, bias=-0.5))
    assert stacking.members == ("meso4_df",) and stacking.validation_videos == 2
    assert stacking.likelihood == LrModel(0.5, 0.1, -0.7, 0.6)
    z = -0.5 + 2.0 * logit(0.6)
    assert stacking.probability({"meso4_df": 0.6}) == pytest.approx(even_odds_probability(0.5 * z + 0.1))
    assert stacking.probability({"meso4_df": 1 - 1e-9}) == pytest.approx(even_odds_probability(0.6))  # the bound


@pytest.mark.parametrize("spoil, message", [
    (lambda d: d["validation"].update(n_videos=3), "counts do not match"),
    (lambda d: d["validation"]["clips"][1].update(sha256="a" * 64), "one distinct SHA-256 each"),
    (lambda d: d["likelihood_ratio"].update(lower_log10=0.2), "enclose LR 1"),
    (lambda d: d.pop("coverage"), "likelihood-ratio part is missing"),
])
def test_an_inconsistent_fitted_file_is_refused_at_load(spoil, message):
    doc = copy.deepcopy(fitted_doc({"meso4_df": 1.0, "meso4_f2f": 0.0}))
    spoil(doc)
    with pytest.raises(FusionError, match=message):
        Stacking.from_dict(doc)


def test_analysis_with_the_fitted_ensemble_reports_a_bounded_lr(tmp_path, capsys, db, stacking_data, shared_cache):
    doc = fit(tmp_path, stacking_data, capsys, shared_cache)
    video = stacking_data / "val" / "fake" / "val0.mp4"
    analysis_id = analyse(db, video, fusion="stacking")
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    used = {d.name: d.fake_probability for d in view.detectors if d.status == "used"}
    assert set(used) == set(MESO) and view.verdict.fusion == "stacking"
    lr = LrModel.from_dict(doc["likelihood_ratio"])
    z = doc["bias"] + sum(doc["weights"][n] * logit(p) for n, p in used.items())
    assert view.verdict.evidence.log10_lr == pytest.approx(lr.log10_lr(z), abs=1e-9)
    assert view.verdict.fake_probability == pytest.approx(even_odds_probability(lr.log10_lr(z)), abs=1e-9)
    assert view.verdict.evidence.validation_videos == 6 and view.verdict.coverage.real_clips == 3
    document = analysis_document(view)
    assert document["log10_lr"] == pytest.approx(view.verdict.evidence.log10_lr, abs=1e-4)
    assert document["lr_bounds"] == pytest.approx([10 ** lr.lower, 10 ** lr.upper])
    assert document["verbal"].startswith("The findings") and document["coverage"]["real_clips"] == 3
    # the fit scored this video exactly as the analysis did: same frames, faces, crops and video score
    scorer = make_scorer(load_config(stacking_config(tmp_path, stacking_data, cache=shared_cache), stacking=True))
    assert scorer.score(video) == pytest.approx(used, abs=1e-9)


def test_auto_uses_the_fitted_ensemble_and_otherwise_the_mean_with_a_warning(db, clip_dir, monkeypatch):
    monkeypatch.setattr(verdicts, "stacking_files", lambda: [paths.user_models_dir() / STACKING_FILE])  # none shipped
    plain = analyse(db, clip_dir / "face.mp4", frames=4)  # the request's default rule: auto
    write_stacking(fitted_doc({"meso4_df": 1.0, "meso4_f2f": 0.5}))
    fitted = analyse(db, clip_dir / "face.mp4", frames=4)
    with db.unit_of_work() as session:
        before, after = load_analysis(session, plain), load_analysis(session, fitted)
    assert before.settings["fusion"] == after.settings["fusion"] == "auto"
    assert before.verdict.fusion == "mean" and before.verdict.evidence is None
    assert any(w.startswith(NO_VALIDATED_FUSION) and "no fitted ensemble is installed" in w
               and "without a likelihood ratio" in w for w in before.warnings)
    assert before.verdict.label == "inconclusive" and before.verdict.explanation.startswith(NO_VALIDATED_FUSION)
    assert after.verdict.fusion == "stacking" and after.verdict.evidence is not None


def confident_card(name: str = "meso4_confident"):
    """meso4_df's weights behind a Platt calibration that reads every frame as P(fake) 0.998: a model whose plain
    mean alone would call any video fake."""
    card = next(c for c in list_installed() if c.name == "meso4_df")
    return dataclasses.replace(card, name=name, calibration=Calibration("platt", a=1e-3, b=6.0))


def test_without_a_validated_fusion_a_confident_mean_never_decides(db, clip_dir, monkeypatch):
    monkeypatch.setattr(verdicts, "stacking_files", lambda: [paths.user_models_dir() / STACKING_FILE])  # none shipped
    monkeypatch.setattr(model_selection, "list_installed", lambda: [*list_installed(), confident_card()])
    intake = ingest_video(db, "Case S", clip_dir / "face.mp4", "alice")
    ids = {rule: run_to_end(run_analysis(db, intake.evidence_id, AnalysisRequest(
        models=("meso4_confident",), frames=4, **({"fusion": rule} if rule else {})), "alice"))
        for rule in ("mean", None)}  # None: the request's default
    with db.unit_of_work() as session:
        chosen, default = load_analysis(session, ids["mean"]), load_analysis(session, ids[None])
    assert chosen.verdict.label == "fake" and chosen.verdict.fake_probability > 0.99  # the mean, asked for, decides
    assert default.verdict.label == "inconclusive" and default.verdict.fusion == "mean"
    assert default.verdict.fake_probability == pytest.approx(chosen.verdict.fake_probability)  # still shown
    assert default.verdict.explanation.startswith(f"{NO_VALIDATED_FUSION} (no fitted ensemble is installed")
    assert [d.fake_probability for d in default.detectors] == [d.fake_probability for d in chosen.detectors]
    assert fusion_rule_text(default.settings["fusion"], default.verdict.fusion).startswith(
        "mean (requested: auto), the plain mean")


def test_an_unknown_fusion_rule_is_refused_before_any_work(db, clip_dir):
    with pytest.raises(AnalysisError, match="unknown fusion rule 'median'; choose auto, mean, weighted, stacking"):
        analyse(db, clip_dir / "face.mp4", fusion="median", frames=4)


def test_a_stacking_fitted_on_other_weights_is_refused(tmp_path, capsys, db, stacking_data, clip_dir, shared_cache):
    doc = fit(tmp_path, stacking_data, capsys, shared_cache)
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


def test_a_member_of_the_fitted_ensemble_must_run():
    cards = {c.name: c for c in list_installed() if c.name in MESO}
    write_stacking(fitted_doc({"meso4_df": 1.0, "meso4_f2f": 0.0}))
    Fuser("stacking", {"meso4_df": cards["meso4_df"]})  # meso4_f2f has no weight: it may be left out
    with pytest.raises(FusionError, match="needs meso4_df"):
        Fuser("stacking", {"meso4_f2f": cards["meso4_f2f"]})


def test_a_validation_video_is_flagged_as_not_out_of_sample():
    cards = {c.name: c for c in list_installed() if c.name in MESO}
    write_stacking(fitted_doc({"meso4_df": 1.0, "meso4_f2f": 0.0}))
    fuser = Fuser("stacking", cards)
    assert fuser.evidence({"meso4_df": 0.4, "meso4_f2f": 0.5}, "a" * 64).in_validation
    assert not fuser.evidence({"meso4_df": 0.4, "meso4_f2f": 0.5}, "c" * 64).in_validation
    assert fuser({"meso4_f2f": 0.5}) is None  # a frame the member did not score has no fused value


def test_a_fitted_ensemble_without_members_says_why_it_cannot_decide(db, clip_dir, monkeypatch):
    """The shipped fit when no detector passes validation: every weight 0, LR 1 for any video. The verdict and the
    JSON say that no detector carries weight, not merely "LR close to 1"."""
    monkeypatch.setattr(verdicts, "stacking_files", lambda: [paths.user_models_dir() / STACKING_FILE])
    zero = {"slope": 0.0, "intercept": 0.0, "lower_log10": 0.0, "upper_log10": 0.0}
    write_stacking(fitted_doc({"meso4_df": 0.0, "meso4_f2f": 0.0}, lr=zero))
    with db.unit_of_work() as session:
        view = load_analysis(session, analyse(db, clip_dir / "face.mp4", frames=4))
    verdict = view.verdict
    assert verdict.fusion == "stacking" and verdict.label == "inconclusive" and verdict.fake_probability == 0.5
    assert not verdict.evidence.carries_evidence and verdict.evidence.members == ()
    assert verdict.explanation.startswith("on its 2 validation videos no detector told manipulated")
    summary = analysis_document(view)["evidence"]["summary"]
    assert summary.startswith("LR 1 for every video: no detector carries weight")
    assert "no evidence either way" in summary


def test_the_command_line_says_an_ensemble_without_members_gives_every_video_the_same_p(tmp_path, clip_dir,
                                                                                         monkeypatch, capsys):
    from dfdesk.cli.main import run_cli

    monkeypatch.setattr(verdicts, "stacking_files", lambda: [paths.user_models_dir() / STACKING_FILE])
    zero = {"slope": 0.0, "intercept": 0.0, "lower_log10": 0.0, "upper_log10": 0.0}
    write_stacking(fitted_doc({"meso4_df": 0.0, "meso4_f2f": 0.0}, lr=zero))
    out = tmp_path / "out.json"
    assert run_cli(["analyze", str(clip_dir / "face.mp4"), "--json", str(out), "--models", ",".join(MESO),
                    "--frames", "4", "--db", str(tmp_path / "c.sqlite")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("inconclusive P(fake) 0.500 for every video: no detector carries weight in the fitted "
                          "ensemble")
    assert json.loads(out.read_text())["fake_probability"] == 0.5  # the number itself stays, for scripts
