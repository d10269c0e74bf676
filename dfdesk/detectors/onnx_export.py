"""Export a detector to ONNX (opset >= 17) and run it in onnxruntime.

The exported graph takes ``clip`` (B, T, C, H, W) with a dynamic batch and returns plain
tensors: ``clip_logits`` and, where the detector has them, ``frame_logits`` and
``temporal_weights``.  For frame-level detectors the frame axis T is dynamic too.  The dynamo
exporter is tried first, the TorchScript exporter second.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dfdesk.detectors.base import Detector

OPSET = 18
OUTPUTS = ("clip_logits", "frame_logits", "temporal_weights")


class OnnxExportError(RuntimeError):
    """Neither exporter could turn the detector into a valid ONNX graph."""


class TensorOutputs(nn.Module):
    """Wraps a detector so that forward returns a tuple of the present tensors of :data:`OUTPUTS`."""

    def __init__(self, detector: Detector, names: tuple[str, ...]) -> None:
        super().__init__()
        self.detector = detector
        self.names = names

    def forward(self, clip: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.detector(clip)
        return tuple(getattr(out, name) for name in self.names)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    exporter: str  # "dynamo" | "torchscript"
    output_names: tuple[str, ...]
    opset: int


def present_outputs(detector: Detector, clip: torch.Tensor) -> tuple[str, ...]:
    with torch.no_grad():
        out = detector(clip)
    return tuple(name for name in OUTPUTS if getattr(out, name) is not None)


def export_onnx(detector: Detector, example_clip: torch.Tensor, path: str | Path, opset: int = OPSET) -> ExportResult:
    """Write ``detector`` (eval mode, CPU) to ``path``; the batch dimension stays dynamic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    detector = detector.eval().cpu()
    example_clip = example_clip.cpu()
    names = present_outputs(detector, example_clip)
    wrapper = TensorOutputs(detector, names).eval()
    errors = []
    axes = {0: "batch", 1: "frames"} if detector.frame_level else {0: "batch"}
    exporters = {"dynamo": _export_dynamo, "torchscript": _export_torchscript}
    for label, exporter in exporters.items():
        try:
            exporter(wrapper, example_clip, path, names, opset, axes)
            _check_model(path)
            return ExportResult(path, label, names, opset)
        except Exception as exc:  # noqa: BLE001 - each exporter fails in its own ways; both are reported
            errors.append(f"{label}: {str(exc).strip().splitlines()[0][:300]}")
    raise OnnxExportError(f"{type(detector).__name__} could not be exported: " + " | ".join(errors))


def _export_dynamo(
    wrapper: nn.Module, clip: torch.Tensor, path: Path, names: tuple[str, ...], opset: int, axes: dict[int, str]
) -> None:
    dims = {i: torch.export.Dim(label, min=1, max=4096) for i, label in axes.items()}
    with _quiet():
        program = torch.onnx.export(
            wrapper, (clip,), dynamo=True, opset_version=opset, input_names=["clip"], output_names=list(names),
            dynamic_shapes=(dims,), optimize=True, verbose=False,
        )
        program.save(str(path))


def _export_torchscript(
    wrapper: nn.Module, clip: torch.Tensor, path: Path, names: tuple[str, ...], opset: int, axes: dict[int, str]
) -> None:
    batch_only = {0: axes[0]}  # clip_logits has no frame axis
    dynamic = {"clip": axes, **{n: batch_only if n == "clip_logits" else axes for n in names}}
    with _quiet():
        torch.onnx.export(
            wrapper, (clip,), str(path), dynamo=False, opset_version=opset, input_names=["clip"],
            output_names=list(names), dynamic_axes=dynamic,
        )


def _check_model(path: Path) -> None:
    import onnx

    onnx.checker.check_model(str(path), full_check=False)


class _quiet:
    """Silence the exporters' progress chatter and warnings."""

    def __enter__(self) -> None:
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        self._level = logging.getLogger("torch.onnx").level
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)

    def __exit__(self, *exc) -> None:
        logging.getLogger("torch.onnx").setLevel(self._level)
        self._warnings.__exit__(*exc)


def providers(prefer_cuda: bool = True) -> list[str]:
    """CUDAExecutionProvider when onnxruntime has it (and it is wanted), then the CPU provider."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    chosen = ["CUDAExecutionProvider"] if prefer_cuda and "CUDAExecutionProvider" in available else []
    return chosen + ["CPUExecutionProvider"]


class OnnxDetector:
    """An exported detector in onnxruntime: ``run(clip) -> {output name: array}``."""

    def __init__(self, path: str | Path, prefer_cuda: bool = True, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers(prefer_cuda))
        self.output_names = tuple(o.name for o in self.session.get_outputs())

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    def run(self, clip: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
        array = clip.detach().cpu().numpy() if isinstance(clip, torch.Tensor) else np.asarray(clip)
        values = self.session.run(None, {"clip": array.astype(np.float32, copy=False)})
        return dict(zip(self.output_names, values))
