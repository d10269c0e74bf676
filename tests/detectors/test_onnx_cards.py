"""Model cards with ONNX weights: create_detector runs them in onnxruntime behind the detector contract."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from dfdesk.detectors import create_detector
from dfdesk.detectors.base import DetectorOutput
from dfdesk.detectors.cards import load_card, save_card
from dfdesk.detectors.onnx_runtime import OnnxCardDetector
from dfdesk.detectors.weights import WeightsError, sha256_file
from dfdesk.services import models

ARCH = "mesonet4"


@pytest.fixture(scope="module")
def meso4_onnx(tmp_path_factory) -> Path:
    """meso4_df exported once for the module, through the model store (card recorded in the metadata)."""
    import os

    from dfdesk.paths import DATA_DIR_ENV

    folder = tmp_path_factory.mktemp("onnx")
    previous = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(folder / "user")  # never the real per-user folder
    try:
        return models.export_onnx("meso4_df", folder / "meso4_df.onnx").path
    finally:
        if previous is None:
            del os.environ[DATA_DIR_ENV]
        else:
            os.environ[DATA_DIR_ENV] = previous


def test_an_imported_onnx_model_runs_like_the_pytorch_model(meso4_onnx, isolated_data_dir) -> None:
    card = models.import_model(meso4_onnx, ARCH, "meso4_onnx")
    assert card.path.parent == isolated_data_dir / "models"
    assert card.weights_format == "onnx" and card.weights_sha256 == sha256_file(meso4_onnx)
    assert card.sigmoid_means == "real" and card.input.size == 256  # carried over in the file's metadata
    detector = create_detector(models.find_model("meso4_onnx"), "cpu")
    assert isinstance(detector, OnnxCardDetector) and detector.trained and detector.frame_level
    assert detector.provider == "CPUExecutionProvider"
    assert not any(isinstance(m, torch.nn.Conv2d) for m in detector.modules())  # no Grad-CAM target
    reference = create_detector(models.find_model("meso4_df"))
    clip = torch.rand(2, 3, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():  # as the analysis calls it
        got, expected = detector(clip), reference(clip)
    assert isinstance(got, DetectorOutput) and got.spatial_maps is None and got.temporal_weights is None
    torch.testing.assert_close(got.clip_logits, expected.clip_logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(got.frame_logits, expected.frame_logits, atol=1e-4, rtol=0)
    short = clip[:1, :1]  # the last clip of a frame-level run may be shorter: T is dynamic
    torch.testing.assert_close(detector(short).clip_logits, reference(short).clip_logits, atol=1e-4, rtol=0)


def test_an_altered_onnx_file_is_refused(meso4_onnx) -> None:
    card = models.import_model(meso4_onnx, ARCH, "meso4_onnx")
    with open(card.weights_path, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(WeightsError, match="SHA-256"):
        create_detector(card)


# --- graphs that do not fit their card (small hand-built graphs) ------------------------------------

def tiny_graph(path: Path, clip_shape: list, outputs: dict[str, int], batch: str | int = "B") -> Path:
    """A graph taking ``clip`` (clip_shape) and returning means of it: (B, K) logits per named output."""
    nodes = [helper.make_node("ReduceMean", ["clip", "axes"], ["m"], keepdims=0)]
    axes = list(range(1, len(clip_shape)))
    init = [helper.make_tensor("axes", TensorProto.INT64, [len(axes)], axes)]
    outs = []
    for name, k in outputs.items():
        nodes.append(helper.make_node("Unsqueeze", ["m", "one"], [f"{name}_1"]))
        nodes.append(helper.make_node("Concat", [f"{name}_1"] * k, [name], axis=1))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, k]))
    init.append(helper.make_tensor("one", TensorProto.INT64, [1], [1]))
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("clip", TensorProto.FLOAT, clip_shape)],
                              outs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(path))
    return path


def onnx_card(folder: Path, graph: Path, architecture: str = "lipforensics_ta"):
    """A hand-written card for ``graph`` (as if someone had installed it without ``import_model``)."""
    folder.mkdir(parents=True, exist_ok=True)
    if graph.parent != folder:
        graph = Path(shutil.copy(graph, folder / graph.name))
    card = models.untrained_card(architecture)
    card.name, card.trained, card.weights_file, card.weights_format = "hand", True, graph.name, "onnx"
    card.weights_sha256 = sha256_file(graph)
    save_card(card, folder)
    return load_card(folder)


def test_a_fitting_clip_level_graph_runs(tmp_path) -> None:
    # lipforensics_ta: clip level, sigmoid, 25 gray 88x88 frames; a fixed batch of 1 is run item by item
    graph = tiny_graph(tmp_path / "g.onnx", [1, 25, 1, 88, 88], {"clip_logits": 1}, batch=1)
    detector = create_detector(onnx_card(tmp_path, graph))
    clip = torch.rand(3, 25, 1, 88, 88)
    out = detector(clip)
    assert out.frame_logits is None and out.clip_logits.shape == (3, 1)
    torch.testing.assert_close(out.clip_logits[:, 0], clip.mean(dim=(1, 2, 3, 4)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape, outputs, message", [
    (["B", 25, 1, 88, 88], {"output": 1}, "no output 'clip_logits'"),
    (["B", 25, 1, 88, 88], {"clip_logits": 2}, "2 logits; a sigmoid card expects 1"),
    (["B", 25, 3, 88, 88], {"clip_logits": 1}, "C = 3; the card says 1"),
    (["B", 25, 1, 96, 96], {"clip_logits": 1}, "H = 96; the card says 88"),
    (["B", 16, 1, 88, 88], {"clip_logits": 1}, "fixes T = 16; the card says frames_per_clip = 25"),
    (["B", 1, 88, 88], {"clip_logits": 1}, "rank 4"),
])
def test_a_graph_that_does_not_fit_its_card_is_refused(tmp_path, shape, outputs, message) -> None:
    card = onnx_card(tmp_path, tiny_graph(tmp_path / "g.onnx", shape, outputs))
    with pytest.raises(WeightsError, match=message):
        create_detector(card)


def test_a_frame_level_graph_needs_frame_logits_and_a_dynamic_t(tmp_path) -> None:
    card = onnx_card(tmp_path, tiny_graph(tmp_path / "g.onnx", ["B", "T", 3, 256, 256], {"clip_logits": 1}), ARCH)
    with pytest.raises(WeightsError, match="no output 'frame_logits'"):
        create_detector(card)
    fixed = tiny_graph(tmp_path / "f.onnx", ["B", 16, 3, 256, 256], {"clip_logits": 1, "frame_logits": 1})
    with pytest.raises(WeightsError, match="dynamic frame axis"):
        create_detector(onnx_card(tmp_path / "f", fixed, ARCH))


def test_import_refuses_a_graph_that_does_not_fit(tmp_path, isolated_data_dir) -> None:
    graph = tiny_graph(tmp_path / "g.onnx", ["B", "T", 3, 224, 224], {"clip_logits": 1, "frame_logits": 1})
    with pytest.raises(models.ModelStoreError, match="H = 224; the card says 256"):
        models.import_model(graph, ARCH, "wrong_size")
    assert not (isolated_data_dir / "models" / "wrong_size").exists()


def test_a_file_that_is_not_onnx_is_refused_at_load(tmp_path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(np.arange(64, dtype=np.uint8).tobytes())
    with pytest.raises(WeightsError, match="not a loadable ONNX graph"):
        create_detector(onnx_card(tmp_path, bad))
