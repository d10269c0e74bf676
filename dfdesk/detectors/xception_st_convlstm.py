"""Xception + spatiotemporal attention + ConvLSTM (Chen, Li, Ding 2022).

The attention acts on the RGB clip before the CNN:

* spatial, per frame: a 1x1 conv gives a one-channel sigmoid mask ``m``; the mask-weighted
  average of the pixels is a 3-vector, transformed by conv 3->3, LayerNorm, ReLU, conv 3->3
  (a global-context block) into ``s`` (broadcast over the frame);
* temporal: 1x1 q/k/v convs, a softmax over the T x T frame-similarity matrix, the attended
  values and a 1x1 conv to one channel, squashed by a sigmoid, give a gate ``w``;
* output ``(x + s) * w + x``.

Each attended frame goes through the backbone (Xception to 7x7x2048, or EfficientNet-B0),
the frames in temporal order through a ConvLSTM (1024 channels, 3x3), its last hidden
state is averaged over space and classified by Dense 1024 -> Dense 512 -> 2 (softmax).
``spatial_maps`` are the masks ``m``; ``temporal_weights`` are the columns of the T x T
attention averaged over query frames (how much each frame is attended to; sums to 1).
"""
from __future__ import annotations

import math

import timm
import torch
from torch import nn

from dfdesk.detectors.base import Detector, DetectorOutput, InputSpec
from dfdesk.detectors.convlstm import ConvLSTM
from dfdesk.detectors.registry import register_detector

BACKBONES = {"xception": "legacy_xception", "efficientnet_b0": "efficientnet_b0",
             "test_efficientnet": "test_efficientnet"}  # the last: timm's tiny test network (tests only)


class SpatialAttention(nn.Module):
    """Sigmoid mask, mask-weighted pooling to a C-vector, conv-LayerNorm-ReLU-conv transform."""

    def __init__(self, ch: int = 3) -> None:
        super().__init__()
        self.mask = nn.Conv2d(ch, 1, 1)
        self.transform = nn.Sequential(
            nn.Conv2d(ch, ch, 1), nn.LayerNorm([ch, 1, 1]), nn.ReLU(), nn.Conv2d(ch, ch, 1)
        )

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, H, W) -> (context (N, C, 1, 1), mask (N, 1, H, W))."""
        mask = torch.sigmoid(self.mask(frames))
        pooled = (frames * mask).sum(dim=(2, 3), keepdim=True) / mask.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)
        return self.transform(pooled), mask


class TemporalAttention(nn.Module):
    """Self-attention across the T frames of a clip; returns a per-pixel gate and the T x T weights."""

    def __init__(self, ch: int = 3, qk_ch: int = 8) -> None:
        super().__init__()
        self.query, self.key = nn.Conv2d(ch, qk_ch, 1), nn.Conv2d(ch, qk_ch, 1)
        self.value = nn.Conv2d(ch, ch, 1)
        self.out = nn.Conv2d(ch, 1, 1)

    def forward(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, C, H, W) -> (gate (B, T, 1, H, W) in [0, 1], attention (B, T, T))."""
        b, t, c, h, w = clip.shape
        frames = clip.flatten(0, 1)
        q = self.query(frames).view(b, t, -1)
        k = self.key(frames).view(b, t, -1)
        v = self.value(frames).view(b, t, -1)
        attention = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1)
        attended = (attention @ v).view(b * t, c, h, w)
        gate = torch.sigmoid(self.out(attended)).view(b, t, 1, h, w)
        return gate, attention


@register_detector("xception_st_convlstm")
class XceptionSTConvLSTM(Detector):
    # Xception-ConvLSTM: Adam 1e-5
    training_defaults = {"optimizer": "adam", "learning_rate": 1e-5, "weight_decay": 0.0, "batch_size": 8, "epochs": 20}
    backbone_prefixes = ("backbone.",)

    frame_level = False
    output_kind = "softmax"
    default_fake_index = 1

    def __init__(
        self,
        backbone: str = "xception",
        lstm_ch: int = 1024,
        fc_dims: tuple[int, int] = (1024, 512),
        qk_ch: int = 8,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")
        self.spatial = SpatialAttention(3)
        self.temporal = TemporalAttention(3, qk_ch)
        self.backbone = timm.create_model(BACKBONES[backbone], pretrained=False, num_classes=0, global_pool="")
        self.convlstm = ConvLSTM(self.backbone.num_features, lstm_ch, 3)
        d1, d2 = fc_dims
        self.head = nn.Sequential(
            nn.Linear(lstm_ch, d1), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(d1, d2), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d2, 2),
        )

    @classmethod
    def default_input(cls) -> InputSpec:
        return InputSpec(crop="face", size=224, margin=0.3, colour="rgb", mean=(0.5, 0.5, 0.5),
                         std=(0.5, 0.5, 0.5), frames_per_clip=30, sampling="clips")

    @classmethod
    def small_options(cls) -> dict:
        return {"backbone": "test_efficientnet", "lstm_ch": 16, "fc_dims": (16, 8), "qk_ch": 2}

    @classmethod
    def small_input(cls) -> InputSpec:
        spec = cls.default_input()
        spec.size, spec.frames_per_clip = 64, 3
        return spec

    def attend(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attended clip (B, T, 3, H, W), spatial masks (B, T, H, W), T x T attention (B, T, T)."""
        b, t = clip.shape[:2]
        context, mask = self.spatial(clip.flatten(0, 1))
        gate, attention = self.temporal(clip)
        spatial = context.view(b, t, -1, 1, 1)
        return (clip + spatial) * gate + clip, mask.view(b, t, *mask.shape[-2:]), attention

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        b, t = clip.shape[:2]
        attended, masks, attention = self.attend(clip)
        features = self.backbone.forward_features(attended.flatten(0, 1))
        _, (h, _) = self.convlstm(features.view(b, t, *features.shape[1:]))
        logits = self.head(h.mean(dim=(2, 3)))
        return DetectorOutput(clip_logits=logits, spatial_maps=masks, temporal_weights=attention.mean(dim=1))
