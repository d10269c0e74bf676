"""DDP for real: `torchrun --nproc_per_node=2 -m trainer.cli` with gloo on CPU, against one process.

The two runs share the seed, the data order and the global batch (3, split 2 + 1 between the ranks, and a last
batch of 1 that leaves rank 1 with nothing), so the weighted gradient average of DDP must give the parameters of
the single process.  The model is Meso-4 from random weights with dropout 0 and a frozen backbone (BatchNorm in
eval mode): then every sample's loss depends on that sample alone, which is what the equality needs (per-rank
training-mode BatchNorm statistics or dropout masks would differ from those of one process; see docs/TRAINER.md).

The validation fake is a copy of the validation real video: the validation AUC is 0.5 every epoch, so early
stopping (patience 1) ends the run after the second of three epochs; a rank that missed rank 0's decision would
wait in the next all-reduce for ever.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dfdesk import paths
from tests.fixtures.clips import face_frame, write_clip

ROOT = Path(__file__).resolve().parents[2]
N_FRAMES = 8
TIMEOUT_S = 300


def distinct_clip(path: Path, k: int, fake: bool) -> Path:
    """The fixture face, a little brighter for every ``k``; fakes get a colour-shifted, blurred inner region."""
    import cv2

    frames = []
    for i in range(N_FRAMES):
        frame = np.clip(face_frame(320, 240, i, 200 + 40 * k).astype(np.int16) + 6 * k, 0, 255).astype(np.uint8)
        if fake:
            inner = frame[80:160, 20:100].astype(np.int16) + (30, -20, 10)
            frame[80:160, 20:100] = cv2.GaussianBlur(np.clip(inner, 0, 255).astype(np.uint8), (9, 9), 0)
        frames.append(frame)
    return write_clip(path, frames)


def build_tree(root: Path) -> Path:
    """train: 4 real + 3 fake videos (7 clips); val: one real video and an identical "fake"; test: 1 + 1."""
    for split, reals, fakes in (("train", 4, 3), ("val", 1, 0), ("test", 1, 1)):
        for label in ("real", "fake"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
        for k in range(reals):
            distinct_clip(root / split / "real" / f"{split}{k}.mp4", k, fake=False)
        for k in range(fakes):
            distinct_clip(root / split / "fake" / f"{split}{k}.mp4", k + 4, fake=True)
    shutil.copy(root / "val" / "real" / "val0.mp4", root / "val" / "fake" / "val0.mp4")
    return root


def write_config(folder: Path, data: Path, cache: Path, *, install: bool) -> Path:
    config = {
        "seed": 0, "device": "cpu", "checkpoint_dir": str(folder / "run"), "cache_dir": str(cache),
        "install": install,
        "data": {"kind": "folders", "root": str(data), "max_clips_per_video": 1},
        "detector": {"architecture": "mesonet4", "options": {"dropout": 0.0}, "input": {"frames_per_clip": 2}},
        "train": {"epochs": 3, "batch_size": 3, "optimizer": "sgd", "learning_rate": 0.05, "scheduler": "constant",
                  "freeze_backbone": True, "early_stopping_patience": 1},
        "eval": {"bootstrap": 10},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.json"
    path.write_text(json.dumps(config))
    return path


def launch(args: list[str], userdata: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", paths.DATA_DIR_ENV: str(userdata)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("ddp")
    data, cache, userdata = build_tree(base / "data"), base / "cache", base / "userdata"
    ddp = launch(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "trainer.cli",
                  "--config", str(write_config(base / "ddp", data, cache, install=True)), "--jsonl"], userdata)
    single = launch(["-m", "trainer.cli", "--config", str(write_config(base / "single", data, cache, install=False)),
                     "--jsonl"], userdata)
    return {"base": base, "ddp": ddp, "single": single, "models": userdata / "models"}


def events(result: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def final_weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "run" / "last.pt", weights_only=True)["model"]


def test_two_gloo_ranks_finish_and_only_rank_0_installs(runs):
    ddp = runs["ddp"]
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    installed = [p for p in runs["models"].iterdir() if not p.name.startswith(".")]
    assert len(installed) == 1 and installed[0].name.startswith("mesonet4-ft-")


def test_only_rank_0_prints_json_lines(runs):
    ddp = events(runs["ddp"])  # every stdout line parses: nothing interleaved from rank 1
    kinds = [e["event"] for e in ddp]
    assert kinds.count("dataset") == 1 and kinds.count("start") == 1 and kinds.count("done") == 1
    assert next(e for e in ddp if e["event"] == "start")["world_size"] == 2
    assert [e["step"] for e in ddp if e["event"] == "step"] == [1, 2, 3, 4, 5, 6]
    assert kinds[-1] == "done" and ddp[-1]["model"].startswith("mesonet4-ft-")


def test_early_stopping_ends_every_rank_after_the_second_epoch(runs):
    epochs = [e for e in events(runs["ddp"]) if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert [e["metrics"]["val_video_auc"] for e in epochs] == [0.5, 0.5]


def test_two_ranks_match_one_process_with_the_same_global_batch(runs):
    single = runs["single"]
    assert single.returncode == 0, single.stderr[-3000:]
    one = [e["loss"] for e in events(single) if e["event"] == "step"]
    two = [e["loss"] for e in events(runs["ddp"]) if e["event"] == "step"]
    assert len(one) == len(two) == 6
    np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-7)  # the global batch's mean loss, step by step
    a, b = final_weights(runs["base"] / "ddp"), final_weights(runs["base"] / "single")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)
    assert not torch.equal(a["classifier.1.weight"], torch.zeros_like(a["classifier.1.weight"]))
