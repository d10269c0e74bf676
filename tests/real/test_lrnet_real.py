"""LRNet's reference check: the shipped cards, fed the authors' own landmark files, score every block as an
independent NumPy forward pass of the authors' .pth checkpoints does (GRU equations written out below)."""
from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from dfdesk import paths
from dfdesk.core.landmark_calibration import WINDOW_SCALE
from dfdesk.detectors import create_detector
from dfdesk.detectors.cards import load_card
from dfdesk.detectors.lrnet import BLOCK_FRAMES, block_fake_probabilities, landmark_blocks

pytestmark = pytest.mark.real

CLIPS = ("ff_real", "ff_fake", "dfo_real", "dfo_fake")
WEIGHT_SETS = {"demo": "lrnet_demo", "ffpp": "lrnet_ffpp"}


@cache
def authors_landmarks(root: Path, clip: str) -> np.ndarray:
    """(N, 136): one frame a line, 68 x, y pairs."""
    return np.loadtxt(root / "weights" / "lrnet" / "demo_landmarks" / f"{clip}.txt", dtype=np.float64)


# --- an independent NumPy LRNet, straight from the authors' checkpoint ---------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def gru_last_state(w: dict[str, np.ndarray], suffix: str, sequence: np.ndarray, h: np.ndarray) -> np.ndarray:
    """PyTorch's GRU cell over (T, F) in the given order; rows of the weights are the r, z, n gates."""
    w_ih, w_hh = w[f"gru.weight_ih_l0{suffix}"], w[f"gru.weight_hh_l0{suffix}"]
    b_ih, b_hh = w[f"gru.bias_ih_l0{suffix}"], w[f"gru.bias_hh_l0{suffix}"]
    size = h.shape[0]
    for x in sequence:
        gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
        r = sigmoid(gi[:size] + gh[:size])
        z = sigmoid(gi[size : 2 * size] + gh[size : 2 * size])
        n = np.tanh(gi[2 * size :] + r * gh[2 * size :])
        h = (1 - z) * n + z * h
    return h


def stream_softmax(w: dict[str, np.ndarray], block: np.ndarray) -> np.ndarray:
    """The authors' LRNet in eval mode: BiGRU last states -> residual MLP -> Linear -> softmax."""
    forward = gru_last_state(w, "", block, w["hidden_state"][0, 0])
    backward = gru_last_state(w, "_reverse", block[::-1], w["hidden_state"][1, 0])
    h = np.concatenate([forward, backward])
    inner = np.maximum(w["dense.1.fn.net.0.weight"] @ h + w["dense.1.fn.net.0.bias"], 0)
    h = h + w["dense.1.fn.net.3.weight"] @ inner + w["dense.1.fn.net.3.bias"]
    logits = w["dense.3.weight"] @ h + w["dense.3.bias"]
    e = np.exp(logits - logits.max())
    return e / e.sum()


@cache
def checkpoint(root: Path, weight_set: str, stream: str) -> dict[str, np.ndarray]:
    state = torch.load(root / "weights" / "lrnet" / weight_set / f"{stream}.pth", map_location="cpu",
                       weights_only=True)
    return {k: v.double().numpy() for k, v in state.items()}


def reference_block_scores(root: Path, weight_set: str, clip: str) -> np.ndarray:
    """The authors' demo/classify.py rule: blocks at range(0, N - 30, 30); g2 reads the 29 differences."""
    g1, g2 = checkpoint(root, weight_set, "g1"), checkpoint(root, weight_set, "g2")
    sequence = authors_landmarks(root, clip)
    scores = []
    for start in range(0, len(sequence) - BLOCK_FRAMES, BLOCK_FRAMES):
        block = sequence[start : start + BLOCK_FRAMES]
        scores.append((stream_softmax(g1, block)[1] + stream_softmax(g2, np.diff(block, axis=0))[1]) / 2)
    return np.array(scores)


# --- the checks --------------------------------------------------------------------------------------------------


@cache
def shipped_detector(weight_set: str):
    return create_detector(load_card(paths.bundled_models_dir() / WEIGHT_SETS[weight_set]))


@pytest.mark.parametrize("weight_set", sorted(WEIGHT_SETS))
@pytest.mark.parametrize("clip", CLIPS)
def test_shipped_lrnet_scores_blocks_as_the_checkpoint_does(shared_data: Path, weight_set: str, clip: str) -> None:
    """The same function: in float64 the shipped module and the NumPy pass agree to rounding (measured 2e-14).
    As the analysis runs it (float32), blocks differ by up to 1.2e-5 (ffpp; demo 3e-6), video scores by < 1e-6."""
    expected = reference_block_scores(shared_data, weight_set, clip)
    blocks = landmark_blocks(authors_landmarks(shared_data, clip))
    assert len(blocks) == len(expected) > 10
    exact = copy.deepcopy(shipped_detector(weight_set)).double()
    sequence = authors_landmarks(shared_data, clip)[: blocks.size // 136].reshape(blocks.shape)
    with torch.no_grad():
        in_float64 = exact(torch.from_numpy(sequence)).clip_logits.softmax(dim=1)[:, 1].numpy()
    np.testing.assert_allclose(in_float64, expected, atol=1e-9, rtol=0)
    shipped = block_fake_probabilities(shipped_detector(weight_set), blocks)
    np.testing.assert_allclose(shipped, expected, atol=3e-5, rtol=0)
    assert abs(float(shipped.mean()) - float(expected.mean())) < 1e-5


@pytest.mark.parametrize("weight_set", sorted(WEIGHT_SETS))
def test_video_scores_of_the_four_clips(shared_data: Path, weight_set: str) -> None:
    """Printed for the record (run with -s).  Both sets put each fake above its real counterpart."""
    video = {}
    for clip in CLIPS:
        scores = block_fake_probabilities(shipped_detector(weight_set),
                                          landmark_blocks(authors_landmarks(shared_data, clip)))
        video[clip] = float(scores.mean())
        print(f"lrnet_{weight_set} lrnet_{clip}: mean block P(fake) {scores.mean():.4f}, "
              f"share of blocks >= 0.5 (the authors' video score) {(scores >= 0.5).mean():.4f}, {len(scores)} blocks")
    assert video["ff_fake"] > video["ff_real"] and video["dfo_fake"] > video["dfo_real"]


@pytest.mark.parametrize("clip", CLIPS)
def test_authors_files_follow_the_documented_normalisation(shared_data: Path, clip: str) -> None:
    """Points measured in a window 1.2 times their box, centred on it, on the 1/200 grid (landmark_calibration)."""
    points = authors_landmarks(shared_data, clip).reshape(-1, 68, 2)
    low, high = points.min(axis=1), points.max(axis=1)
    assert abs(float((high - low).max(axis=1).mean()) - 2 / WINDOW_SCALE) < 0.02
    assert np.abs(((low + high) / 2).mean(axis=0)).max() < 0.01
    np.testing.assert_allclose(points * 200, np.rint(points * 200), atol=1e-6)
