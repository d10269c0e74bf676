"""Load an OpenAI CLIP / OpenCLIP ViT visual tower into :class:`~dfdesk.detectors.sta_clip.StaClip`.

Both projects name the visual tower the same way (``model.visual``)::

    conv1.weight                      (width, 3, patch, patch), no bias
    class_embedding                   (width,)
    positional_embedding              (1 + grid * grid, width)
    ln_pre.{weight,bias}
    transformer.resblocks.N.attn.in_proj_weight / in_proj_bias     (3 * width, width) / (3 * width,), rows q, k, v
    transformer.resblocks.N.attn.out_proj.{weight,bias}
    transformer.resblocks.N.ln_1 / ln_2 .{weight,bias}
    transformer.resblocks.N.mlp.c_fc / c_proj .{weight,bias}
    ln_post.{weight,bias}
    proj                              (width, embed_dim): CLIP's joint-space projection, unused here

A whole-model file prefixes these with ``visual.``; a file holding only the
visual tower has no prefix.  Blocks beyond the detector's depth (StA keeps the
first 14 of ViT-L/14's 24) and text-tower keys are reported as unused.  The
positional embedding is resized (bicubic on the patch grid) when the file was
trained at another input size.  Reading the file is the caller's business
(safetensors, or ``torch.load(..., weights_only=True)``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

_PREFIXES = ("module.visual.", "visual.")
_FIXED = {
    "conv1.weight": "patch_embed.weight",
    "class_embedding": "class_embedding",
    "positional_embedding": "positional_embedding",
    "ln_pre.weight": "ln_pre.weight",
    "ln_pre.bias": "ln_pre.bias",
    "ln_post.weight": "ln_post.weight",
    "ln_post.bias": "ln_post.bias",
}
_BLOCK = {
    "attn.in_proj_weight": "attn.in_proj.weight",
    "attn.in_proj_bias": "attn.in_proj.bias",
    "attn.out_proj.weight": "attn.out_proj.weight",
    "attn.out_proj.bias": "attn.out_proj.bias",
    "ln_1.weight": "ln_1.weight",
    "ln_1.bias": "ln_1.bias",
    "ln_2.weight": "ln_2.weight",
    "ln_2.bias": "ln_2.bias",
    "mlp.c_fc.weight": "mlp.fc.weight",
    "mlp.c_fc.bias": "mlp.fc.bias",
    "mlp.c_proj.weight": "mlp.proj.weight",
    "mlp.c_proj.bias": "mlp.proj.bias",
}
_CLIP_BLOCK = re.compile(r"transformer\.resblocks\.(\d+)\.(.+)")
_STA_BLOCK = re.compile(r"blocks\.(\d+)\.(.+)")


@dataclass
class ClipLoadReport:
    """What :func:`load_clip_visual` did, by detector key (file keys for ``unused``)."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # backbone weights the file lacked
    new: list[str] = field(default_factory=list)  # StA-only weights (adapters, temporal embedding, head)
    unused: list[str] = field(default_factory=list)  # file keys with no place in the detector
    resized: list[str] = field(default_factory=list)


def clip_to_sta_key(key: str) -> str | None:
    """The detector key of a visual-tower key (prefix already stripped), or None."""
    if key in _FIXED:
        return _FIXED[key]
    match = _CLIP_BLOCK.fullmatch(key)
    if match and match.group(2) in _BLOCK:
        return f"blocks.{match.group(1)}.{_BLOCK[match.group(2)]}"
    return None


def sta_to_clip_key(key: str) -> str | None:
    """The visual-tower key of a detector key, or None for StA-only weights."""
    for clip_key, sta_key in _FIXED.items():
        if key == sta_key:
            return clip_key
    match = _STA_BLOCK.fullmatch(key)
    if match:
        for clip_part, sta_part in _BLOCK.items():
            if match.group(2) == sta_part:
                return f"transformer.resblocks.{match.group(1)}.{clip_part}"
    return None


def visual_tower(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The visual tower's tensors with the ``visual.`` prefix removed (text keys dropped)."""
    for prefix in _PREFIXES:
        if any(key.startswith(prefix) for key in state_dict):
            return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return dict(state_dict)


def resize_positional_embedding(pos: torch.Tensor, grid: int) -> torch.Tensor:
    """Resize a (1 + g*g, D) CLS + grid positional embedding to (1 + grid*grid, D), bicubic."""
    old = math.isqrt(pos.shape[0] - 1)
    if old * old != pos.shape[0] - 1:
        raise ValueError(f"positional embedding of {pos.shape[0]} rows is not 1 + a square grid")
    if old == grid:
        return pos
    cls_pos, patches = pos[:1], pos[1:]
    patches = patches.reshape(1, old, old, -1).permute(0, 3, 1, 2).float()
    patches = F.interpolate(patches, size=(grid, grid), mode="bicubic", align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(grid * grid, -1).to(pos.dtype)
    return torch.cat([cls_pos, patches], dim=0)


def _inside_kept_block(clip_key: str, own: dict[str, torch.Tensor]) -> bool:
    match = _CLIP_BLOCK.fullmatch(clip_key)
    return bool(match) and f"blocks.{match.group(1)}.ln_1.weight" in own


def load_clip_visual(detector: nn.Module, state_dict: dict[str, torch.Tensor]) -> ClipLoadReport:
    """Copy a CLIP ViT visual tower into ``detector`` in place and report what was loaded.

    A shape mismatch (other width, patch size or MLP ratio), or a block weight with no
    counterpart (e.g. OpenCLIP layer scale ``ls_1.gamma``), raises ValueError naming the
    key; nothing is copied then.
    """
    own = detector.state_dict()
    report = ClipLoadReport()
    updates: dict[str, torch.Tensor] = {}
    for clip_key, tensor in visual_tower(state_dict).items():
        key = clip_to_sta_key(clip_key)
        if key is None and _inside_kept_block(clip_key, own):
            raise ValueError(f"CLIP weight {clip_key!r} belongs to a kept block but has no place in the detector "
                             "(layer scale or another unsupported variant)")
        if key is None or key not in own:
            report.unused.append(clip_key)
            continue
        if key == "positional_embedding" and tensor.shape != own[key].shape:
            tensor = resize_positional_embedding(tensor, math.isqrt(own[key].shape[0] - 1))
            report.resized.append(key)
        if tensor.shape != own[key].shape:
            raise ValueError(f"CLIP weight {clip_key!r} has shape {tuple(tensor.shape)}, "
                             f"the detector expects {tuple(own[key].shape)} for {key!r}")
        updates[key] = tensor.to(own[key].dtype)
    if not updates:
        raise ValueError("no OpenAI/OpenCLIP visual-tower weights found (expected keys such as 'visual.conv1.weight')")
    detector.load_state_dict(updates, strict=False)
    report.loaded = sorted(updates)
    for key in own:
        if key not in updates:
            (report.missing if sta_to_clip_key(key) else report.new).append(key)
    return report
