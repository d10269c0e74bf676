"""Architecture-specific checks of recce_freq (RECCE-derived, with a learnable frequency filter)."""
from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

from dfdesk.detectors.base import DetectorOutput
from dfdesk.detectors.recce_freq import (
    ENTRY,
    GuidedAttention,
    NarrowXception,
    RecceFreq,
    SpectralFilter,
    metric_loss,
    recce_losses,
    run_stage,
)


@pytest.fixture(scope="module")
def model() -> RecceFreq:
    torch.manual_seed(0)
    return RecceFreq(**RecceFreq.small_options()).eval()


def clip(batch: int = 2, frames: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, frames, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_default_input() -> None:
    spec = RecceFreq.default_input()
    assert (spec.size, spec.margin, spec.frames_per_clip, spec.sampling) == (299, 0.3, 1, "uniform")
    assert spec.mean == (0.5, 0.5, 0.5) and spec.std == (0.5, 0.5, 0.5)
    assert RecceFreq.frame_level


def test_default_filter_matches_the_mid_level_grid_at_299() -> None:
    mid = run_stage(NarrowXception().eval(), ENTRY, torch.zeros(1, 3, 299, 299))  # Xception's strides
    assert mid.shape[-2:] == (19, 19)
    assert inspect.signature(RecceFreq).parameters["filter_size"].default == 19


def test_spectral_filter_equals_an_fft_reference() -> None:
    torch.manual_seed(0)
    layer = SpectralFilter(channels=3, filter_size=5)
    x = torch.randn(2, 3, 5, 5)
    kr, ki = layer.weight[..., 0], layer.weight[..., 1]
    reference = torch.fft.ifft2(torch.fft.fft2(x) * torch.complex(kr, ki)).real
    torch.testing.assert_close(layer(x), reference, atol=1e-5, rtol=1e-5)


def test_all_pass_filter_is_the_identity() -> None:
    layer = SpectralFilter(channels=2, filter_size=4)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[..., 0] = 1.0
    x = torch.randn(1, 2, 4, 4)
    torch.testing.assert_close(layer(x), x, atol=1e-5, rtol=0)


def test_frequency_filter_is_learned_and_eval_output_is_deterministic(model: RecceFreq) -> None:
    x = clip()
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.equal(first.frame_logits, second.frame_logits)
    assert torch.equal(first.spatial_maps, second.spatial_maps)
    weight = model.frequency.filter.weight
    assert weight.requires_grad
    model.zero_grad(set_to_none=True)
    model(x).frame_logits.square().sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


def test_intermediate_shapes_and_ranges(model: RecceFreq) -> None:
    x = clip()
    with torch.no_grad():
        out = model(x)
    assert out.frame_logits.shape == (2, 2, 2) and out.clip_logits.shape == (2, 2)
    recon = out.extras["reconstruction"]
    assert recon.shape == x.shape and recon.abs().max() <= 1
    assert out.spatial_maps.shape == (2, 2, 4, 4)
    assert out.spatial_maps.min() >= 0 and out.spatial_maps.max() <= 1
    for key, channels in (("embedding", 32), ("embedding_dec1", 16), ("embedding_dec2", 8)):
        torch.testing.assert_close(out.extras[key].norm(dim=-1), torch.ones(2, 2))
        assert out.extras[key].shape[-1] == channels


def test_frames_are_scored_independently_and_averaged(model: RecceFreq) -> None:
    x = clip(batch=1, frames=3)
    changed = x.clone()
    changed[:, 2] = -changed[:, 2]
    with torch.no_grad():
        out, other = model(x), model(changed)
    torch.testing.assert_close(out.frame_logits[:, :2], other.frame_logits[:, :2])
    assert not torch.allclose(out.frame_logits[:, 2], other.frame_logits[:, 2])
    torch.testing.assert_close(out.clip_logits, out.frame_logits.mean(dim=1))


def test_guided_attention_mask_is_flat_for_a_perfect_reconstruction() -> None:
    torch.manual_seed(0)
    attention = GuidedAttention(channels=4).eval()
    x = torch.rand(1, 3, 16, 16)
    _, mask = attention(x, x.clone(), torch.randn(1, 4, 4, 4))
    torch.testing.assert_close(mask, torch.full_like(mask, 0.5))  # sigmoid(0): bias-free gate on a zero residual
    _, mask = attention(x, torch.zeros_like(x), torch.randn(1, 4, 4, 4))
    assert not torch.allclose(mask, torch.full_like(mask, 0.5))


def test_metric_loss_rewards_separated_embeddings() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    separated = F.normalize(torch.tensor([[1.0, 0], [1.0, 0], [-1.0, 0], [-1.0, 0]]), dim=1)
    collapsed = F.normalize(torch.ones(4, 2), dim=1)
    torch.testing.assert_close(metric_loss(separated, labels), torch.tensor(0.0))
    torch.testing.assert_close(metric_loss(collapsed, labels), torch.tensor(1.0))


def fake_output(recon: torch.Tensor, logits: torch.Tensor) -> DetectorOutput:
    b, t = logits.shape[:2]
    unit = F.normalize(torch.ones(b, t, 4), dim=-1)
    extras = {"reconstruction": recon, "embedding": unit, "embedding_dec1": unit, "embedding_dec2": unit}
    return DetectorOutput(clip_logits=logits.mean(1), frame_logits=logits, extras=extras)


def test_reconstruction_loss_counts_real_faces_only() -> None:
    x = torch.zeros(2, 1, 3, 4, 4)
    recon = torch.stack([torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 0.9)])
    logits = torch.zeros(2, 1, 2)
    losses = recce_losses(fake_output(recon, logits), x, torch.tensor([0, 1]))
    torch.testing.assert_close(losses["reconstruction"], torch.tensor(0.5))
    losses = recce_losses(fake_output(recon, logits), x, torch.tensor([1, 1]))
    assert losses["reconstruction"] == 0


def test_total_loss_weights() -> None:
    x = torch.zeros(2, 2, 3, 4, 4)
    logits = torch.randn(2, 2, 2, generator=torch.Generator().manual_seed(0))
    losses = recce_losses(fake_output(torch.full_like(x, 0.2), logits), x, torch.tensor([0, 1]))
    expected_ce = F.cross_entropy(logits.flatten(0, 1), torch.tensor([0, 0, 1, 1]))
    torch.testing.assert_close(losses["cross_entropy"], expected_ce)
    expected = expected_ce + 0.1 * losses["reconstruction"] + 0.1 * losses["metric"]
    torch.testing.assert_close(losses["total"], expected)
    assert losses["metric"] > 0  # identical embeddings of real and fake frames are penalised
