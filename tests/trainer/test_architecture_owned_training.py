"""Everything the trainer knows about an architecture comes from its registered class: a new detector is one
file plus its registration, with no table in the trainer to update."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from dfdesk.detectors import registry
from dfdesk.detectors.base import Detector, DetectorOutput, InputSpec
from dfdesk.detectors.cards import ModelCard
from trainer.config import TrainParams, paper_defaults, resolve_train_params
from trainer.loop import detector_loss, freeze_backbone, freeze_early_stages

NAME = "tiny_test_detector"


class TinyDetector(Detector):
    """Two stages and a head, with its own defaults and its own loss."""

    training_defaults = {"optimizer": "sgd", "learning_rate": 0.5, "weight_decay": 0.25, "batch_size": 6, "epochs": 3}
    backbone_prefixes = ("stem.", "body.")
    stage_prefixes = (("stem.",), ("body.",))
    frame_level = False
    output_kind = "sigmoid"
    default_fake_index = 0

    def __init__(self):
        super().__init__()
        self.stem, self.body, self.head = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 1)

    @classmethod
    def default_input(cls) -> InputSpec:
        return InputSpec(size=2)

    @classmethod
    def training_loss(cls, output, clip, targets):
        return output.clip_logits.sum() * 0 + 7.0  # a recognisable constant through the graph

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        return DetectorOutput(clip_logits=self.head(self.body(self.stem(clip))).squeeze(-1))


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, NAME, TinyDetector)
    monkeypatch.setattr(TinyDetector, "name", NAME)
    return TinyDetector()


def test_defaults_come_from_the_class(tiny):
    assert paper_defaults(NAME) == TinyDetector.training_defaults
    params = resolve_train_params(TrainParams(learning_rate=0.1), NAME)
    assert (params.optimizer, params.learning_rate, params.batch_size, params.epochs) == ("sgd", 0.1, 6, 3)


def test_backbone_and_stages_come_from_the_class(tiny):
    assert freeze_backbone(tiny, NAME) == 2 * (16 + 4)
    assert [n for n, p in tiny.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    fresh = TinyDetector()
    assert freeze_early_stages(fresh, NAME, 1) == 16 + 4
    assert not fresh.stem.weight.requires_grad and fresh.body.weight.requires_grad
    with pytest.raises(ValueError, match="2 freezable stages"):
        freeze_early_stages(TinyDetector(), NAME, 3)


def test_the_class_loss_replaces_the_default(tiny):
    card = ModelCard(name="tiny", architecture=NAME, output_kind="sigmoid", fake_index=0)
    output = tiny(torch.zeros(2, 4))
    loss = detector_loss(NAME, card, output, torch.zeros(2, 4), torch.tensor([1, 0]), frame_level=False)
    assert loss.item() == 7.0


def test_shipped_architectures_keep_their_published_settings():
    assert paper_defaults("sbi_effnet_lite")["optimizer"] == "sgd"
    assert registry.detector_class("sta_clip").is_backbone_parameter("blocks.0.attn.qkv.weight")
    assert not registry.detector_class("sta_clip").is_backbone_parameter("blocks.0.adapter.down.weight")
    assert len(registry.detector_class("sbi_effnet_lite").stage_prefixes) == 8
