"""`dfdesk train --stacking`: the logistic fit, the command on generated clips, the file it writes, its audit."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from dfdesk import paths
from dfdesk.cli import train_command
from dfdesk.core.fusion import STACKING_FILE
from dfdesk.services import audit
from dfdesk.store.database import Database
from tests.trainer.test_trainer_ddp import distinct_clip
from trainer.cli import main
from trainer.install import installed_cards
from trainer.stacking import fit_logistic, stacked

MESO = ["meso4_df", "meso4_f2f"]


def stacking_tree(root: Path) -> Path:
    """val: 2 real + 2 fake videos, test: 1 + 1 (train is not used by the stacking fit)."""
    for split, n in (("val", 2), ("test", 1)):
        for label in ("real", "fake"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            distinct_clip(root / split / "real" / f"{split}{k}.mp4", k, fake=False)
            distinct_clip(root / split / "fake" / f"{split}{k}.mp4", k + 2, fake=True)
    return root


@pytest.fixture(scope="session")
def stacking_data(tmp_path_factory) -> Path:
    return stacking_tree(tmp_path_factory.mktemp("stacking-set"))


def stacking_config(folder: Path, root: Path, **stacking) -> Path:
    doc = {"seed": 0, "device": "cpu", "data": {"kind": "folders", "root": str(root)},
           "stacking": {"models": MESO, **stacking}}
    path = folder / "stacking.json"
    path.write_text(json.dumps(doc))
    return path


def run(capsys, *args) -> tuple[int, list[dict], str]:
    code = main([*args, "--jsonl"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


# --- the fit ----------------------------------------------------------------------------------------------------


def test_fit_recovers_known_weights_from_synthetic_logits():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.5, size=(20000, 3))
    true_w, true_b = np.array([1.5, -0.5, 0.8]), 0.3
    y = (rng.random(len(x)) < special.expit(x @ true_w + true_b)).astype(int)
    fit = fit_logistic(x, y, l2=1e-3)
    assert fit.converged
    np.testing.assert_allclose(fit.weights, true_w, atol=0.08)
    assert fit.bias == pytest.approx(true_b, abs=0.08)
    assert stacked(x[:2], fit) == pytest.approx(special.expit(x[:2] @ fit.weights + fit.bias))


def test_the_penalty_shrinks_weights_and_keeps_separable_data_finite():
    x = np.array([[-2.0, 0.1], [-1.0, -0.3], [1.0, 0.2], [2.0, -0.1]])
    y = [0, 0, 1, 1]  # separable: without a penalty the weight would grow without bound
    weak, strong = fit_logistic(x, y, l2=0.1), fit_logistic(x, y, l2=10.0)
    assert np.isfinite(weak.weights).all() and weak.weights[0] > strong.weights[0] > 0
    assert np.linalg.norm(strong.weights) < np.linalg.norm(weak.weights)


# --- the command ------------------------------------------------------------------------------------------------


def test_stacking_command_scores_validation_videos_and_writes_the_file(tmp_path, capsys, stacking_data):
    code, events, err = run(capsys, "--stacking", "--config", str(stacking_config(tmp_path, stacking_data)))
    assert code == 0, err
    kinds = [e["event"] for e in events]
    assert kinds[0] == "dataset" and kinds.count("score") == 6 and kinds[-2:] == ["eval", "done"]
    path = paths.user_models_dir() / STACKING_FILE
    assert events[-1]["stacking"] == str(path)
    doc = json.loads(path.read_text())
    assert set(doc["weights"]) == set(MESO) and np.isfinite(doc["bias"])
    cards = {c.name: c for c in installed_cards()}
    assert {m["name"]: m["weights_sha256"] for m in doc["models"]} == {n: cards[n].weights_sha256 for n in MESO}
    metrics = doc["metrics"]
    assert set(metrics["val_auc"]) == {"stacking", "mean", *MESO} and set(metrics["test_auc"]) == set(
        metrics["val_auc"])
    assert metrics["n_val_videos"] == 4 and metrics["n_test_videos"] == 2
    assert "val 4 videos (2 real, 2 fake)" in doc["data"] and doc["created_at"]
    assert not [p for p in paths.user_models_dir().iterdir() if p.name.startswith(".")]  # no temporary left


def test_stacking_needs_both_classes_in_validation(tmp_path, capsys, stacking_data):
    root = tmp_path / "one-class"
    for split in ("val", "test"):
        (root / split / "real").mkdir(parents=True)
        (root / split / "fake").mkdir(parents=True)
        (root / split / "real" / "a.mp4").symlink_to(stacking_data / split / "real" / f"{split}0.mp4")
    (root / "test" / "fake" / "b.mp4").symlink_to(stacking_data / "test" / "fake" / "test0.mp4")
    code, events, err = run(capsys, "--stacking", "--config", str(stacking_config(tmp_path, root)))
    assert code == 2 and "validation split has only real videos" in err
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


def test_dfdesk_train_stacking_audits_the_file(tmp_path, capsys, stacking_data):
    parser = argparse.ArgumentParser(prog="dfdesk")
    train_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--stacking", "--config", str(stacking_config(tmp_path, stacking_data)),
                              "--jsonl", "--db", str(tmp_path / "cases.sqlite")])
    assert args.handler(args) == 0
    capsys.readouterr()
    check = Database(tmp_path / "cases.sqlite")
    with check.unit_of_work() as session:
        events = {e.action: e for e in audit.events_for(session)}
    check.close()
    assert events["train.start"].details["stacking"] is True
    event = events["model.stacking"]
    assert event.details["path"] == str(paths.user_models_dir() / STACKING_FILE)
    assert set(event.details["weights"]) == set(MESO) and "val_auc" in event.details["metrics"]
