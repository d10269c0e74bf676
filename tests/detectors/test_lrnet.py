"""LRNet on generated landmark sequences: shapes, the two streams, block splitting, polarity and the converter."""
from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from dfdesk.detectors import build_detector, create_detector
from dfdesk.detectors.base import InputSpec, crops_to_tensor
from dfdesk.detectors.cards import ModelCard, fake_probability, load_card
from dfdesk.detectors.lrnet import BLOCK_FRAMES, LRNet, block_fake_probabilities, landmark_blocks

ROOT = Path(__file__).resolve().parents[2]


def model(seed: int = 0) -> LRNet:
    torch.manual_seed(seed)
    return build_detector("lrnet").eval()


def landmarks(frames: int, seed: int = 0) -> np.ndarray:
    """A face-like random walk of 68 points in [-1, 1]: (frames, 68, 2) float32."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(-0.8, 0.8, (68, 2))
    return np.clip(start + np.cumsum(rng.normal(0, 0.005, (frames, 68, 2)), axis=0), -1, 1).astype(np.float32)


def test_output_shapes_and_stream_logits() -> None:
    clip = torch.from_numpy(landmark_blocks(landmarks(90)))
    out = model()(clip)
    assert out.clip_logits.shape == (3, 2)
    assert out.frame_logits is None and out.spatial_maps is None and out.temporal_weights is None
    assert out.extras["g1_logits"].shape == out.extras["g2_logits"].shape == (3, 2)


def test_block_score_is_the_mean_of_the_two_streams_softmax() -> None:
    out = model()(torch.from_numpy(landmark_blocks(landmarks(60))))
    mean = (out.extras["g1_logits"].softmax(1) + out.extras["g2_logits"].softmax(1)) / 2
    torch.testing.assert_close(out.clip_logits.softmax(1), mean, atol=1e-6, rtol=0)


def test_the_card_reads_output_1_as_fake() -> None:
    detector = model()
    blocks = landmark_blocks(landmarks(60))
    out = detector(torch.from_numpy(blocks))
    card = _card(detector)
    np.testing.assert_allclose(fake_probability(card, out.clip_logits.detach()).numpy(),
                               block_fake_probabilities(detector, blocks), atol=1e-6)


def _card(detector: LRNet) -> ModelCard:
    return ModelCard(name="x", architecture="lrnet", input=detector.default_input(), fake_index=1)


def test_g2_reads_only_the_motion() -> None:
    """Moving the whole sequence changes what g1 sees (positions) but not what g2 sees (differences)."""
    detector = model()
    clip = torch.from_numpy(landmark_blocks(landmarks(30)))
    moved = clip + 0.1
    with torch.no_grad():
        a, b = detector(clip), detector(moved)
    torch.testing.assert_close(a.extras["g2_logits"], b.extras["g2_logits"], atol=1e-5, rtol=0)
    assert (a.extras["g1_logits"] - b.extras["g1_logits"]).abs().max() > 1e-3


def test_eval_is_deterministic_and_training_drops_points() -> None:
    detector = model()
    clip = torch.from_numpy(landmark_blocks(landmarks(30)))
    with torch.no_grad():
        first, second = detector(clip).clip_logits, detector(clip).clip_logits
        detector.train()
        torch.manual_seed(1)
        trained = detector(clip).clip_logits
    torch.testing.assert_close(first, second, atol=0, rtol=0)
    assert not torch.allclose(first, trained)


def test_landmark_blocks_are_consecutive_and_interleave_x_and_y() -> None:
    sequence = landmarks(95)
    blocks = landmark_blocks(sequence)
    assert blocks.shape == (3, BLOCK_FRAMES, 136) and blocks.dtype == np.float32
    np.testing.assert_array_equal(blocks[1, 4], sequence[34].reshape(-1))
    assert blocks[1, 4, 0] == sequence[34, 0, 0] and blocks[1, 4, 1] == sequence[34, 0, 1]
    np.testing.assert_array_equal(landmark_blocks(sequence.reshape(95, 136)), blocks)
    assert landmark_blocks(sequence[:29]).shape == (0, BLOCK_FRAMES, 136)
    assert landmark_blocks(sequence[:60]).shape[0] == 2


def test_a_short_sequence() -> None:
    detector = model()
    scores = block_fake_probabilities(detector, landmark_blocks(landmarks(45)))
    assert scores.shape == (1,) and 0 < scores[0] < 1
    assert block_fake_probabilities(detector, landmark_blocks(landmarks(20))).shape == (0,)
    two_frames = detector(torch.from_numpy(landmarks(2).reshape(1, 2, 136)))
    assert torch.isfinite(two_frames.clip_logits).all()
    with pytest.raises(ValueError, match="T >= 2"):
        detector(torch.zeros(1, 1, 136))
    with pytest.raises(ValueError, match="136"):
        detector(torch.zeros(1, 30, 3, 8, 8))


def test_crops_to_tensor_passes_landmarks_through() -> None:
    points = landmarks(5)
    spec = LRNet.default_input()
    tensor = crops_to_tensor(list(points), spec)
    assert tensor.dtype == torch.float32 and tensor.shape == (5, 136)
    np.testing.assert_array_equal(tensor.numpy(), points.reshape(5, 136))
    with pytest.raises(ValueError, match="landmark crops are"):
        crops_to_tensor(np.zeros((5, 400, 400), np.uint8), spec)  # a face crop where points were due
    image = crops_to_tensor(np.full((2, 4, 4, 3), 255, np.uint8), InputSpec(mean=(0.5,) * 3, std=(0.5,) * 3))
    assert image.shape == (2, 3, 4, 4) and torch.allclose(image, torch.ones_like(image))


# --- scripts/convert_lrnet.py on synthetic checkpoints --------------------------------------------------------


@cache
def _converter():
    """scripts/convert_lrnet.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("convert_lrnet", ROOT / "scripts" / "convert_lrnet.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _authors_keys(state: dict[str, torch.Tensor], stream: str, prefixes) -> dict[str, torch.Tensor]:
    """dfdesk keys of one stream -> the authors' names (the converter's table read backwards)."""
    out = {}
    for key, tensor in state.items():
        if key.startswith(stream + "."):
            key = key[len(stream) + 1 :]
            theirs, ours = next((t, o) for t, o in prefixes if key.startswith(o))
            out[theirs + key[len(ours) :]] = tensor.clone()
    return out


def test_converter_writes_a_loadable_model_folder(tmp_path: Path) -> None:
    convert = _converter()
    original = model(seed=3)
    source = tmp_path / "src"
    (source / "demo").mkdir(parents=True)
    for stream in ("g1", "g2"):
        theirs = _authors_keys(original.state_dict(), stream, convert.KEY_PREFIXES)
        torch.save(theirs, source / "demo" / f"{stream}.pth")
    (source / "LICENSE").write_text("MIT License\n")
    card = convert.convert(source, convert.WEIGHT_SETS[0], tmp_path / "models")
    folder = tmp_path / "models" / "lrnet_demo"
    assert (folder / "LICENSE").read_text() == "MIT License\n"
    loaded = load_card(folder)
    assert loaded == card and loaded.trained and loaded.licence == "MIT" and loaded.input.crop == "landmarks"
    clip = torch.from_numpy(landmark_blocks(landmarks(60)))
    with torch.no_grad():
        torch.testing.assert_close(create_detector(loaded)(clip).clip_logits, original(clip).clip_logits)


def test_converter_refuses_an_unknown_key(tmp_path: Path) -> None:
    convert = _converter()
    with pytest.raises(ValueError, match="unexpected key 'attention.weight'"):
        convert.renamed({"attention.weight": torch.zeros(1)}, "g1")
