"""Architecture-specific checks of sta_clip (StA, Yan et al. CVPR 2025) and of the CLIP key mapping."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dfdesk.detectors.clip_keys import (
    clip_to_sta_key,
    load_clip_visual,
    resize_positional_embedding,
    sta_to_clip_key,
)
from dfdesk.detectors.sta_clip import VARIANTS, ConvStream, StaClip, StAdapter

WIDTH, HEADS, PATCH = 32, 2, 8  # the "tiny" variant


def tiny(**options) -> StaClip:
    torch.manual_seed(0)
    return StaClip(**(StaClip.small_options() | options)).eval()


def clip(batch: int = 2, frames: int = 4, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(seed))


def openai_visual_state(grid: int, layers: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A CLIP checkpoint as OpenAI / OpenCLIP name it, with small random tensors (plus a text key)."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *shape: 0.2 * torch.randn(*shape, generator=g)  # noqa: E731
    state = {
        "visual.conv1.weight": rnd(WIDTH, 3, PATCH, PATCH),
        "visual.class_embedding": rnd(WIDTH),
        "visual.positional_embedding": rnd(1 + grid * grid, WIDTH),
        "visual.ln_pre.weight": 1 + rnd(WIDTH), "visual.ln_pre.bias": rnd(WIDTH),
        "visual.ln_post.weight": 1 + rnd(WIDTH), "visual.ln_post.bias": rnd(WIDTH),
        "visual.proj": rnd(WIDTH, 16),
        "token_embedding.weight": rnd(10, 16),
    }
    for i in range(layers):
        p = f"visual.transformer.resblocks.{i}."
        state |= {
            p + "attn.in_proj_weight": rnd(3 * WIDTH, WIDTH), p + "attn.in_proj_bias": rnd(3 * WIDTH),
            p + "attn.out_proj.weight": rnd(WIDTH, WIDTH), p + "attn.out_proj.bias": rnd(WIDTH),
            p + "ln_1.weight": 1 + rnd(WIDTH), p + "ln_1.bias": rnd(WIDTH),
            p + "ln_2.weight": 1 + rnd(WIDTH), p + "ln_2.bias": rnd(WIDTH),
            p + "mlp.c_fc.weight": rnd(4 * WIDTH, WIDTH), p + "mlp.c_fc.bias": rnd(4 * WIDTH),
            p + "mlp.c_proj.weight": rnd(WIDTH, 4 * WIDTH), p + "mlp.c_proj.bias": rnd(WIDTH),
        }
    return state


def reference_clip_cls(state: dict[str, torch.Tensor], images: torch.Tensor, layers: int) -> torch.Tensor:
    """CLIP's visual tower written independently with torch.nn.MultiheadAttention: ln_post(CLS) per image."""
    s = {k.removeprefix("visual."): v for k, v in state.items()}
    x = F.conv2d(images, s["conv1.weight"], stride=PATCH).flatten(2).transpose(1, 2)
    x = torch.cat([s["class_embedding"].expand(len(x), 1, -1), x], dim=1) + s["positional_embedding"]
    x = F.layer_norm(x, (WIDTH,), s["ln_pre.weight"], s["ln_pre.bias"])
    for i in range(layers):
        p = f"transformer.resblocks.{i}."
        attn = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
        attn.load_state_dict({k.removeprefix(p + "attn."): v for k, v in s.items() if k.startswith(p + "attn.")})
        h = F.layer_norm(x, (WIDTH,), s[p + "ln_1.weight"], s[p + "ln_1.bias"])
        x = x + attn(h, h, h, need_weights=False)[0]
        h = F.layer_norm(x, (WIDTH,), s[p + "ln_2.weight"], s[p + "ln_2.bias"])
        h = F.linear(h, s[p + "mlp.c_fc.weight"], s[p + "mlp.c_fc.bias"])
        x = x + F.linear(h * torch.sigmoid(1.702 * h), s[p + "mlp.c_proj.weight"], s[p + "mlp.c_proj.bias"])
    return F.layer_norm(x[:, 0], (WIDTH,), s["ln_post.weight"], s["ln_post.bias"])


def test_default_input_and_reference_geometry() -> None:
    spec = StaClip.default_input()
    assert (spec.size, spec.frames_per_clip, spec.sampling) == (224, 8, "clips")
    assert spec.mean == (0.48145466, 0.4578275, 0.40821073) and spec.std == (0.26862954, 0.26130258, 0.27577711)
    assert VARIANTS["vit_l14"] == {"image_size": 224, "patch_size": 14, "width": 1024, "depth": 14, "heads": 16}


def test_untouched_adapter_is_the_identity() -> None:
    torch.manual_seed(0)
    adapter = StAdapter(WIDTH).eval()
    tokens = torch.randn(2 * 4, 1 + 16, WIDTH)
    assert torch.equal(adapter(tokens, frames=4), tokens)
    nn.init.normal_(adapter.up.weight)
    assert not torch.allclose(adapter(tokens, frames=4), tokens)


def test_untouched_adapters_leave_the_backbone_output_unchanged() -> None:
    with_adapters = tiny()
    plain = tiny(adapters=False)
    plain.load_state_dict(with_adapters.state_dict(), strict=False)
    x = clip()
    with torch.no_grad():
        torch.testing.assert_close(with_adapters.encode(x)[0], plain.encode(x)[0], atol=0, rtol=0)
        nn.init.normal_(with_adapters.blocks[0].adapter.up.weight)
        assert not torch.allclose(with_adapters.encode(x)[0], plain.encode(x)[0])


def test_spatial_stream_stays_within_a_frame_and_temporal_stream_mixes_frames() -> None:
    torch.manual_seed(0)
    spatial = ConvStream(4, [(1, 3, 3), (1, 5, 5), (1, 7, 7)]).eval()
    temporal = ConvStream(4, [(3, 1, 1), (5, 1, 1), (7, 1, 1)]).eval()
    volume = torch.randn(1, 4, 5, 6, 6)  # (B, C, T, h, w)
    changed = volume.clone()
    changed[:, :, 0] += 1.0
    assert torch.equal(spatial(volume)[:, :, 1:], spatial(changed)[:, :, 1:])
    assert not torch.allclose(temporal(volume)[:, :, 1], temporal(changed)[:, :, 1])


def test_temporal_embedding_is_added_to_patch_tokens_only() -> None:
    model = tiny()
    embedding = torch.randn(1, 4, WIDTH)
    with torch.no_grad():
        plain = model._tokens(clip(batch=1)).view(1, 4, 17, WIDTH)
        model.temporal_embedding.copy_(embedding)
        tokens = model._tokens(clip(batch=1)).view(1, 4, 17, WIDTH)
    torch.testing.assert_close(tokens[:, :, 0], plain[:, :, 0])  # CLS untouched
    difference = tokens[0, :, 1:] - plain[0, :, 1:]  # (T, N, width)
    torch.testing.assert_close(difference, embedding[0, :, None, :].expand_as(difference))


def test_frame_logits_average_to_the_clip_logits_in_eval() -> None:
    model = tiny()
    with torch.no_grad():
        out = model(clip())
    torch.testing.assert_close(out.frame_logits.mean(dim=1), out.clip_logits, atol=1e-6, rtol=0)
    assert out.spatial_maps.shape == (2, 4, 4, 4) and out.temporal_weights is None


def test_spatial_maps_are_the_last_blocks_cls_attention() -> None:
    model = tiny()
    x = clip()
    with torch.no_grad():
        _, weights = model.encode(x)
        maps = model(x).spatial_maps
    cls_to_patch = weights[:, :, 0, 1:].mean(dim=1).view(2, 4, 4, 4)
    low, high = cls_to_patch.amin(dim=(2, 3), keepdim=True), cls_to_patch.amax(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(maps, (cls_to_patch - low) / (high - low))
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones_like(weights.sum(dim=-1)))


def test_key_mapping_round_trip_covers_the_whole_backbone() -> None:
    model = tiny()
    for key in model.state_dict():
        clip_key = sta_to_clip_key(key)
        if clip_key is not None:
            assert clip_to_sta_key(clip_key) == key
    for clip_key in openai_visual_state(grid=4, layers=2):
        key = clip_to_sta_key(clip_key.removeprefix("visual."))
        assert key is None or sta_to_clip_key(key) == clip_key.removeprefix("visual.")


def test_loaded_clip_weights_reproduce_clip() -> None:
    model = tiny()
    state = openai_visual_state(grid=4, layers=3)  # one block more than the detector keeps
    report = load_clip_visual(model, state)
    assert report.missing == [] and report.resized == []
    assert len(report.loaded) == 7 + 2 * 12
    assert "proj" in report.unused and "transformer.resblocks.2.ln_1.weight" in report.unused
    assert "temporal_embedding" in report.new and "head.weight" in report.new
    assert torch.equal(model.blocks[1].attn.in_proj.weight, state["visual.transformer.resblocks.1.attn.in_proj_weight"])
    x = clip()
    with torch.no_grad():
        ours = model.encode(x)[0].flatten(0, 1)
        reference = reference_clip_cls(state, x.flatten(0, 1), layers=2)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)


def test_visual_tower_saved_without_prefix_loads_too() -> None:
    model = tiny()
    state = {k.removeprefix("visual."): v for k, v in openai_visual_state(grid=4, layers=2).items()}
    assert len(load_clip_visual(model, state).loaded) == 7 + 2 * 12


def test_positional_embedding_is_resized_for_another_input_size() -> None:
    model = tiny()
    state = openai_visual_state(grid=6, layers=2)  # trained at 48 px, the detector runs at 32 px (grid 4)
    report = load_clip_visual(model, state)
    assert report.resized == ["positional_embedding"]
    assert model.positional_embedding.shape == (17, WIDTH)
    assert torch.equal(model.positional_embedding[0], state["visual.positional_embedding"][0])


def test_resize_keeps_a_constant_field_and_is_identity_on_the_same_grid() -> None:
    pos = torch.randn(1 + 36, 8)
    assert torch.equal(resize_positional_embedding(pos, 6), pos)
    constant = torch.cat([torch.zeros(1, 8), torch.ones(36, 8) * 3.0])
    torch.testing.assert_close(resize_positional_embedding(constant, 9)[1:], torch.full((81, 8), 3.0))
    with pytest.raises(ValueError):
        resize_positional_embedding(torch.randn(1 + 35, 8), 4)


def test_a_checkpoint_of_another_width_is_refused() -> None:
    model = tiny(width=16, heads=2)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match="class_embedding|conv1"):
        load_clip_visual(model, openai_visual_state(grid=4, layers=2))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_block_weight_without_counterpart_is_refused() -> None:
    model = tiny()
    state = openai_visual_state(grid=4, layers=2)
    state["visual.transformer.resblocks.0.ls_1.gamma"] = torch.ones(WIDTH)  # OpenCLIP layer scale
    with pytest.raises(ValueError, match="ls_1.gamma"):
        load_clip_visual(model, state)


def test_a_file_without_clip_visual_weights_is_refused() -> None:
    with pytest.raises(ValueError, match="no OpenAI/OpenCLIP"):
        load_clip_visual(tiny(), {"blocks.0.attn.qkv.weight": torch.zeros(3 * WIDTH, WIDTH)})  # timm naming
