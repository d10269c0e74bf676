"""ONNX for landmark cards: LRNet takes (B, T, 136) landmark blocks, not (B, T, C, H, W) crops.

``dfdesk models export-onnx`` built its example input from the image shape and failed on LRNet; the graph checks
refused any input of rank other than 5.  The exported card is checked against PyTorch here on generated blocks,
and on the authors' real landmark sequences, for both shipped weight sets, in tests/real/test_lrnet_onnx_real.py.
"""
from __future__ import annotations

import os
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from dfdesk.detectors import create_detector
from dfdesk.detectors.base import LANDMARK_FEATURES
from dfdesk.detectors.cards import load_card, save_card
from dfdesk.detectors.lrnet import BLOCK_FRAMES
from dfdesk.detectors.onnx_runtime import OnnxCardDetector
from dfdesk.detectors.weights import WeightsError, sha256_file
from dfdesk.paths import DATA_DIR_ENV
from dfdesk.services import models


@pytest.fixture(scope="module")
def lrnet_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped lrnet_demo card exported once for the module through the model store."""
    folder = tmp_path_factory.mktemp("lrnet_onnx")
    previous = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(folder / "user")  # never the real per-user folder
    try:
        return models.export_onnx("lrnet_demo", folder / "lrnet_demo.onnx").path
    finally:
        if previous is None:
            del os.environ[DATA_DIR_ENV]
        else:
            os.environ[DATA_DIR_ENV] = previous


def moving_face_blocks(count: int, seed: int) -> torch.Tensor:
    """(count, 30, 136) landmark blocks: 68 points in [-1, 1] drifting a little from frame to frame."""
    generator = torch.Generator().manual_seed(seed)
    start = torch.rand(count, 1, LANDMARK_FEATURES, generator=generator) * 1.6 - 0.8
    steps = torch.randn(count, BLOCK_FRAMES, LANDMARK_FEATURES, generator=generator) * 0.01
    return start + steps.cumsum(dim=1)


def test_export_writes_a_landmark_graph(lrnet_onnx: Path) -> None:
    graph = onnx.load(str(lrnet_onnx)).graph
    (clip,) = graph.input
    dims = [d.dim_param or d.dim_value for d in clip.type.tensor_type.shape.dim]
    assert clip.name == "clip" and dims[1:] == [BLOCK_FRAMES, LANDMARK_FEATURES]
    assert isinstance(dims[0], str)  # a dynamic batch axis
    assert [output.name for output in graph.output] == ["clip_logits"]


def test_the_imported_graph_scores_blocks_as_pytorch_does(lrnet_onnx: Path, isolated_data_dir: Path) -> None:
    card = models.import_model(lrnet_onnx, "lrnet", "lrnet_onnx")
    assert card.weights_format == "onnx" and card.input.crop == "landmarks"  # carried over in the metadata
    assert (card.output_kind, card.fake_index, card.input.frames_per_clip) == ("softmax", 1, BLOCK_FRAMES)
    detector = create_detector(models.find_model("lrnet_onnx"), "cpu")
    assert isinstance(detector, OnnxCardDetector) and not detector.frame_level
    reference = create_detector(models.find_model("lrnet_demo")).eval()
    blocks = moving_face_blocks(5, seed=16)
    with torch.inference_mode():  # as the analysis calls it
        got, expected = detector(blocks).clip_logits, reference(blocks).clip_logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    assert got.softmax(dim=1)[:, 1].std() > 0  # the blocks really get different scores


# --- landmark graphs that do not fit their card (small hand-built graphs) ------------------------------------

def mean_graph(path: Path, clip_shape: list) -> Path:
    """A graph taking ``clip`` of ``clip_shape`` and returning (B, 2) logits: its mean, twice."""
    axes = list(range(1, len(clip_shape)))
    nodes = [helper.make_node("ReduceMean", ["clip", "axes"], ["mean"], keepdims=0),
             helper.make_node("Unsqueeze", ["mean", "one"], ["column"]),
             helper.make_node("Concat", ["column", "column"], ["clip_logits"], axis=1)]
    constants = [helper.make_tensor("axes", TensorProto.INT64, [len(axes)], axes),
                 helper.make_tensor("one", TensorProto.INT64, [1], [1])]
    graph = helper.make_graph(nodes, "mean", [helper.make_tensor_value_info("clip", TensorProto.FLOAT, clip_shape)],
                              [helper.make_tensor_value_info("clip_logits", TensorProto.FLOAT, ["B", 2])], constants)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def lrnet_card_for(graph: Path):
    """An LRNet card whose weights are ``graph`` (as if installed by hand, without import's checks)."""
    card = models.untrained_card("lrnet")
    card.name, card.trained, card.weights_file, card.weights_format = "hand", True, graph.name, "onnx"
    card.weights_sha256 = sha256_file(graph)
    save_card(card, graph.parent)
    return load_card(graph.parent)


def test_a_fitting_landmark_graph_runs(tmp_path: Path) -> None:
    detector = create_detector(lrnet_card_for(mean_graph(tmp_path / "g.onnx", ["B", BLOCK_FRAMES, 136])))
    blocks = moving_face_blocks(3, seed=2)
    torch.testing.assert_close(detector(blocks).clip_logits[:, 0], blocks.mean(dim=(1, 2)), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("shape", "message"), [
    (["B", BLOCK_FRAMES, 1, 88, 88], r"rank 5 .*crops are landmarks, expected \(B, T, 136\)"),
    (["B", BLOCK_FRAMES, 2, 68], r"rank 4"),
    (["B", BLOCK_FRAMES, 98], r"98 features a frame"),
    (["B", 16, 136], r"fixes T = 16; the card says frames_per_clip = 30"),
    ([4, BLOCK_FRAMES, 136], r"fixes the batch at 4"),
])
def test_a_landmark_graph_that_does_not_fit_its_card_is_refused(tmp_path: Path, shape: list, message: str) -> None:
    with pytest.raises(WeightsError, match=message):
        create_detector(lrnet_card_for(mean_graph(tmp_path / "g.onnx", shape)))


def test_an_image_card_still_refuses_a_landmark_graph(tmp_path: Path) -> None:
    graph = mean_graph(tmp_path / "g.onnx", ["B", BLOCK_FRAMES, 136])
    card = models.untrained_card("lipforensics_ta")
    card.name, card.trained, card.weights_file, card.weights_format = "hand", True, graph.name, "onnx"
    card.weights_sha256 = sha256_file(graph)
    save_card(card, tmp_path)
    with pytest.raises(WeightsError, match=r"rank 3 .*expected \(B, T, C, H, W\)"):
        create_detector(load_card(tmp_path))
