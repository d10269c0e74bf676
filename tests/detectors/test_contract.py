"""The detector contract, checked for every registered architecture on its small configuration."""
from __future__ import annotations

import builtins
import copy
import io
from functools import cache

import pytest
import safetensors.torch
import torch

from dfdesk.detectors import build_detector, detector_class, list_detectors
from dfdesk.detectors.base import Detector, DetectorOutput, clip_shape

BATCH = 2
NAMES = list_detectors()


@cache
def small_model(name: str) -> Detector:
    torch.manual_seed(0)
    cls = detector_class(name)
    return build_detector(name, **cls.small_options())


def small_clip(name: str, batch: int = BATCH, seed: int = 1) -> torch.Tensor:
    """Images in [0, 1] (B, T, C, H, W), or normalised landmarks in [-1, 1] (B, T, 136) for a "landmarks" crop."""
    spec = detector_class(name).small_input()
    generator = torch.Generator().manual_seed(seed)
    clip = torch.rand((batch, *clip_shape(spec)), generator=generator)
    return clip * 2 - 1 if spec.crop == "landmarks" else clip


def eval_output(name: str, clip: torch.Tensor) -> DetectorOutput:
    model = small_model(name).eval()
    with torch.no_grad():
        return model(clip)


@cache
def default_output(name: str) -> DetectorOutput:
    """The eval output on the default small clip, computed once per session (read-only checks share it)."""
    return eval_output(name, small_clip(name))


def test_registry_is_not_empty() -> None:
    assert {"mesonet4", "mesoinception4", "xception_st_convlstm", "lipforensics_ta", "lrnet"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_and_ranges(name: str) -> None:
    cls = detector_class(name)
    clip = small_clip(name)
    out = default_output(name)
    k = 1 if cls.output_kind == "sigmoid" else 2
    b, t = clip.shape[:2]
    assert isinstance(out, DetectorOutput)
    assert out.clip_logits.shape == (b, k)
    if cls.frame_level:
        assert out.frame_logits is not None, "a frame-level detector scores every frame"
    if out.frame_logits is not None:
        assert out.frame_logits.shape == (b, t, k)
    if out.spatial_maps is not None:
        assert out.spatial_maps.dim() == 4 and out.spatial_maps.shape[:2] == (b, t)
        assert out.spatial_maps.min() >= 0 and out.spatial_maps.max() <= 1
    if out.temporal_weights is not None:
        assert out.temporal_weights.shape == (b, t)


@pytest.mark.parametrize("name", NAMES)
def test_no_nan_in_any_output(name: str) -> None:
    out = default_output(name)
    for tensor in (out.clip_logits, out.frame_logits, out.spatial_maps, out.temporal_weights):
        if tensor is not None:
            assert torch.isfinite(tensor).all()


@pytest.mark.parametrize("name", NAMES)
def test_temporal_weights_sum_to_one_when_softmax(name: str) -> None:
    cls = detector_class(name)
    out = default_output(name)
    if out.temporal_weights is None or not getattr(cls, "temporal_weights_are_softmax", True):
        pytest.skip(f"{name} returns no softmax temporal weights")
    assert out.temporal_weights.min() >= 0
    torch.testing.assert_close(out.temporal_weights.sum(dim=1), torch.ones(BATCH), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_backward_gives_finite_gradients(name: str) -> None:
    model = copy.deepcopy(small_model(name)).train()  # a copy: training-mode passes move BatchNorm statistics
    clip = small_clip(name).requires_grad_(True)
    out = model(clip)
    loss = out.clip_logits.square().mean()
    if out.frame_logits is not None:
        loss = loss + out.frame_logits.square().mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    assert torch.isfinite(clip.grad).all() and clip.grad.abs().sum() > 0, "the gradient must reach the input"


@pytest.mark.parametrize("name", NAMES)
def test_eval_mode_is_deterministic(name: str) -> None:
    first, second = default_output(name), eval_output(name, small_clip(name))
    torch.testing.assert_close(first.clip_logits, second.clip_logits, atol=0, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_batch_independence(name: str) -> None:
    clip = small_clip(name, batch=3)
    together = eval_output(name, clip).clip_logits
    alone = torch.cat([eval_output(name, clip[i : i + 1]).clip_logits for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
    changed = clip.clone()
    changed[1:] = torch.rand_like(changed[1:])
    torch.testing.assert_close(eval_output(name, changed).clip_logits[0], together[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_constructor_reads_no_file(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"the constructor of {name} tried to read a file: {args[:1]}")

    for target, attr in ((builtins, "open"), (io, "open"), (torch, "load"), (safetensors.torch, "load_file")):
        monkeypatch.setattr(target, attr, refuse)
    model = build_detector(name, **detector_class(name).small_options())
    assert isinstance(model, Detector)


@pytest.mark.parametrize("name", NAMES)
def test_default_input_is_consistent(name: str) -> None:
    cls = detector_class(name)
    spec = cls.default_input()
    assert spec.crop in ("face", "mouth", "landmarks")
    if spec.crop == "landmarks":  # points, not pixels: one (identity) channel, clips of at least 2 frames
        assert (spec.mean, spec.std) == ((0.0,), (1.0,)) and spec.frames_per_clip >= 2
    else:
        assert len(spec.mean) == len(spec.std) == (1 if spec.colour == "gray" else 3)
    assert spec.frames_per_clip >= 1 and spec.size > 0
    assert cls.output_kind in ("sigmoid", "softmax")
