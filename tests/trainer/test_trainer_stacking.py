"""`dfdesk train --stacking`: the fits, the member choice, the LR stage with its bounds, the nested validation, the
command on generated clips (the file it writes, its figures, the score cache) and its audit."""
from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from dfdesk import paths
from dfdesk.core.crop_cache import CropCache
from dfdesk.core.faces import FaceSettings
from dfdesk.core.fusion import STACKING_FIGURES, STACKING_FILE, Stacking
from dfdesk.services import audit
from dfdesk.store.database import Database
from tests.trainer.test_trainer_ddp import distinct_clip
from trainer import stacking as stacking_module
from trainer.cli import main
from trainer.ensemble_fit import fit_ensemble, fit_logistic_folds, pair_folds, select_members
from trainer.ensemble_validation import fit_and_validate
from trainer.install import installed_cards
from trainer.lr_system import fit_lr_calibration, lr_metrics, write_plots
from trainer.video_scorer import Scorer

MESO = ["meso4_df", "meso4_f2f"]


def stacking_tree(root: Path) -> Path:
    """val: 2 real + 2 fake videos, test: 1 + 1, all different (train is not used by the stacking fit)."""
    for split, n, offset in (("val", 2, 0), ("test", 1, 4)):
        for label in ("real", "fake"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            distinct_clip(root / split / "real" / f"{split}{k}.mp4", offset + k, fake=False)
            distinct_clip(root / split / "fake" / f"{split}{k}.mp4", offset + k + 2, fake=True)
    return root


@pytest.fixture(scope="session")
def stacking_data(tmp_path_factory) -> Path:
    return stacking_tree(tmp_path_factory.mktemp("stacking-set"))


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One crop and score cache for the session: scores are keyed by the videos' content, so sharing is safe."""
    return tmp_path_factory.mktemp("stacking-cache") / "crops"


def stacking_config(folder: Path, root: Path, data: dict | None = None, cache: Path | None = None,
                    **stacking) -> Path:
    doc = {"seed": 0, "device": "cpu", "data": data or {"kind": "folders", "root": str(root)},
           "cache_dir": str(cache or folder / "cache" / "crops"), "stacking": {"models": MESO, **stacking}}
    path = folder / "stacking.json"
    path.write_text(json.dumps(doc))
    return path


def run(capsys, *args) -> tuple[int, list[dict], str]:
    code = main([*args, "--jsonl"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


# --- synthetic scores: what the fits must do ---------------------------------------------------------------------


def scenario(kind: str, seed: int = 1) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """25 videos (15 fake, 10 real; one original and its fake share a group) scored by three models.

    strong: one model ranks well, two are noise.  complementary: two models each see half the fakes.
    chance: no model ranks.  decoy: a weak model and two noisy ones."""
    rng = np.random.default_rng(seed)
    y = np.array([1] * 15 + [0] * 10)
    groups = [f"g{i}" for i in range(25)]
    groups[15] = groups[0]  # a real original and its fake
    noise = [rng.normal(0, 2, 25) for _ in range(3)]
    hidden = rng.integers(0, 2, 25)
    columns = {
        "strong": [2.0 * y + rng.normal(0, 1.2, 25), noise[0], noise[1]],
        "complementary": [np.where(hidden == 1, 3.0 * y, 0) + rng.normal(0, 1, 25),
                          np.where(hidden == 0, 3.0 * y, 0) + rng.normal(0, 1, 25), noise[0]],
        "chance": noise,
        "decoy": [0.6 * y + rng.normal(0, 1, 25), noise[0], 0.3 * y + noise[1]],
    }[kind]
    return np.column_stack(columns), y, groups


@functools.cache
def validated_system(kind: str):
    """The scenario's labels and its LR system, fitted and validated once per test session."""
    x, y, groups = scenario(kind)
    return y, fit_and_validate(x, y, groups, ["m0", "m1", "m2"], 1.0)


@pytest.fixture(params=["strong", "complementary", "chance", "decoy"])
def validated(request):
    return (request.param, *validated_system(request.param))


def test_batched_fits_recover_known_weights_and_each_fold_sees_only_its_videos():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.5, size=(6000, 2))
    y = (rng.random(len(x)) < special.expit(x @ np.array([1.5, -0.5]) + 0.3)).astype(int)
    keep = np.ones((2, len(x)))
    keep[1, 3000:] = 0  # the second fold sees only the first half
    theta = fit_logistic_folds(x, y, keep, l2=1e-3)
    half = fit_logistic_folds(x[:3000], y[:3000], np.ones((1, 3000)), l2=1e-3)
    np.testing.assert_allclose(theta[0, :2], [1.5, -0.5], atol=0.12)
    np.testing.assert_allclose(theta[1], half[0], atol=1e-6)


def test_a_score_that_knows_nothing_gets_no_intercept_from_the_share_of_fakes():
    """Class-balanced fits: left-out fakes must not score lower merely because fewer fakes remain."""
    y = np.array([1] * 15 + [0] * 10)
    theta = fit_logistic_folds(np.zeros((25, 1)), y, np.ones((1, 25)), l2=1.0)
    assert abs(theta[0, -1]) < 1e-6


def test_pair_folds_leave_an_original_and_its_fake_out_together():
    labels, groups = [1, 0, 1, 0], ["a", "a", "b", "c"]
    keep, comparisons = pair_folds(labels, groups)
    assert len(comparisons) == 4  # every (fake, real) pair is compared once
    for fold, fake, real in comparisons:
        left_out = {groups[n] for n in range(4) if keep[fold, n] == 0}
        assert left_out == {groups[fake], groups[real]}


@pytest.mark.parametrize("kind, expected", [("strong", (0,)), ("complementary", (0, 1)), ("chance", ())])
def test_only_models_that_add_ranking_power_get_weight(kind, expected):
    x, y, groups = scenario(kind)
    assert select_members(x, y, groups, 1.0) == expected
    fit = fit_ensemble(x, y, groups, ["m0", "m1", "m2"], 1.0)
    assert [n for n, w in zip(fit.names, fit.weights) if w != 0] == [f"m{j}" for j in expected]
    assert (fit.weights >= 0).all()


def test_the_ensemble_never_ranks_below_its_best_member_on_the_same_folds(validated):
    kind, _y, system = validated
    v = system.validation
    assert v.ensemble_auc >= max(v.member_pair_auc.values()) - 1e-12, (kind, v.ensemble_auc, v.member_pair_auc)
    if kind == "complementary":
        assert v.ensemble_auc > max(v.member_pair_auc.values())  # stacking earns its place when it helps


def test_no_ranking_power_means_every_likelihood_ratio_is_one():
    y, system = validated_system("chance")
    assert system.ensemble.chosen == () and not system.ensemble.weights.any()
    assert np.all(system.validation.llrs == 0.0) and system.calibration.lower == system.calibration.upper == 0.0
    assert lr_metrics(system.validation.llrs, y).cllr == pytest.approx(1.0)


def test_out_of_sample_llrs_stay_within_the_bounds_the_data_supports(validated):
    _kind, y, system = validated
    n_fake, n_real = int(y.sum()), int(len(y) - y.sum())
    calibration = system.calibration
    assert -np.log10(n_fake + 1) - 1e-9 <= calibration.lower <= 0 <= calibration.upper <= np.log10(n_real + 1) + 1e-9
    assert np.all(np.abs(system.validation.llrs) <= np.log10(max(n_fake, n_real) + 1) + 1e-9)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_elub_bounds_a_perfectly_separating_score_on_a_small_validation_set(n):
    """Scores 40 logits apart would give LRs of 10^17; n videos of each kind support about n at most."""
    z = np.array([20.0] * n + [-20.0] * n)
    y = np.array([1] * n + [0] * n)
    calibration = fit_lr_calibration(z, y)
    assert calibration.slope > 0
    assert 0 < calibration.upper <= np.log10(n + 1) + 1e-9 and -np.log10(n + 1) - 1e-9 <= calibration.lower < 0
    assert calibration.log10_lr(np.array([1e6]))[0] == calibration.upper
    assert calibration.log10_lr(np.array([-1e6]))[0] == calibration.lower


def test_cllr_and_plots_of_out_of_sample_llrs(validated, tmp_path):
    kind, y, system = validated
    metrics = lr_metrics(system.validation.llrs, y)
    assert 0 <= metrics.cllr_min <= metrics.cllr + 1e-9 and (metrics.n_fake, metrics.n_real) == (15, 10)
    if kind == "strong":
        assert metrics.cllr < 1.0  # better than the uninformative LR of 1, although bounded by 25 videos
    ece, tippett = tmp_path / "ece.png", tmp_path / "tippett.png"
    write_plots(system.validation.llrs, y, ece, tippett)
    assert ece.read_bytes()[:8] == tippett.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the command ------------------------------------------------------------------------------------------------


def test_the_command_validates_on_generated_clips_and_writes_the_file(tmp_path, capsys, stacking_data, shared_cache):
    config = stacking_config(tmp_path, stacking_data, cache=shared_cache)
    code, events, err = run(capsys, "--stacking", "--config", str(config))
    assert code == 0, err
    kinds = [e["event"] for e in events]
    assert kinds[0] == "dataset" and kinds.count("score") == 6 and kinds[-2:] == ["eval", "done"]
    path = paths.user_models_dir() / STACKING_FILE
    assert events[-1]["stacking"] == str(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == 2 and set(doc["weights"]) == set(MESO) and np.isfinite(doc["bias"])
    cards = {c.name: c for c in installed_cards()}
    assert {m["name"]: m["weights_sha256"] for m in doc["models"]} == {n: cards[n].weights_sha256 for n in MESO}
    validation = doc["validation"]
    assert (validation["n_videos"], validation["n_fake"]) == (6, 3) and len(validation["clips"]) == 6
    assert all(len(c["sha256"]) == 64 and c["verdict_oos"] in ("fake", "real", "inconclusive")
               for c in validation["clips"])
    assert set(doc["metrics"]) >= {"ensemble_auc_leave_pair_out", "member_auc_leave_pair_out", "cllr", "cllr_min"}
    assert doc["coverage"]["real_clips"] == 3 and "statement" in doc["coverage"]
    stacking = Stacking.from_dict(doc)  # the analysis reads it back
    assert stacking.likelihood is not None and stacking.validation_videos == 6
    assert all((path.parent / name).read_bytes()[:4] == b"\x89PNG" for name in STACKING_FIGURES.values())
    assert not [p for p in paths.user_models_dir().iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_refit_reads_every_score_from_the_cache(tmp_path, capsys, stacking_data):
    config = str(stacking_config(tmp_path, stacking_data))
    assert run(capsys, "--stacking", "--config", config)[0] == 0
    first = json.loads((paths.user_models_dir() / STACKING_FILE).read_text())
    code, events, err = run(capsys, "--stacking", "--config", config)
    assert code == 0, err
    assert all(e["cached"] for e in events if e["event"] == "score")
    again = json.loads((paths.user_models_dir() / STACKING_FILE).read_text())
    assert again["validation"]["clips"] == first["validation"]["clips"] and again["weights"] == first["weights"]


def test_a_labels_csv_groups_each_original_with_its_fakes(tmp_path, capsys, stacking_data, shared_cache):
    rows = [("val/real/val0.mp4", "real", "", ""), ("val/fake/val0.mp4", "fake", "FaceSwap", "val/real/val0.mp4"),
            ("val/real/val1.mp4", "real", "", ""), ("val/fake/val1.mp4", "fake", "talking-head synthesis", ""),
            ("test/real/test0.mp4", "real", "", ""), ("test/fake/test0.mp4", "fake", "Face2Face", "")]
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["file", "label", "method", "pair_of", "notes"])
        writer.writerows([(str(stacking_data / f), label, method, str(stacking_data / pair) if pair else "", "")
                          for f, label, method, pair in rows])
    data = {"kind": "labels_csv", "root": str(labels), "options": {"folders": []}}
    config = stacking_config(tmp_path, stacking_data, data, cache=shared_cache)
    code, events, err = run(capsys, "--stacking", "--config", str(config))
    assert code == 0, err
    clips = {Path(c["name"]).relative_to(stacking_data).as_posix(): c
             for c in json.loads((paths.user_models_dir() / STACKING_FILE).read_text())["validation"]["clips"]}
    assert clips["val/fake/val0.mp4"]["group"] == clips["val/real/val0.mp4"]["group"]
    assert clips["val/fake/val1.mp4"]["group"] != clips["val/real/val1.mp4"]["group"]
    assert [clips[f]["family"] for f in ("val/fake/val0.mp4", "val/fake/val1.mp4", "test/fake/test0.mp4")] == [
        "face_swap", "talking_head", "reenactment"]


def test_a_video_listed_twice_is_validated_once(tmp_path, capsys, stacking_data, shared_cache):
    root = tmp_path / "twice"
    shutil.copytree(stacking_data, root)
    shutil.copy(root / "val" / "real" / "val0.mp4", root / "test" / "real" / "copy.mp4")
    code, events, err = run(capsys, "--stacking", "--config", str(stacking_config(tmp_path, root, cache=shared_cache)))
    assert code == 0, err
    assert [s["reason"] for s in events[-1]["skipped"]] == [f"the same video as {root / 'val/real/val0.mp4'}"]
    assert json.loads((paths.user_models_dir() / STACKING_FILE).read_text())["validation"]["n_videos"] == 6


def test_stacking_needs_both_classes(tmp_path, capsys, stacking_data):
    root = tmp_path / "one-class"
    for split in ("val", "test"):
        (root / split / "real").mkdir(parents=True)
        (root / split / "fake").mkdir(parents=True)
        (root / split / "real" / "a.mp4").symlink_to(stacking_data / split / "real" / f"{split}0.mp4")
    code, events, err = run(capsys, "--stacking", "--config", str(stacking_config(tmp_path, root)))
    assert code == 2 and "only real videos" in err
    assert not (paths.user_models_dir() / STACKING_FILE).exists()


@pytest.mark.parametrize("stacking, message", [
    ({"models": ["meso4_df", "no_such_model"]}, "no_such_model"),
    ({"models": ["meso4_df"]}, "at least two"),
    ({"l2": -1}, "l2"),
    ({"frame_aggregation": "max"}, "frame_aggregation"),
])
def test_bad_stacking_settings_exit_2(tmp_path, capsys, stacking_data, stacking, message):
    code, _, err = run(capsys, "--stacking", "--config", str(stacking_config(tmp_path, stacking_data, **stacking)))
    assert code == 2 and message in err and err.count("\n") == 1


def test_dfdesk_train_stacking_audits_the_file(tmp_path, capsys, stacking_data, shared_cache):
    from dfdesk.cli import train_command

    parser = argparse.ArgumentParser(prog="dfdesk")
    train_command.register(parser.add_subparsers(dest="command"))
    config = stacking_config(tmp_path, stacking_data, cache=shared_cache)
    args = parser.parse_args(["train", "--stacking", "--config", str(config), "--jsonl", "--db",
                              str(tmp_path / "cases.sqlite")])
    assert args.handler(args) == 0
    capsys.readouterr()
    check = Database(tmp_path / "cases.sqlite")
    with check.unit_of_work() as session:
        events = {e.action: e for e in audit.events_for(session)}
    check.close()
    assert events["train.start"].details["stacking"] is True
    event = events["model.stacking"]
    assert event.details["path"] == str(paths.user_models_dir() / STACKING_FILE)
    assert set(event.details["weights"]) == set(MESO) and "cllr" in event.details["metrics"]


# --- `dfdesk train --stacking` without --config: the default fit (the labelled clips of ../shared/data) -----------


@dataclasses.dataclass(frozen=True)
class NameScorer(Scorer):
    """Scores a listed video from its file name instead of running the models (fake_* high, real_* low, with a
    spread per model): the default command's plumbing, with no real scoring."""

    def units(self, path, cancel=None) -> dict[str, list[float]]:
        index = int(Path(path).stem.split("_")[1])
        base = 0.75 if Path(path).name.startswith("fake") else 0.3
        return {card.name: [base + 0.04 * ((index + k) % 4)] for k, card in enumerate(self.cards)}


def name_scorer(config) -> NameScorer:
    cards = tuple(c for c in installed_cards() if c.name in MESO and c.trained)
    return NameScorer(cards, (None,) * len(cards), "cpu", FaceSettings(), CropCache(paths.cache_dir() / "crops"),
                      None, "mean", 8, config.seed)


@pytest.fixture
def default_shared_data(tmp_path, monkeypatch) -> Path:
    """A stand-in for ../shared/data: a labels.csv of 5 originals and their 5 fakes under videos/val/."""
    root = tmp_path / "shared-data"
    (root / "videos" / "val").mkdir(parents=True)
    rows = []
    for k in range(5):
        for kind in ("real", "fake"):
            (root / "videos" / "val" / f"{kind}_{k}.mp4").write_bytes(f"{kind} clip {k}".encode())
        rows += [(f"videos/val/real_{k}.mp4", "real", "", ""),
                 (f"videos/val/fake_{k}.mp4", "fake", "FaceSwap", f"videos/val/real_{k}.mp4")]
    with (root / "labels.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["file", "label", "method", "pair_of", "notes"])
        writer.writerows([(*row, "") for row in rows])
    monkeypatch.setenv(paths.SHARED_DATA_ENV, str(root))
    monkeypatch.setattr(stacking_module, "make_scorer", name_scorer)
    return root


def test_stacking_without_a_config_fits_the_default_labelled_clips(capsys, default_shared_data):
    code, events, err = run(capsys, "--stacking")
    assert code == 0, err
    assert events[0]["event"] == "dataset" and events[0]["root"] == str(default_shared_data / "labels.csv")
    doc = json.loads((paths.user_models_dir() / STACKING_FILE).read_text())
    assert doc["validation"]["source"] == str(default_shared_data / "labels.csv")
    assert doc["validation"]["n_videos"] == 10 and {m["name"] for m in doc["models"]} == set(MESO)
    groups = {c["name"]: c["group"] for c in doc["validation"]["clips"]}
    assert groups["videos/val/fake_3.mp4"] == groups["videos/val/real_3.mp4"]  # each pair leaves together


def test_dfdesk_train_stacking_without_a_config_parses_and_runs(tmp_path, capsys, default_shared_data):
    from dfdesk.cli import train_command

    parser = argparse.ArgumentParser(prog="dfdesk")
    train_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--stacking", "--jsonl", "--db", str(tmp_path / "cases.sqlite")])
    assert args.config is None
    assert args.handler(args) == 0
    capsys.readouterr()
    assert (paths.user_models_dir() / STACKING_FILE).is_file()


def test_training_without_a_config_is_refused_with_one_line(capsys):
    code, events, err = run(capsys)
    assert code == 2 and err.count("\n") == 1 and "--config FILE is required" in err
    assert events == [{"event": "error", "message": events[0]["message"]}]
