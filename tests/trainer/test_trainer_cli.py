"""`dfdesk train` (trainer.cli): JSON lines and exit codes on good and bad data; install into the user models."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dfdesk import paths
from dfdesk.cli import train_command
from dfdesk.detectors.cards import load_card
from dfdesk.detectors.weights import sha256_file
from tests.fixtures.clips import face_frame, write_clip
from trainer.cli import main

N_FRAMES = 8


def still_frames() -> list[np.ndarray]:
    """The fixture's face, drifting slowly enough for sampled frames to form one track."""
    return [face_frame(320, 240, i, 200) for i in range(N_FRAMES)]


def make_real_clip(path: Path) -> Path:
    return write_clip(path, still_frames())


def make_fake_clip(path: Path) -> Path:
    """The same face with its inner region colour-shifted and blurred: a crude manipulation."""
    frames = []
    for frame in still_frames():
        inner = frame[80:160, 20:100].astype(np.int16) + (30, -20, 10)
        frame[80:160, 20:100] = cv2.GaussianBlur(np.clip(inner, 0, 255).astype(np.uint8), (9, 9), 0)
        frames.append(frame)
    return write_clip(path, frames)


def build_tree(root: Path, per_split: dict[str, int]) -> Path:
    """root/<split>/real|fake/*.mp4 with ``n`` videos per class and split."""
    for split, n in per_split.items():
        for k in range(n):
            (root / split / "real").mkdir(parents=True, exist_ok=True)
            (root / split / "fake").mkdir(parents=True, exist_ok=True)
            make_real_clip(root / split / "real" / f"{split}{k}.mp4")
            make_fake_clip(root / split / "fake" / f"{split}{k}.mp4")
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("tiny-set"), {"train": 2, "val": 1, "test": 1})


@pytest.fixture(scope="session")
def crop_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("crop-cache")  # shared: faces are detected once per session


def tiny_config(tmp_path: Path, root: Path, cache: Path, **data) -> Path:
    config = {
        "seed": 0, "device": "cpu", "checkpoint_dir": str(tmp_path / "run"), "cache_dir": str(cache),
        "data": {"kind": "folders", "root": str(root), "max_clips_per_video": 1, **data},
        "detector": {"model": "meso4_df", "input": {"frames_per_clip": 2}},
        "train": {"epochs": 1, "batch_size": 2, "learning_rate": 1e-4},
        "eval": {"bootstrap": 20},
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(config))
    return path


def run(capsys, *args) -> tuple[int, list[dict], str]:
    code = main([*args, "--jsonl"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_train_prints_json_lines_and_installs_the_model(tmp_path, capsys, tiny_dataset, crop_cache):
    code, events, err = run(capsys, "--config", str(tiny_config(tmp_path, tiny_dataset, crop_cache)))
    assert code == 0, err
    kinds = [e["event"] for e in events]
    assert kinds[0] == "dataset" and "start" in kinds and "step" in kinds and kinds[-1] == "done"
    assert kinds.index("prepare") < kinds.index("start") < kinds.index("step") < kinds.index("epoch")
    steps = [e for e in events if e["event"] == "step"]
    assert [s["step"] for s in steps] == [1, 2] and all(np.isfinite(s["loss"]) for s in steps)
    done = events[-1]
    assert done["model"].startswith("meso4_df-ft-")
    card = load_card(Path(done["model_dir"]))
    assert Path(done["model_dir"]).parent == paths.user_models_dir()
    assert card.trained and card.weights_sha256 == sha256_file(card.weights_path)
    assert card.architecture == "mesonet4" and card.sigmoid_means == "real"  # polarity kept from meso4_df
    assert {"val_video_auc", "test_video_auc", "test_video_auc_ci", "test_eer", "test_ece"} <= set(card.metrics)
    assert "train 4 videos (2 real, 2 fake" in card.training_data and "folders" in card.training_data


def test_dry_run_reports_counts_per_class_and_split(tmp_path, capsys, tiny_dataset, crop_cache):
    code, events, _ = run(capsys, "--config", str(tiny_config(tmp_path, tiny_dataset, crop_cache)), "--dry-run")
    assert code == 0
    dataset = events[0]
    assert dataset["counts_by_class"] == {"real": 4, "fake": 4}
    assert dataset["counts_by_split"] == {"train": {"real": 2, "fake": 2}, "val": {"real": 1, "fake": 1},
                                          "test": {"real": 1, "fake": 1}}
    assert events[-1] == {"event": "done", "model": None, "dry_run": True}
    assert not any(paths.user_models_dir().iterdir())


def bad_folder_tree(tmp_path: Path, case: str) -> Path:
    root = tmp_path / case
    if case == "empty":
        (root / "real").mkdir(parents=True)
        (root / "fake").mkdir(parents=True)
    elif case == "single-class":
        (root / "real").mkdir(parents=True)
        for k in range(3):
            (root / "real" / f"{k}.mp4").write_bytes(b"not decoded by a dry run")
    return root


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "no videos found"),
    ("single-class", "only real videos"),
])
def test_bad_folder_data_exits_non_zero_with_one_line(tmp_path, capsys, crop_cache, case, message):
    config = tiny_config(tmp_path, bad_folder_tree(tmp_path, case), crop_cache)
    code, events, err = run(capsys, "--config", str(config), "--dry-run")
    assert code == 2
    assert events[-1]["event"] == "error" and message in events[-1]["message"]
    assert err.count("\n") == 1 and err.startswith("dfdesk: error: ") and "Traceback" not in err


def test_leaking_official_splits_are_refused(tmp_path, capsys, crop_cache):
    root = tmp_path / "dfdc"
    root.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (root / name).write_bytes(b"x")
    (root / "metadata.json").write_text(json.dumps({
        "a.mp4": {"label": "REAL", "split": "test"},
        "b.mp4": {"label": "FAKE", "original": "a.mp4", "split": "train"},  # its original sits in test
        "c.mp4": {"label": "REAL", "split": "train"},
    }))
    config = tiny_config(tmp_path, root, crop_cache, kind="dfdc")
    code, events, err = run(capsys, "--config", str(config), "--dry-run")
    assert code == 2 and "in both" in events[-1]["message"] and "a.mp4" in err


def test_pseudo_fakes_make_real_only_data_usable(tmp_path, capsys, crop_cache):
    root = bad_folder_tree(tmp_path, "single-class")
    config = tiny_config(tmp_path, root, crop_cache, pseudo_fakes="video_blend", split_ratios=[1, 1, 1])
    code, events, _ = run(capsys, "--config", str(config), "--dry-run")
    assert code == 0 and events[0]["counts_by_class"] == {"real": 3, "fake": 0}


@pytest.mark.parametrize("doc, message", [
    ({"data": {"root": "x"}, "detector": {"model": "meso4_df"}, "train": {"learning_rat": 1}}, "learning_rat"),
    ({"data": {"root": "x"}, "detector": {}}, "exactly one of model"),
    ({"data": {"root": "x", "pseudo_fakes": "faceswap"}, "detector": {"model": "m"}}, "pseudo_fakes"),
])
def test_bad_configuration_is_one_clear_line(tmp_path, capsys, doc, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    code, events, err = run(capsys, "--config", str(path))
    assert code == 2 and message in err and events == [{"event": "error", "message": err.strip()[15:]}]


def test_unknown_installed_model_is_refused_before_any_work(tmp_path, capsys, tiny_dataset, crop_cache):
    path = tiny_config(tmp_path, tiny_dataset, crop_cache)
    doc = json.loads(path.read_text())
    doc["detector"] = {"model": "no_such_model"}
    path.write_text(json.dumps(doc))
    code, events, err = run(capsys, "--config", str(path))
    assert code == 2 and "no installed model named 'no_such_model'" in err
    assert "start" not in [e["event"] for e in events]


def test_dfdesk_train_subcommand_runs_the_trainer(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="dfdesk")
    train_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--config", str(tmp_path / "absent.toml"), "--jsonl"])
    assert args.handler(args) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["event"] == "error" and "absent.toml does not exist" in err


def test_a_model_trained_under_an_installation_admin_is_registered_and_used(tmp_path, capsys, monkeypatch,
                                                                           tiny_dataset, crop_cache):
    """Once the installation has an admin, an unregistered user-folder model is ignored: `dfdesk train` registers
    what it installs under the admin's grant, so the trained model is listed (and so joins analyses)."""
    from dfdesk.services import installation
    from dfdesk.services.models import list_installed

    assert installation.adopt_first_admin("ada", "admin password", "setup")
    monkeypatch.setenv("DFDESK_PASSWORD", "admin password")
    parser = argparse.ArgumentParser(prog="dfdesk")
    train_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--config", str(tiny_config(tmp_path, tiny_dataset, crop_cache)), "--jsonl",
                              "--db", str(tmp_path / "cases.sqlite"), "--profile", "ada"])
    assert args.handler(args) == 0
    done = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert done["model"] in {card.name for card in list_installed()}
    assert (Path(done["model_dir"]) / "registration.json").is_file()
