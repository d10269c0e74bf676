"""MesoNet (Afchar, Nozick, Yamagishi, Echizen 2018): Meso-4 and MesoInception-4.

Layer for layer the Keras originals (DariusAf/MesoNet, ``classifiers.py``): Keras ``'same'``
padding, BatchNorm with Keras' epsilon 1e-3, the same pool sizes, Dropout 0.5, LeakyReLU 0.1
after the hidden Dense layer, a single sigmoid output, and the Keras channels-last flatten
order so that converted Dense weights line up.  The sigmoid means REAL near 1 in the
published weights; the model card records that polarity.

Frame-level: each frame of a (B, T, 3, 256, 256) clip in [0, 1] is scored on its own.
The clip logit pools the frame logits: ``"logit_mean"`` (default) averages the logits;
``"prob_mean"`` returns the logit of the mean frame probability (the MesoNet authors'
video protocol, which averages per-frame scores).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dfdesk.detectors.base import Detector, DetectorOutput, InputSpec
from dfdesk.detectors.registry import register_detector

KERAS_BN_EPS = 1e-3
KERAS_BN_MOMENTUM = 0.01  # Keras momentum 0.99 in PyTorch's convention
CLIP_POOLS = ("logit_mean", "prob_mean")
HIDDEN_ACTIVATIONS = ("leaky_relu", "linear")


class KerasMaxPool(nn.Module):
    """MaxPooling2D(pool_size=k, strides=k, padding='same'): pads with -inf, extra padding after."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = _same_pad(h, self.k), _same_pad(w, self.k)
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=-math.inf)
        return F.max_pool2d(x, self.k, self.k)


def _same_pad(n: int, k: int) -> int:
    return max((math.ceil(n / k) - 1) * k + k - n, 0)


def conv_relu(in_ch: int, out_ch: int, k: int, dilation: int = 1) -> nn.Sequential:
    """Conv2D(padding='same', activation='relu') for odd kernels at stride 1."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, k, padding=dilation * (k // 2), dilation=dilation), nn.ReLU())


def keras_bn(ch: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM)


class InceptionLayer(nn.Module):
    """MesoInception block: 1x1 | 1x1->3x3 | 1x1->3x3 dil 2 | 1x1->3x3 dil 3, concatenated."""

    def __init__(self, in_ch: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()
        self.branch1 = conv_relu(in_ch, a, 1)
        self.branch2 = nn.Sequential(conv_relu(in_ch, b, 1), conv_relu(b, b, 3))
        self.branch3 = nn.Sequential(conv_relu(in_ch, c, 1), conv_relu(c, c, 3, dilation=2))
        self.branch4 = nn.Sequential(conv_relu(in_ch, d, 1), conv_relu(d, d, 3, dilation=3))
        self.out_ch = a + b + c + d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class _MesoBase(Detector):
    # MesoNet (Afchar et al. 2018): Adam 1e-3, batch 75 in the paper; fine-tuning published weights uses 1e-4
    training_defaults = {"optimizer": "adam", "learning_rate": 1e-4, "weight_decay": 0.0,
                         "batch_size": 32, "epochs": 10}
    backbone_prefixes = ("features.",)

    frame_level = True
    output_kind = "sigmoid"
    default_fake_index = 0

    def __init__(self, clip_pool: str = "logit_mean", hidden_activation: str = "leaky_relu", dropout: float = 0.5):
        super().__init__()
        if clip_pool not in CLIP_POOLS:
            raise ValueError(f"clip_pool must be one of {CLIP_POOLS}, got {clip_pool!r}")
        if hidden_activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"hidden_activation must be one of {HIDDEN_ACTIVATIONS}, got {hidden_activation!r}")
        self.clip_pool = clip_pool
        self.features = self._features()
        act = nn.LeakyReLU(0.1) if hidden_activation == "leaky_relu" else nn.Identity()
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(16 * 8 * 8, 16), act, nn.Dropout(dropout), nn.Linear(16, 1)
        )

    def _features(self) -> nn.Sequential:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def default_input(cls) -> InputSpec:
        return InputSpec(crop="face", size=256, margin=0.3, colour="rgb", mean=(0.0, 0.0, 0.0),
                         std=(1.0, 1.0, 1.0), frames_per_clip=16, sampling="uniform")

    @classmethod
    def small_input(cls) -> InputSpec:
        spec = cls.default_input()
        spec.frames_per_clip = 2
        return spec

    def frame_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, 256, 256) -> (N, 1) native logits (sigmoid near 1 = real for the published weights)."""
        x = self.features(frames)
        x = x.permute(0, 2, 3, 1).flatten(1)  # Keras flattens channels-last
        return self.classifier(x)

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        b, t = clip.shape[:2]
        frames = self.frame_logits(clip.flatten(0, 1)).view(b, t, 1)
        return DetectorOutput(clip_logits=pool_frame_logits(frames, self.clip_pool), frame_logits=frames)


def pool_frame_logits(frames: torch.Tensor, how: str) -> torch.Tensor:
    """(B, T, 1) sigmoid logits -> (B, 1): mean logit, or the logit of the mean probability."""
    if how == "logit_mean":
        return frames.mean(dim=1)
    return torch.logsumexp(F.logsigmoid(frames), dim=1) - torch.logsumexp(F.logsigmoid(-frames), dim=1)


@register_detector("mesonet4")
class Meso4(_MesoBase):
    """Meso-4: four conv blocks (8, 8, 16, 16 filters), pools 2, 2, 2, 4 -> 8x8x16."""

    def _features(self) -> nn.Sequential:
        return nn.Sequential(
            conv_relu(3, 8, 3), keras_bn(8), KerasMaxPool(2),
            conv_relu(8, 8, 5), keras_bn(8), KerasMaxPool(2),
            conv_relu(8, 16, 5), keras_bn(16), KerasMaxPool(2),
            conv_relu(16, 16, 5), keras_bn(16), KerasMaxPool(4),
        )


@register_detector("mesoinception4")
class MesoInception4(_MesoBase):
    """MesoInception-4: two inception blocks (1,4,4,2) and (2,4,4,2), then two 5x5 conv blocks."""

    def _features(self) -> nn.Sequential:
        first, second = InceptionLayer(3, 1, 4, 4, 2), InceptionLayer(11, 2, 4, 4, 2)
        return nn.Sequential(
            first, keras_bn(11), KerasMaxPool(2),
            second, keras_bn(12), KerasMaxPool(2),
            conv_relu(12, 16, 5), keras_bn(16), KerasMaxPool(2),
            conv_relu(16, 16, 5), keras_bn(16), KerasMaxPool(4),
        )

