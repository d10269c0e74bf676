"""The training loop: exact resume, freezing, loss polarity, and the evaluation protocol (no face detection here)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dfdesk.detectors import build_detector, detector_class
from dfdesk.detectors.base import DetectorOutput
from dfdesk.detectors.cards import ModelCard
from trainer.augment import AugmentConfig
from trainer.clips import ClipSamples, FaceClip, build_samples
from trainer.config import TrainParams
from trainer.evaluate import Predictions, evaluate
from trainer.loop import Trainer, detector_loss, is_backbone

LANDMARKS = np.array([[90, 110], [166, 110], [128, 150], [100, 190], [156, 190]], float)


def face_clips(n: int, frames: int = 1, seed: int = 0) -> list[FaceClip]:
    rng = np.random.default_rng(seed)
    return [FaceClip(f"video{i}", 0, "train", rng.integers(0, 256, (frames, 256, 256, 3), dtype=np.uint8),
                     np.stack([LANDMARKS] * frames), tuple(range(frames))) for i in range(n)]


def meso_card() -> ModelCard:
    cls = detector_class("mesonet4")
    spec = cls.small_input()
    spec.frames_per_clip = 1
    return ModelCard(name="mesonet4", architecture="mesonet4", input=spec, output_kind="sigmoid", fake_index=0)


def make_trainer(model_seed: int, freeze: bool = False, epochs: int = 3) -> Trainer:
    torch.manual_seed(model_seed)
    clips = face_clips(3)
    card = meso_card()
    data = ClipSamples(clips, build_samples(clips, "video_blend"), card.input, pseudo_fakes="video_blend",
                       augment=AugmentConfig(), seed=7)
    params = TrainParams(optimizer="adam", learning_rate=1e-3, weight_decay=1e-4, batch_size=2, epochs=epochs,
                         grad_accumulation=2, freeze_backbone=freeze)
    return Trainer(build_detector("mesonet4"), card, data, params, device=torch.device("cpu"), seed=7)


def run_until(trainer: Trainer, steps: int) -> None:
    while trainer.state.step < steps and not trainer.finished:
        for _ in trainer.steps():
            if trainer.state.step >= steps:
                return


def test_resume_from_a_checkpoint_reproduces_straight_training(tmp_path):
    straight = make_trainer(model_seed=1)
    run_until(straight, 6)

    first = make_trainer(model_seed=1)
    run_until(first, 3)  # stops mid-epoch: 6 samples, batches of 2, 2 batches per step -> 2 steps per epoch
    assert first.state.batch_in_epoch == 2
    path = first.save(tmp_path / "last.pt")
    torch.manual_seed(999)  # the resumed process starts with another global RNG state and other weights
    resumed = make_trainer(model_seed=2)
    resumed.load(path)
    run_until(resumed, 6)

    assert resumed.state.step == straight.state.step == 6
    assert resumed.state.epoch == straight.state.epoch
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert straight.optimizer.state_dict()["state"][0]["step"] == resumed.optimizer.state_dict()["state"][0]["step"]
    assert straight.scheduler.get_last_lr() == resumed.scheduler.get_last_lr()


def test_training_changes_weights_and_a_differently_seeded_run_differs():
    a, b = make_trainer(model_seed=1, epochs=1), make_trainer(model_seed=1, epochs=1)
    before = {k: v.clone() for k, v in a.model.state_dict().items()}
    run_until(a, 2)
    b.seed = 8  # another batch order and other pseudo-fake draws
    b.data.seed = 8
    run_until(b, 2)
    changed = [k for k, v in a.model.state_dict().items() if not torch.equal(v, before[k])]
    assert "classifier.4.weight" in changed
    assert not torch.equal(a.model.state_dict()["classifier.4.weight"], b.model.state_dict()["classifier.4.weight"])


def test_frozen_backbone_keeps_its_weights_and_batchnorm_statistics():
    trainer = make_trainer(model_seed=1, freeze=True, epochs=1)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    run_until(trainer, 2)
    after = trainer.model.state_dict()
    backbone = [k for k in before if is_backbone("mesonet4", k)]
    assert backbone and all(torch.equal(before[k], after[k]) for k in backbone)  # incl. running_mean/var
    assert not torch.equal(before["classifier.4.weight"], after["classifier.4.weight"])


def test_loss_follows_the_card_polarity():
    """MesoNet's published weights output REAL near 1: a confident 'real' logit is a low loss for a real clip."""
    card = meso_card()
    confident_real = DetectorOutput(clip_logits=torch.full((1, 1), 6.0), frame_logits=torch.full((1, 1, 1), 6.0))
    card.sigmoid_means = "real"
    low = detector_loss("mesonet4", card, confident_real, torch.zeros(1), torch.tensor([0]), frame_level=True)
    card.sigmoid_means = "fake"
    high = detector_loss("mesonet4", card, confident_real, torch.zeros(1), torch.tensor([0]), frame_level=True)
    assert low < 0.01 < 5.0 < high


def test_softmax_detector_loss_is_cross_entropy_on_the_fake_index():
    card = ModelCard(name="x", architecture="sta_clip", output_kind="softmax", fake_index=1)
    output = DetectorOutput(clip_logits=torch.tensor([[0.0, 4.0], [4.0, 0.0]]))
    loss = detector_loss("sta_clip", card, output, torch.zeros(2), torch.tensor([1, 0]), frame_level=False)
    expected = torch.nn.functional.cross_entropy(output.clip_logits, torch.tensor([1, 0]))
    assert torch.isclose(loss, expected)


def predictions(scores: list[float], targets: list[int]) -> Predictions:
    videos = [f"v{i}" for i in range(len(scores))]
    t = np.asarray(targets)
    return Predictions(videos, t, np.asarray(scores, float), videos, t, None)


def test_threshold_and_calibration_come_from_validation_and_apply_to_test():
    val = predictions([-3, -2, -1, 1, 2, 3], [0, 0, 0, 1, 1, 1])
    # test scores are shifted: a threshold fitted on test would differ from the one chosen on validation
    test = predictions([2.0, 2.5, 2.9, 3.1, 4, 5], [0, 0, 0, 1, 1, 1])
    result = evaluate(val, test, calibration="platt", bootstrap=50, seed=0)
    metrics = result.metrics
    assert metrics["test_video_auc"] == 1.0 and metrics["val_video_auc"] == 1.0
    # validation threshold lies between its classes (in calibrated probability); test reals all score above it
    assert metrics["test_accuracy"] == pytest.approx(0.5)
    low, high = metrics["test_eer_ci"]
    assert low <= metrics["test_eer"] <= high
    assert result.calibration.method == "platt" and metrics["calibration"] == "platt"
    assert {"test_ap", "test_ece", "test_clip_auc", "threshold", "n_test_videos"} <= set(metrics)
