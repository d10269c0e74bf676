"""CLIP ViT with Spatiotemporal Adapters, StA (Yan et al., CVPR 2025, arXiv 2408.17065).

Every frame of a clip goes through a CLIP ViT visual tower; a learnable temporal
embedding (1, T, width) is added to every patch token, and after the MLP of every
block a zero-initialised adapter mixes information across space and time:

    down-projection width -> width/2, GELU
    spatial stream : depthwise 3D convs (1,3,3), (1,5,5), (1,7,7), each conv+BN+ReLU, averaged, + input
    temporal stream: depthwise 3D convs (3,1,1), (5,1,1), (7,1,1), each conv+BN+ReLU, averaged, + input
    2-head cross-attention, queries from the spatial stream, keys/values from the temporal one,
        within each frame; fused = spatial + temporal + cross-attention
    up-projection width/2 -> width (zero-initialised), + residual

The CLS token of every frame (after ln_post) is averaged over time, then dropout
0.5 and Linear(width -> 2) (softmax, index 1 = fake).  ``frame_logits`` applies
the same linear head to each frame's CLS token, so in eval their mean equals the
clip logits; they are per-frame contributions, not independent frame scores.
``spatial_maps`` is the last block's CLS-to-patch attention averaged over heads,
min-max normalised per frame.  Weights of an OpenAI/OpenCLIP visual tower load
with :func:`dfdesk.detectors.clip_keys.load_clip_visual`.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dfdesk.detectors.base import Detector, DetectorOutput, InputSpec, normalise_maps
from dfdesk.detectors.clip_keys import resize_positional_embedding
from dfdesk.detectors.registry import register_detector

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

#: ViT geometries; "vit_l14" is the reference (CLIP ViT-L/14 truncated to its first 14 blocks).
VARIANTS: dict[str, dict[str, int]] = {
    "vit_l14": {"image_size": 224, "patch_size": 14, "width": 1024, "depth": 14, "heads": 16},
    "vit_b16": {"image_size": 224, "patch_size": 16, "width": 768, "depth": 12, "heads": 12},
    "tiny": {"image_size": 32, "patch_size": 8, "width": 32, "depth": 2, "heads": 2},
}


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, L, D) -> (N, heads, L, D / heads)."""
    n, length, d = x.shape
    return x.reshape(n, length, heads, d // heads).transpose(1, 2)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention over (N, L, D) tensors; returns (output (N, Lq, D), weights (N, heads, Lq, Lk))."""
    n, lq, d = q.shape
    scores = split_heads(q, heads) @ split_heads(k, heads).transpose(-2, -1) / math.sqrt(d // heads)
    weights = torch.softmax(scores, dim=-1)
    out = (weights @ split_heads(v, heads)).transpose(1, 2).reshape(n, lq, d)
    return out, weights


class SelfAttention(nn.Module):
    """CLIP's multi-head self-attention (packed q, k, v projection) that also returns its weights."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q, k, v = self.in_proj(x).chunk(3, dim=-1)
        out, weights = attend(q, k, v, self.heads)
        return self.out_proj(out), weights


class QuickGELU(nn.Module):
    """OpenAI CLIP's activation, x * sigmoid(1.702 x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Mlp(nn.Module):
    def __init__(self, width: int, act: str) -> None:
        super().__init__()
        self.fc = nn.Linear(width, 4 * width)
        self.act = QuickGELU() if act == "quick_gelu" else nn.GELU()
        self.proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.act(self.fc(x)))


class ConvStream(nn.Module):
    """Depthwise 3D convs of several kernels, each conv+BN+ReLU, averaged, plus the input."""

    def __init__(self, channels: int, kernels: list[tuple[int, int, int]]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv3d(channels, channels, k, padding=tuple(s // 2 for s in k), groups=channels, bias=False),
                nn.BatchNorm3d(channels),
                nn.ReLU(),
            )
            for k in kernels
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.stack([branch(x) for branch in self.branches]).mean(dim=0)


class CrossAttention(nn.Module):
    """Multi-head attention with queries from one token set and keys/values from another."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(channels, 2 * channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        k, v = self.kv(context).chunk(2, dim=-1)
        out, _ = attend(self.q(query), k, v, self.heads)
        return self.out(out)


class StAdapter(nn.Module):
    """The spatiotemporal adapter; the zero-initialised up-projection makes it the identity at start."""

    def __init__(self, width: int, heads: int = 2) -> None:
        super().__init__()
        hidden = width // 2
        self.down = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.spatial = ConvStream(hidden, [(1, 3, 3), (1, 5, 5), (1, 7, 7)])
        self.temporal = ConvStream(hidden, [(3, 1, 1), (5, 1, 1), (7, 1, 1)])
        self.cross = CrossAttention(hidden, heads)
        self.up = nn.Linear(hidden, width)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """``x``: tokens (B*T, 1 + g*g, width), CLS first, frames of one clip contiguous."""
        a = self.act(self.down(x))
        cls, patches = a[:, :1], a[:, 1:]
        bt, n, c = patches.shape
        grid = math.isqrt(n)
        volume = patches.reshape(bt // frames, frames, grid, grid, c).permute(0, 4, 1, 2, 3)
        spatial = torch.cat([cls, self._tokens(self.spatial(volume))], dim=1)
        temporal = torch.cat([cls, self._tokens(self.temporal(volume))], dim=1)
        fused = spatial + temporal + self.cross(spatial, temporal)
        return x + self.up(fused)

    @staticmethod
    def _tokens(volume: torch.Tensor) -> torch.Tensor:
        """(B, C, T, h, w) -> (B*T, h*w, C)."""
        return volume.permute(0, 2, 3, 4, 1).flatten(0, 1).flatten(1, 2)


class Block(nn.Module):
    """A CLIP residual attention block, followed by an StA adapter when one is given."""

    def __init__(self, width: int, heads: int, act: str, adapter: bool) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = Mlp(width, act)
        self.adapter = StAdapter(width) if adapter else None

    def forward(self, x: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        out, weights = self.attn(self.ln_1(x))
        x = x + out
        x = x + self.mlp(self.ln_2(x))
        if self.adapter is not None:
            x = self.adapter(x, frames)
        return x, weights


@register_detector("sta_clip")
class StaClip(Detector):
    """CLIP ViT + StA adapters; geometry from ``variant`` with explicit overrides."""

    # StA (Yan et al. 2024): Adam 2e-4, weight decay 5e-4, batch 8, 30 epochs
    training_defaults = {"optimizer": "adam", "learning_rate": 2e-4, "weight_decay": 5e-4,
                         "batch_size": 8, "epochs": 30}
    # the CLIP ViT stays frozen; adapters, temporal embedding, final norm and head train (as in the paper)
    backbone_prefixes = ("patch_embed.", "class_embedding", "positional_embedding", "ln_pre.", "blocks.")

    frame_level = False
    output_kind = "softmax"
    default_fake_index = 1

    @classmethod
    def is_backbone_parameter(cls, name: str) -> bool:
        """The frozen CLIP ViT, without the StA adapters that sit inside its blocks and train."""
        return super().is_backbone_parameter(name) and ".adapter." not in name

    def __init__(
        self,
        variant: str = "vit_l14",
        *,
        image_size: int | None = None,
        patch_size: int | None = None,
        width: int | None = None,
        depth: int | None = None,
        heads: int | None = None,
        frames: int = 8,
        act: str = "quick_gelu",
        adapters: bool = True,
        dropout: float = 0.5,
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        given = {"image_size": image_size, "patch_size": patch_size, "width": width, "depth": depth, "heads": heads}
        geometry = VARIANTS[variant] | {k: v for k, v in given.items() if v is not None}
        width, self.patch_size = geometry["width"], geometry["patch_size"]
        grid = geometry["image_size"] // self.patch_size
        scale = width**-0.5
        self.patch_embed = nn.Conv2d(3, width, self.patch_size, stride=self.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(1 + grid * grid, width))
        self.temporal_embedding = nn.Parameter(torch.zeros(1, frames, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(
            Block(width, geometry["heads"], act, adapters) for _ in range(geometry["depth"])
        )
        self.ln_post = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_classes)

    @classmethod
    def default_input(cls) -> InputSpec:
        return InputSpec(crop="face", size=224, margin=0.3, colour="rgb", mean=CLIP_MEAN, std=CLIP_STD,
                         frames_per_clip=8, sampling="clips")

    @classmethod
    def small_options(cls) -> dict[str, Any]:
        return {"variant": "tiny", "frames": 4}

    @classmethod
    def small_input(cls) -> InputSpec:
        spec = cls.default_input()
        spec.size, spec.frames_per_clip = VARIANTS["tiny"]["image_size"], 4
        return spec

    def _tokens(self, clip: torch.Tensor) -> torch.Tensor:
        """Patch, CLS, positional and temporal embeddings: (B*T, 1 + g*g, width)."""
        b, t = clip.shape[:2]
        x = self.patch_embed(clip.flatten(0, 1))
        grid = x.shape[-1]
        x = x.flatten(2).transpose(1, 2)
        x = x + self._temporal_embedding(t).repeat(b, 1, 1)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1)
        return x + resize_positional_embedding(self.positional_embedding, grid)

    def _temporal_embedding(self, frames: int) -> torch.Tensor:
        """The temporal embedding as (T, 1, width), linearly resampled when T differs from its length."""
        emb = self.temporal_embedding
        if emb.shape[1] != frames:
            emb = F.interpolate(emb.transpose(1, 2), size=frames, mode="linear", align_corners=False).transpose(1, 2)
        return emb.transpose(0, 1)

    def encode(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame CLS features after ln_post (B, T, width) and the last block's attention weights."""
        b, t = clip.shape[:2]
        x = self.ln_pre(self._tokens(clip))
        for block in self.blocks:
            x, weights = block(x, t)
        return self.ln_post(x[:, 0]).view(b, t, -1), weights

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        b, t = clip.shape[:2]
        features, weights = self.encode(clip)
        cls_to_patch = weights[:, :, 0, 1:].mean(dim=1)
        grid = math.isqrt(cls_to_patch.shape[-1])
        maps = normalise_maps(cls_to_patch.view(b, t, grid, grid))
        return DetectorOutput(
            clip_logits=self.head(self.dropout(features.mean(dim=1))),
            frame_logits=self.head(features),
            spatial_maps=maps,
        )
