"""Grad-CAM: the class-activation maps of the textbook recipe, without computing parameter gradients."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dfdesk.core.explain import gradcam, last_conv


class TinyFrames(nn.Module):
    """(1, T, 3, 16, 16) clips scored per frame: conv, ReLU, conv, mean, linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1))
        self.head = nn.Linear(6, 1)

    def forward(self, clip):
        maps = self.features(clip.flatten(0, 1))
        return self.head(maps.mean(dim=(2, 3)))


def reference_cam(model: TinyFrames, clip: torch.Tensor) -> np.ndarray:
    """Selvaraju et al.: channel weights = spatial mean of the gradient, ReLU of the weighted sum, per frame."""
    activations = model.features(clip.flatten(0, 1))
    activations.retain_grad()
    model.head(activations.mean(dim=(2, 3))).sum().backward()
    cams = torch.relu((activations.grad.mean(dim=(2, 3), keepdim=True) * activations).sum(dim=1)).detach()
    return np.stack([(c / c.max()).numpy() if c.max() > 0 else np.zeros_like(c.numpy()) for c in cams])


def test_gradcam_matches_the_textbook_recipe_and_leaves_parameters_without_gradients() -> None:
    torch.manual_seed(0)
    model, clip = TinyFrames().eval(), torch.rand(1, 3, 3, 16, 16)
    layer = last_conv(model)
    cams = gradcam(model, clip, lambda logits: logits[:, 0], layer)
    assert cams.shape == (3, 16, 16) and cams.min() >= 0 and cams.max() <= 1
    assert all(p.grad is None for p in model.parameters())  # no weight gradients were computed
    np.testing.assert_allclose(cams, reference_cam(model, clip), atol=1e-5)
