"""The detector contract: an ``nn.Module`` that maps face clips to a typed result.

A detector never reads files in its constructor and holds no loss or optimizer.
``forward(clip)`` takes ``(B, T, C, H, W)`` float tensors, already normalised as
the model card's input spec says, and returns :class:`DetectorOutput`.  Detectors of
landmark sequences (crop kind ``"landmarks"``) take ``(B, T, 136)`` instead: 68 (x, y)
points per frame, already normalised by :func:`dfdesk.core.landmark_calibration.normalise_landmarks`.

Logits are *native*: ``K = 1`` for a single sigmoid output, ``K = 2`` for a
softmax pair.  Which output means "fake" is recorded in the model card, and
:func:`dfdesk.detectors.cards.fake_logit` turns native logits into a logit of
P(fake), so the rest of the app never sees a model's polarity.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn


@dataclass
class InputSpec:
    """Preprocessing that a detector expects; the defaults of a model card's [input] table."""

    crop: str = "face"  # "face" | "mouth" | "landmarks" (68 normalised points a frame; size, colour, mean, std unused)
    size: int = 224
    margin: float = 0.3  # box dilation, fraction of the box side
    colour: str = "rgb"  # "rgb" | "gray"
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    frames_per_clip: int = 1  # T
    sampling: str = "uniform"  # default sampler: "uniform" | "random" | "clips"


LANDMARK_FEATURES = 136  # 68 points x (x, y): one frame of a "landmarks" crop, flattened


def clip_shape(spec: InputSpec) -> tuple[int, ...]:
    """Shape of one clip as ``forward`` takes it (batch axis excluded): (T, 136) or (T, C, H, W)."""
    if spec.crop == "landmarks":
        return (spec.frames_per_clip, LANDMARK_FEATURES)
    return (spec.frames_per_clip, len(spec.mean), spec.size, spec.size)


def crops_to_tensor(crops, spec: InputSpec) -> torch.Tensor:
    """Crops of one clip -> the float tensor a detector takes.

    Image crops: uint8 (T, H, W[, C]) -> float (T, C, H, W) scaled to [0, 1], then ``(x - mean) / std`` per channel.
    Landmark crops (``spec.crop == "landmarks"``): float (T, 68, 2) points, already normalised, -> float (T, 136),
    x and y interleaved per point as LRNet reads them.
    The one preprocessing step shared by analysis and training, so the two can never disagree.
    """
    x = torch.from_numpy(np.ascontiguousarray(np.stack(crops) if isinstance(crops, (list, tuple)) else crops))
    if spec.crop == "landmarks":
        if tuple(x.shape[1:]) != (LANDMARK_FEATURES // 2, 2):
            raise ValueError(f"landmark crops are (T, 68, 2) points; got {tuple(x.shape)}")
        return x.float().reshape(x.shape[0], LANDMARK_FEATURES)
    x = x.float().div_(255.0)
    x = x.unsqueeze(-1) if x.ndim == 3 else x
    x = x.permute(0, 3, 1, 2)
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x - mean) / std


def normalise_maps(maps: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Min-max normalise each (h, w) map of a (B, T, h, w) tensor to [0, 1] (DetectorOutput.spatial_maps)."""
    low = maps.amin(dim=(2, 3), keepdim=True)
    high = maps.amax(dim=(2, 3), keepdim=True)
    return (maps - low) / (high - low).clamp_min(eps)


@dataclass
class DetectorOutput:
    clip_logits: torch.Tensor  # (B, K)
    frame_logits: torch.Tensor | None = None  # (B, T, K) where the architecture scores frames
    spatial_maps: torch.Tensor | None = None  # (B, T, h, w), values in [0, 1]
    temporal_weights: torch.Tensor | None = None  # (B, T); sums to 1 over T when a softmax
    extras: dict[str, torch.Tensor] = field(default_factory=dict)  # training-only tensors


class Detector(nn.Module):
    """Base class of every registered architecture."""

    #: registry name, set by :func:`dfdesk.detectors.registry.register_detector`
    name: ClassVar[str] = ""
    #: True when every frame is scored independently (T may be 1)
    frame_level: ClassVar[bool] = False
    #: native output: "sigmoid" (K=1) or "softmax" (K=2)
    output_kind: ClassVar[str] = "softmax"
    #: default index of the "fake" output for softmax detectors
    default_fake_index: ClassVar[int] = 1
    #: the trainer's defaults where a config leaves them out (the architecture's paper; see each class)
    training_defaults: ClassVar[dict[str, Any]] = {"optimizer": "adam", "learning_rate": 1e-4, "weight_decay": 0.0,
                                                   "batch_size": 16, "epochs": 10}
    #: parameter-name prefixes of the pretrained backbone (what ``[train] freeze_backbone`` freezes)
    backbone_prefixes: ClassVar[tuple[str, ...]] = ()
    #: parameter-name prefixes of the stages ``[train] freeze_stages`` freezes from the input side (0: the stem)
    stage_prefixes: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @classmethod
    def is_backbone_parameter(cls, name: str) -> bool:
        """True for a parameter (or module, with a trailing dot) of the pretrained backbone."""
        return bool(cls.backbone_prefixes) and name.startswith(cls.backbone_prefixes)

    @classmethod
    def training_loss(cls, output: DetectorOutput, clip: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
        """The architecture's own training objective, or None for the trainer's BCE on the logit of P(fake)."""
        return None

    @classmethod
    def default_input(cls) -> InputSpec:
        raise NotImplementedError

    @classmethod
    def small_options(cls) -> dict[str, Any]:
        """Constructor options of a tiny configuration that runs fast on a CPU (tests)."""
        return {}

    @classmethod
    def small_input(cls) -> InputSpec:
        """Input spec matching :meth:`small_options` (tests)."""
        return cls.default_input()

    def forward(self, clip: torch.Tensor) -> DetectorOutput:  # pragma: no cover - abstract
        raise NotImplementedError
