"""Architecture-specific checks of effb5_att_convlstm (Su et al. 2021) on its small configuration."""
from __future__ import annotations

import pytest
import torch

from dfdesk.detectors.effb5_att_convlstm import EffB5AttConvLSTM, FrameSoftAttention


@pytest.fixture(scope="module")
def model() -> EffB5AttConvLSTM:
    torch.manual_seed(0)
    return EffB5AttConvLSTM(**EffB5AttConvLSTM.small_options()).eval()


def clip(batch: int = 2, frames: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, frames, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def test_default_input_follows_the_paper() -> None:
    spec = EffB5AttConvLSTM.default_input()
    assert (spec.size, spec.margin, spec.frames_per_clip, spec.sampling) == (224, 0.3, 15, "random")
    assert EffB5AttConvLSTM.output_kind == "softmax" and EffB5AttConvLSTM.default_fake_index == 1


def test_intermediate_shapes(model: EffB5AttConvLSTM) -> None:
    x = clip()
    features = model.frame_features(x)
    assert features.shape == (2, 3, model.backbone.num_features, 2, 2)
    encoded, _ = model.encoder(features)
    assert encoded.shape == (2, 3, 8, 2, 2)
    out = model(x)
    assert out.clip_logits.shape == (2, 2)
    assert out.frame_logits is None
    assert out.spatial_maps.shape == (2, 3, 2, 2)
    assert out.temporal_weights.shape == (2, 3)


def test_attention_is_a_softmax_over_frames_that_weights_each_frame() -> None:
    torch.manual_seed(0)
    attention = FrameSoftAttention(channels=4, attention_ch=3)
    v = torch.randn(2, 5, 4, 3, 3)
    weighted, alpha = attention(v)
    torch.testing.assert_close(alpha.sum(dim=1), torch.ones(2))
    torch.testing.assert_close(alpha, torch.softmax(attention.scores(v), dim=1))
    torch.testing.assert_close(weighted, v * alpha[:, :, None, None, None])


def test_score_of_frame_t_sees_frame_t_and_the_state_one_frame_earlier() -> None:
    torch.manual_seed(0)
    attention = FrameSoftAttention(channels=4, attention_ch=3)
    v = torch.randn(1, 4, 4, 3, 3)
    changed = v.clone()
    changed[:, 1] += 1.0
    before, after = attention.scores(v), attention.scores(changed)
    assert torch.equal(before[:, 0], after[:, 0])  # e_0 = f(v_0, h_{-1} = 0)
    assert not torch.allclose(before[:, 1], after[:, 1])  # v_1 itself
    assert not torch.allclose(before[:, 2], after[:, 2])  # h_1 feeds e_2
    assert torch.equal(before[:, 3], after[:, 3])  # e_3 sees v_3 and h_2 only


def test_frame_order_matters(model: EffB5AttConvLSTM) -> None:
    features = torch.randn(1, 3, model.backbone.num_features, 2, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        forward = model.classify_features(features).clip_logits
        backward = model.classify_features(features.flip(1)).clip_logits
    assert not torch.allclose(forward, backward, atol=1e-4)


def test_spatial_maps_are_normalised_per_frame(model: EffB5AttConvLSTM) -> None:
    with torch.no_grad():
        maps = model(clip()).spatial_maps
    assert maps.min() >= 0 and maps.max() <= 1
    torch.testing.assert_close(maps.amin(dim=(2, 3)), torch.zeros(2, 3))
    assert (maps.amax(dim=(2, 3)) > 0.99).all()
