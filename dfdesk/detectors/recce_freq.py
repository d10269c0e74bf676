"""A frame-level attention network derived from RECCE (Cao et al., CVPR 2022), with a frequency branch.

Per frame (299x299 RGB in [-1, 1]):

* Xception entry flow (conv1 .. block4) gives mid-level features (728 channels, stride 16).
* RECCE's decoder reconstructs the face from them: upsample x2, separable conv 728->256, Xception block,
  upsample, 256->128, block, upsample, 128->64, 1x1 conv -> 3, tanh, resized to the input.
* Frequency branch: a 2D DFT of the mid-level features, multiplied by a *learnable* complex filter
  (one per channel, as GFNet's global filter), inverse DFT, 1x1 conv + BN + ReLU.
* The RGB path (block5 .. block7) passes four stacked cross-modality fusion blocks (queries from RGB,
  keys/values from the frequency branch, 1x1 convs, spatial attention, 3x3 conv, residual), then block8.
* RECCE's guided attention: a gated conv turns |x - reconstruction| into a sigmoid mask M and the features
  become ``M * h(f) + dropout(f)``; M is the detector's heat map (``spatial_maps``).
* Xception exit flow, global average pooling, dropout 0.2, Linear(2048 -> 2) (softmax, index 1 = fake).

Every frame is scored on its own (``frame_logits``); the clip logits are their mean.  Training uses
:func:`recce_losses` with the reconstruction and embeddings in ``extras``.
"""
from __future__ import annotations

import importlib
import math
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn

from dfdesk.detectors.base import Detector, DetectorOutput, InputSpec
from dfdesk.detectors.registry import register_detector

_xception = importlib.import_module("timm.models.xception")  # timm.models.xception is shadowed by a function
XceptionBlock, SeparableConv2d = _xception.Block, _xception.SeparableConv2d

ENTRY = ("conv1", "bn1", "act1", "conv2", "bn2", "act2", "block1", "block2", "block3", "block4")
MIDDLE = ("block5", "block6", "block7")
EXIT = ("block9", "block10", "block11", "block12", "conv3", "bn3", "act3", "conv4", "bn4", "act4")


def run_stage(encoder: nn.Module, names: tuple[str, ...], x: torch.Tensor) -> torch.Tensor:
    for name in names:
        x = getattr(encoder, name)(x)
    return x


class NarrowXception(nn.Module):
    """Xception's layout and module names (conv1 .. act4, block1 .. block12) at small widths (tests)."""

    def __init__(self, stem: tuple[int, int] = (8, 16), entry: tuple[int, int] = (16, 24), mid: int = 32,
                 exit_ch: tuple[int, int, int] = (48, 64, 64)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem[0], 3, 2, bias=False)
        self.bn1, self.act1 = nn.BatchNorm2d(stem[0]), nn.ReLU()
        self.conv2 = nn.Conv2d(stem[0], stem[1], 3, bias=False)
        self.bn2, self.act2 = nn.BatchNorm2d(stem[1]), nn.ReLU()
        self.block1 = XceptionBlock(stem[1], entry[0], 1, 2, start_with_relu=False)
        self.block2 = XceptionBlock(entry[0], entry[1], 1, 2)
        self.block3 = XceptionBlock(entry[1], mid, 1, 2)
        for i in range(4, 12):
            setattr(self, f"block{i}", XceptionBlock(mid, mid, 1, 1))
        self.block12 = XceptionBlock(mid, exit_ch[0], 2, 2, grow_first=False)
        self.conv3 = SeparableConv2d(exit_ch[0], exit_ch[1], 3, 1, 1)
        self.bn3, self.act3 = nn.BatchNorm2d(exit_ch[1]), nn.ReLU()
        self.conv4 = SeparableConv2d(exit_ch[1], exit_ch[2], 3, 1, 1)
        self.bn4, self.act4 = nn.BatchNorm2d(exit_ch[2]), nn.ReLU()
        self.mid_channels, self.num_features = mid, exit_ch[2]


def build_encoder(name: str) -> tuple[nn.Module, int]:
    """The Xception encoder and its mid-level (block4) channel count."""
    if name == "narrow":
        encoder = NarrowXception()
        return encoder, encoder.mid_channels
    return timm.create_model(name, pretrained=False, num_classes=0), 728


def up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """RECCE's decoder step: nearest upsample x2, separable 3x3 conv, BN, ReLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), SeparableConv2d(in_ch, out_ch, 3, 1, 1),
                         nn.BatchNorm2d(out_ch), nn.ReLU())


class Decoder(nn.Module):
    """Reconstructs the face from mid-level features; also returns its two intermediate maps."""

    def __init__(self, in_ch: int, channels: tuple[int, int, int] = (256, 128, 64), drop_rate: float = 0.2) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.dropout = nn.Dropout(drop_rate)
        self.up1, self.block1 = up_block(in_ch, c1), XceptionBlock(c1, c1, 3, 1)
        self.up2, self.block2 = up_block(c1, c2), XceptionBlock(c2, c2, 3, 1)
        self.up3 = up_block(c2, c3)
        self.to_rgb = nn.Sequential(nn.Conv2d(c3, 3, 1, bias=False), nn.Tanh())

    def forward(self, mid: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d1 = self.block1(self.up1(self.dropout(mid)))
        d2 = self.block2(self.up2(d1))
        rgb = self.to_rgb(self.up3(d2))
        return F.interpolate(rgb, size=size, mode="bilinear", align_corners=True), d1, d2


def dft_matrices(n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the n-point DFT angles 2*pi*k*m/n, as (n, n) matrices."""
    k = torch.arange(n, device=like.device)
    angle = (torch.outer(k, k) % n).to(like.dtype) * (2 * math.pi / n)
    return torch.cos(angle), torch.sin(angle)


class SpectralFilter(nn.Module):
    """Learnable complex filter in the 2D DFT domain: ``x -> Re(IDFT(DFT(x) * K))``, K per channel.

    The DFTs are products with DFT matrices (exactly ``torch.fft.fft2`` in value) so that both ONNX
    exporters handle them; K (``filter_size`` square) is resized bilinearly for other feature sizes.
    """

    def __init__(self, channels: int, filter_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(0.02 * torch.randn(channels, filter_size, filter_size, 2))

    def complex_filter(self, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.weight.permute(3, 0, 1, 2)  # (2, C, s, s)
        if k.shape[-2:] != (h, w):
            k = F.interpolate(k, size=(h, w), mode="bilinear", align_corners=True)
        return k[0], k[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ch, sh = dft_matrices(h, x)
        cw, sw = dft_matrices(w, x)
        zr, zi = x @ cw, -(x @ sw)  # DFT along W
        xr, xi = ch @ zr + sh @ zi, ch @ zi - sh @ zr  # DFT along H
        kr, ki = self.complex_filter(h, w)
        yr, yi = xr * kr - xi * ki, xr * ki + xi * kr
        ur, ui = ch @ yr - sh @ yi, ch @ yi + sh @ yr  # inverse along H
        return (ur @ cw - ui @ sw) / (h * w)  # real part of the inverse along W


class FrequencyBranch(nn.Module):
    def __init__(self, channels: int, filter_size: int) -> None:
        super().__init__()
        self.filter = SpectralFilter(channels, filter_size)
        self.project = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.filter(x))


class CrossModalityFusion(nn.Module):
    """Queries from RGB, keys/values from frequency features (1x1 convs), attention over positions,
    3x3 conv + BN back to the RGB width, residual."""

    def __init__(self, channels: int, key_ch: int, value_ch: int) -> None:
        super().__init__()
        self.query = nn.Conv2d(channels, key_ch, 1)
        self.key = nn.Conv2d(channels, key_ch, 1)
        self.value = nn.Conv2d(channels, value_ch, 1)
        self.out = nn.Sequential(nn.Conv2d(value_ch, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, rgb: torch.Tensor, freq: torch.Tensor) -> torch.Tensor:
        b, _, h, w = rgb.shape
        q = self.query(rgb).flatten(2).transpose(1, 2)  # (B, hw, k)
        k = self.key(freq).flatten(2)  # (B, k, hw)
        v = self.value(freq).flatten(2).transpose(1, 2)  # (B, hw, v)
        attention = torch.softmax(q @ k / math.sqrt(k.shape[1]), dim=-1)
        fused = (attention @ v).transpose(1, 2).reshape(b, -1, h, w)
        return rgb + self.out(fused)


class GuidedAttention(nn.Module):
    """RECCE's guided attention: mask from the reconstruction residual gates the features."""

    def __init__(self, channels: int, drop_rate: float = 0.2) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.Conv2d(3, 3, 3, 1, 1, bias=False), nn.ReLU(),
                                  nn.Conv2d(3, 1, 1, bias=False), nn.Sigmoid())
        self.h = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
        self.dropout = nn.Dropout(drop_rate)

    def forward(
        self, x: torch.Tensor, recon: torch.Tensor, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        residual = F.interpolate((x - recon).abs(), size=features.shape[-2:], mode="bilinear", align_corners=True)
        mask = self.gate(residual)
        return mask * self.h(features) + self.dropout(features), mask


def normalised_embedding(x: torch.Tensor) -> torch.Tensor:
    """Global-average-pooled, L2-normalised features (N, C)."""
    return F.normalize(x.mean(dim=(2, 3)), dim=1)


@register_detector("recce_freq")
class RecceFreq(Detector):
    """RECCE reconstruction + guided attention, with a learnable-filter frequency branch fused into the RGB path."""

    # RECCE (Cao et al. 2022): Adam 2e-4, weight decay 1e-5
    training_defaults = {"optimizer": "adam", "learning_rate": 2e-4, "weight_decay": 1e-5,
                         "batch_size": 32, "epochs": 20}
    backbone_prefixes = ("encoder.",)

    frame_level = True
    output_kind = "softmax"
    default_fake_index = 1

    @classmethod
    def training_loss(cls, output: DetectorOutput, clip: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """RECCE's own objective (:func:`recce_losses`)."""
        return recce_losses(output, clip, targets)["total"]

    def __init__(
        self,
        backbone: str = "legacy_xception",
        decoder_ch: tuple[int, int, int] = (256, 128, 64),
        filter_size: int = 19,
        fusion_blocks: int = 4,
        key_ch: int = 64,
        value_ch: int = 256,
        drop_rate: float = 0.2,
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        self.encoder, mid = build_encoder(backbone)
        self.decoder = Decoder(mid, tuple(decoder_ch), drop_rate)
        self.frequency = FrequencyBranch(mid, filter_size)
        self.fusion = nn.ModuleList(CrossModalityFusion(mid, key_ch, value_ch) for _ in range(fusion_blocks))
        self.attention = GuidedAttention(mid, drop_rate)
        self.dropout = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.encoder.num_features, num_classes)

    @classmethod
    def default_input(cls) -> InputSpec:
        return InputSpec(crop="face", size=299, margin=0.3, colour="rgb", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                         frames_per_clip=1, sampling="uniform")

    @classmethod
    def small_options(cls) -> dict[str, Any]:
        return {"backbone": "narrow", "decoder_ch": (16, 8, 8), "filter_size": 4, "key_ch": 8, "value_ch": 16}

    @classmethod
    def small_input(cls) -> InputSpec:
        spec = cls.default_input()
        spec.size, spec.frames_per_clip = 64, 2
        return spec

    def score_frames(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run frames (N, 3, H, W); returns logits, mask, reconstruction and embeddings by name."""
        mid = run_stage(self.encoder, ENTRY, x)
        recon, d1, d2 = self.decoder(mid, x.shape[-2:])
        rgb, freq = run_stage(self.encoder, MIDDLE, mid), self.frequency(mid)
        for block in self.fusion:
            rgb = block(rgb, freq)
        features, mask = self.attention(x, recon, self.encoder.block8(rgb))
        pooled = run_stage(self.encoder, EXIT, features).mean(dim=(2, 3))
        return {"logits": self.fc(self.dropout(pooled)), "mask": mask[:, 0], "reconstruction": recon,
                "embedding": normalised_embedding(mid), "embedding_dec1": normalised_embedding(d1),
                "embedding_dec2": normalised_embedding(d2)}

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        b, t = clip.shape[:2]
        out = {k: v.view(b, t, *v.shape[1:]) for k, v in self.score_frames(clip.flatten(0, 1)).items()}
        extras = {k: out[k] for k in ("reconstruction", "embedding", "embedding_dec1", "embedding_dec2")}
        return DetectorOutput(clip_logits=out["logits"].mean(dim=1), frame_logits=out["logits"],
                              spatial_maps=out["mask"], extras=extras)


RECONSTRUCTION_WEIGHT = 0.1
METRIC_WEIGHT = 0.1


def metric_loss(embeddings: torch.Tensor, fake: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """RECCE's metric-learning loss on L2-normalised embeddings (N, D) with labels (N,), 1 = fake.

    Similarity is ``(cos + 1) / 2``; the loss ``max(0, 1 - mean sim(real, real) + mean sim(real, fake))``
    (pairs of distinct samples) pulls real faces together and pushes fakes away from them.
    """
    fake = fake.bool()
    similarity = (embeddings @ embeddings.T + 1) / 2
    eye = torch.eye(len(fake), dtype=torch.bool, device=fake.device)
    both_real = ~(fake[:, None] | fake[None, :] | eye)
    differ = fake[:, None] ^ fake[None, :]
    mean_real = (similarity * both_real).sum() / (both_real.sum() + eps)
    mean_differ = (similarity * differ).sum() / (differ.sum() + eps)
    return torch.relu(1 - mean_real + mean_differ)


def recce_losses(output: DetectorOutput, clip: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """RECCE's training objective for one batch; ``labels`` (B,) with 1 = fake, each frame takes its clip's label.

    ``total = cross-entropy + 0.1 * L1(reconstruction, input) on real frames + 0.1 * metric loss``,
    the metric loss summed over the encoder embedding and the two decoder embeddings.
    """
    b, t = clip.shape[:2]
    frame_labels = labels.long().repeat_interleave(t)
    ce = F.cross_entropy(output.frame_logits.flatten(0, 1), frame_labels)
    real = frame_labels == 0
    recon = output.extras["reconstruction"].flatten(0, 1)
    reconstruction = (recon[real] - clip.flatten(0, 1)[real]).abs().mean() if real.any() else ce.new_zeros(())
    metric = sum(metric_loss(output.extras[k].flatten(0, 1), frame_labels)
                 for k in ("embedding", "embedding_dec1", "embedding_dec2"))
    total = ce + RECONSTRUCTION_WEIGHT * reconstruction + METRIC_WEIGHT * metric
    return {"cross_entropy": ce, "reconstruction": reconstruction, "metric": metric, "total": total}
