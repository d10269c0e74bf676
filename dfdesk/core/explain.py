"""Explanations: Grad-CAM for convolutional detectors, and heat-map overlays on face crops."""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import nn


def last_conv(model: nn.Module) -> nn.Conv2d | None:
    """The last 2-D convolution of ``model`` in registration order: Grad-CAM's usual target layer."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1] if convs else None


def gradcam(model: nn.Module, clip: torch.Tensor, score: Callable[[object], torch.Tensor],
            layer: nn.Module) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., ICCV 2017) of ``score(model(clip))`` for one clip (1, T, C, H, W).

    ``layer`` must see the frames batched as (B*T, C, h, w).  Returns (T, h, w) maps in [0, 1].
    """
    captured: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        captured["activations"] = output

    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            target = score(model(clip.requires_grad_(False)))
            activations = captured["activations"]
            # only d(score)/d(activations): no parameter gradients (the slowest kernels, and not needed here)
            (gradient,) = torch.autograd.grad(target.sum(), activations)
    finally:
        handle.remove()
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cams = torch.relu((weights * activations).sum(dim=1)).detach().cpu().numpy()
    return np.stack([_unit(cam) for cam in cams])


def _unit(cam: np.ndarray) -> np.ndarray:
    high = float(cam.max())
    return (cam / high).astype(np.float32) if high > 0 else np.zeros_like(cam, dtype=np.float32)


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """Each map scaled to [0, 1] on its own."""
    flat = maps.reshape(maps.shape[0], -1)
    low, high = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    return ((flat - low) / np.maximum(high - low, 1e-8)).reshape(maps.shape).astype(np.float32)


def overlay(face: np.ndarray, heat: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """A heat map (h, w) in [0, 1] laid over an RGB or gray uint8 face crop, as RGB uint8."""
    rgb = face if face.ndim == 3 else cv2.cvtColor(face, cv2.COLOR_GRAY2RGB)
    heat = cv2.resize(heat.astype(np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_CUBIC)
    coloured = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    coloured = cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(rgb, 1 - opacity, coloured, opacity, 0)
