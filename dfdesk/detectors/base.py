"""The detector contract: an ``nn.Module`` that maps face clips to a typed result.

A detector never reads files in its constructor and holds no loss or optimizer.
``forward(clip)`` takes ``(B, T, C, H, W)`` float tensors, already normalised as
the model card's input spec says, and returns :class:`DetectorOutput`.

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

    crop: str = "face"  # "face" | "mouth"
    size: int = 224
    margin: float = 0.3  # box dilation, fraction of the box side
    colour: str = "rgb"  # "rgb" | "gray"
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    frames_per_clip: int = 1  # T
    sampling: str = "uniform"  # default sampler: "uniform" | "random" | "clips"


def crops_to_tensor(crops, spec: InputSpec) -> torch.Tensor:
    """uint8 crops (T, H, W[, C]) -> float (T, C, H, W) scaled to [0, 1], then ``(x - mean) / std`` per channel.

    The one preprocessing step shared by analysis and training, so the two can never disagree.
    """
    x = torch.from_numpy(np.ascontiguousarray(np.stack(crops) if isinstance(crops, (list, tuple)) else crops))
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
