"""LipForensics (Haliassos et al. 2021) with a temporal-attention head.

Grayscale mouth crops (B, T, 1, 88, 88), T = 25:

* front end: Conv3d 1->64, kernel (5, 7, 7), stride (1, 2, 2) + BatchNorm3d + PReLU + MaxPool3d (1, 3, 3);
* a ResNet-18 trunk (torchvision, random init) on every frame, average-pooled to 512;
* a multi-scale temporal convolutional network: 4 blocks of 768 channels, each two rounds of
  three branches (256 channels, kernels 3 / 5 / 7, dilation 2^i, BatchNorm, PReLU), dropout 0.2,
  and a residual connection; padding is symmetric so that T is kept (non-causal);
* temporal attention: Linear(768->128) -> tanh -> Linear(128->1) -> softmax over time, then
  Linear(768->1) on the weighted sum of frame features.

Because the classifier is linear and the weights sum to 1, the clip logit equals the
attention-weighted sum of per-frame logits ``Linear(f_t)``; those are returned as
``frame_logits`` and the attention as ``temporal_weights`` (the timeline).
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18

from dfdesk.detectors.base import Detector, DetectorOutput, InputSpec
from dfdesk.detectors.registry import register_detector

KERNELS = (3, 5, 7)


class FrontEnd3D(nn.Module):
    """(B, 1, T, H, W) -> (B, 64, T, H/4, W/4)."""

    def __init__(self, out_ch: int = 64) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv3d(1, out_ch, (5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False),
            nn.BatchNorm3d(out_ch),
            nn.PReLU(out_ch),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ResNet18Trunk(nn.Module):
    """The four residual stages of ResNet-18 from 64 channels, global-average-pooled to 512."""

    def __init__(self) -> None:
        super().__init__()
        net = resnet18(weights=None)
        self.stages = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stages(x)).flatten(1)


def branch(in_ch: int, out_ch: int, kernel: int, dilation: int) -> nn.Sequential:
    """Conv1d with symmetric 'same' padding + BatchNorm + PReLU."""
    pad = (kernel - 1) * dilation // 2
    return nn.Sequential(
        nn.Conv1d(in_ch, out_ch, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm1d(out_ch),
        nn.PReLU(out_ch),
    )


class MultiBranchConv(nn.Module):
    """Three parallel temporal convolutions (kernels 3/5/7), concatenated."""

    def __init__(self, in_ch: int, branch_ch: int, dilation: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branch(in_ch, branch_ch, k, dilation) for k in KERNELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


class TemporalBlock(nn.Module):
    """Two multi-branch convolutions with dropout, a residual connection and a PReLU."""

    def __init__(self, in_ch: int, branch_ch: int, dilation: int, dropout: float) -> None:
        super().__init__()
        out_ch = branch_ch * len(KERNELS)
        self.body = nn.Sequential(
            MultiBranchConv(in_ch, branch_ch, dilation), nn.Dropout(dropout),
            MultiBranchConv(out_ch, branch_ch, dilation), nn.Dropout(dropout),
        )
        self.residual = nn.Conv1d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()
        self.act = nn.PReLU(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.residual(x))


class MultiScaleTCN(nn.Module):
    """(B, C, T) -> (B, 3 * branch_ch, T) through ``layers`` blocks with dilation 2^i."""

    def __init__(self, in_ch: int, branch_ch: int = 256, layers: int = 4, dropout: float = 0.2) -> None:
        super().__init__()
        out_ch = branch_ch * len(KERNELS)
        self.blocks = nn.Sequential(
            *(TemporalBlock(in_ch if i == 0 else out_ch, branch_ch, 2**i, dropout) for i in range(layers))
        )
        self.out_ch = out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class AttentionPool(nn.Module):
    """Softmax weights over time: Linear(C->hidden) -> tanh -> Linear(hidden->1)."""

    def __init__(self, ch: int, hidden: int = 128) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(ch, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> weights (B, T) summing to 1 over T."""
        return torch.softmax(self.score(features).squeeze(-1), dim=1)


@register_detector("lipforensics_ta")
class LipForensicsTA(Detector):
    # LipForensics (Haliassos et al. 2021): Adam 1e-4, batch 32
    training_defaults = {"optimizer": "adam", "learning_rate": 1e-4, "weight_decay": 0.0,
                         "batch_size": 32, "epochs": 30}
    backbone_prefixes = ("frontend.", "trunk.")

    frame_level = False
    output_kind = "sigmoid"
    default_fake_index = 0

    def __init__(self, tcn_branch_ch: int = 256, tcn_layers: int = 4, tcn_dropout: float = 0.2,
                 attention_hidden: int = 128) -> None:
        super().__init__()
        self.frontend = FrontEnd3D(64)
        self.trunk = ResNet18Trunk()
        self.tcn = MultiScaleTCN(512, tcn_branch_ch, tcn_layers, tcn_dropout)
        self.attention = AttentionPool(self.tcn.out_ch, attention_hidden)
        self.classifier = nn.Linear(self.tcn.out_ch, 1)

    @classmethod
    def default_input(cls) -> InputSpec:
        # LipForensics normalises grayscale mouths with mean 0.421, std 0.165
        return InputSpec(crop="mouth", size=88, margin=0.0, colour="gray", mean=(0.421,), std=(0.165,),
                         frames_per_clip=25, sampling="clips")

    @classmethod
    def small_options(cls) -> dict:
        return {"tcn_branch_ch": 8, "tcn_layers": 2, "attention_hidden": 8}

    @classmethod
    def small_input(cls) -> InputSpec:
        spec = cls.default_input()
        spec.size, spec.frames_per_clip = 32, 4
        return spec

    def frame_features(self, clip: torch.Tensor) -> torch.Tensor:
        """(B, T, 1, H, W) -> temporal features (B, T, 768)."""
        b, t = clip.shape[:2]
        x = self.frontend(clip.transpose(1, 2))  # (B, 64, T, h, w)
        x = self.trunk(x.transpose(1, 2).flatten(0, 1)).view(b, t, -1)  # (B, T, 512)
        return self.tcn(x.transpose(1, 2)).transpose(1, 2)

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        features = self.frame_features(clip)
        weights = self.attention(features)
        frame_logits = self.classifier(features)  # (B, T, 1)
        clip_logits = (weights.unsqueeze(-1) * frame_logits).sum(dim=1)
        return DetectorOutput(clip_logits=clip_logits, frame_logits=frame_logits, temporal_weights=weights)
