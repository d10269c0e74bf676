"""Every registered detector exports to ONNX and runs in onnxruntime like in PyTorch."""
from __future__ import annotations

import onnx
import pytest
import torch

from dfdesk.detectors import build_detector, detector_class, list_detectors
from dfdesk.detectors.base import clip_shape
from dfdesk.detectors.onnx_export import OPSET, OnnxDetector, export_onnx, providers


@pytest.mark.parametrize("name", list_detectors())
def test_onnx_export_matches_pytorch(name: str, tmp_path) -> None:
    cls = detector_class(name)
    spec = cls.small_input()
    torch.manual_seed(0)
    model = build_detector(name, **cls.small_options()).eval()
    shape = clip_shape(spec)
    result = export_onnx(model, torch.rand(2, *shape), tmp_path / f"{name}.onnx")
    assert onnx.load(str(result.path)).opset_import[0].version >= 17
    assert result.output_names[0] == "clip_logits"
    session = OnnxDetector(result.path)
    clip = torch.rand(3, *shape)  # a batch size other than the example's: the batch axis is dynamic
    if cls.frame_level:
        clip = torch.rand(3, shape[0] + 1, *shape[1:])  # ... and so is T for frame-level detectors
    outputs = session.run(clip)
    with torch.no_grad():
        reference = model(clip)
    for key, value in outputs.items():
        torch.testing.assert_close(torch.from_numpy(value), getattr(reference, key), atol=1e-4, rtol=0)


def test_cpu_provider_is_always_last() -> None:
    assert providers()[-1] == "CPUExecutionProvider"
    assert providers(prefer_cuda=False) == ["CPUExecutionProvider"]
    assert OPSET >= 17


def test_torchscript_exporter_is_the_fallback(tmp_path, monkeypatch) -> None:
    from dfdesk.detectors import onnx_export

    def broken(*args, **kwargs):
        raise RuntimeError("dynamo unavailable")

    monkeypatch.setattr(onnx_export, "_export_dynamo", broken)
    model = build_detector("mesonet4").eval()
    result = export_onnx(model, torch.rand(2, 2, 3, 256, 256), tmp_path / "m.onnx")
    assert result.exporter == "torchscript"
    clip = torch.rand(1, 3, 3, 256, 256)
    with torch.no_grad():
        expected = model(clip).clip_logits
    got = OnnxDetector(result.path).run(clip)["clip_logits"]
    torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-4, rtol=0)
    monkeypatch.setattr(onnx_export, "_export_torchscript", broken)
    with pytest.raises(onnx_export.OnnxExportError, match="dynamo: dynamo unavailable"):
        export_onnx(model, torch.rand(2, 2, 3, 256, 256), tmp_path / "n.onnx")
