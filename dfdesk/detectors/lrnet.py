"""LRNet: Sun, Han, Shan, Chen, "Improving the Efficiency and Robustness of Deepfakes Detection through Precise
Geometric Features" (CVPR 2021).  A manipulated face moves unnaturally: LRNet reads only the calibrated 68-point
landmarks of 30-frame blocks, in two streams with the same architecture:

* g1 reads the positions (T, 136), g2 the frame-to-frame differences (T - 1, 136);
* each stream: a bidirectional GRU (32 units a direction) whose initial hidden state is learned; its last hidden
  states (forward, backward) concatenated (64) -> dropout -> residual block ``h + Linear(ReLU(Linear(h)))``
  (64 -> 64 -> 64) -> dropout -> Linear(64, 2), output 1 = fake;
* a block's score is the mean of the two streams' softmax, as in the authors' ``demo/classify.py``.

Module layout and sizes follow the authors' PyTorch checkpoints (frederickszk/LRNet, ``demo/utils/model.py`` read
for the layer order, not copied); ``scripts/convert_lrnet.py`` renames their keys (``hidden_state``,
``dense.1.fn.net.0`` ...) to this module's.  Training-time input dropout drops whole points (x and y together) in
every frame of a sample, as the authors' ``LandmarkDropout`` does (theirs draws one mask per batch, this one per
sample).

Video scores: the authors split a landmark sequence into consecutive 30-frame blocks from the first frame
(:func:`landmark_blocks`) and report the share of blocks whose score is >= 0.5; dfdesk's analysis reports the mean
block score like every clip detector's (see docs/DETECTORS.md).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from dfdesk.core.landmark_calibration import WINDOW_PX, WINDOW_SCALE
from dfdesk.detectors.base import LANDMARK_FEATURES, Detector, DetectorOutput, InputSpec
from dfdesk.detectors.registry import register_detector

BLOCK_FRAMES = 30  # the authors' BLOCK_SIZE (demo/configs/args_inference.yaml)


class PointDropout(nn.Module):
    """Training only: zero whole landmarks (both coordinates, every frame of a sample) with probability ``p``."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"point dropout must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        batch, _, features = x.shape
        keep = torch.bernoulli(torch.full((batch, 1, features // 2), 1 - self.p, device=x.device))
        return x * keep.repeat_interleave(2, dim=2) / (1 - self.p)


class LandmarkStream(nn.Module):
    """One stream: (B, T, 136) landmark features -> (B, 2) logits."""

    def __init__(self, hidden: int = 32, mlp_hidden: int = 64, dropout: float = 0.5,
                 point_dropout: float = 0.1) -> None:
        super().__init__()
        self.initial_hidden = nn.Parameter(torch.randn(2, 1, hidden))  # learned (direction, 1, hidden); randn as theirs
        self.point_dropout = PointDropout(point_dropout)
        self.gru = nn.GRU(LANDMARK_FEATURES, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.residual = nn.Sequential(nn.Linear(2 * hidden, mlp_hidden), nn.ReLU(), nn.Dropout(dropout),
                                      nn.Linear(mlp_hidden, 2 * hidden))
        self.head = nn.Linear(2 * hidden, 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = self.point_dropout(features)
        start = self.initial_hidden.expand(-1, features.shape[0], -1).contiguous()
        _, last = self.gru(features, start)
        summary = self.dropout(torch.cat([last[0], last[1]], dim=1))
        summary = summary + self.residual(summary)
        return self.head(self.dropout(summary))


@register_detector("lrnet")
class LRNet(Detector):
    """Two streams over a block of landmarks; clip logits are the log of their mean softmax."""

    frame_level = False
    output_kind = "softmax"
    default_fake_index = 1

    def __init__(self, hidden: int = 32, mlp_hidden: int = 64, dropout: float = 0.5,
                 point_dropout: float = 0.1) -> None:
        super().__init__()
        options: dict[str, Any] = {"hidden": hidden, "mlp_hidden": mlp_hidden, "dropout": dropout,
                                   "point_dropout": point_dropout}
        self.g1 = LandmarkStream(**options)  # positions
        self.g2 = LandmarkStream(**options)  # frame-to-frame differences

    @classmethod
    def default_input(cls) -> InputSpec:
        """Landmark clips of 30 consecutive frames.  ``size`` and ``margin`` record the authors' face window
        (400 px, 1.2 times the landmarks' box) that :func:`~dfdesk.core.landmark_calibration.normalise_landmarks`
        applies; colour, mean and std do not apply to landmarks (identity)."""
        return InputSpec(crop="landmarks", size=WINDOW_PX, margin=round(WINDOW_SCALE - 1, 6), colour="gray",
                         mean=(0.0,), std=(1.0,), frames_per_clip=BLOCK_FRAMES, sampling="clips")

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        """(B, T, 136) normalised landmarks, T >= 2 -> clip logits (B, 2) whose softmax is the streams' mean."""
        if clip.dim() != 3 or clip.shape[-1] != LANDMARK_FEATURES or clip.shape[1] < 2:
            raise ValueError(f"LRNet takes (B, T >= 2, {LANDMARK_FEATURES}) landmarks, got {tuple(clip.shape)}")
        positions = self.g1(clip)
        motion = self.g2(clip[:, 1:] - clip[:, :-1])
        mean_softmax = torch.logaddexp(positions.log_softmax(dim=1), motion.log_softmax(dim=1)) - math.log(2)
        return DetectorOutput(clip_logits=mean_softmax, extras={"g1_logits": positions, "g2_logits": motion})


def landmark_blocks(sequence: np.ndarray, block_frames: int = BLOCK_FRAMES) -> np.ndarray:
    """(N, 68, 2) or (N, 136) landmarks -> (N // block_frames, block_frames, 136) float32 consecutive blocks.

    Blocks start at the first frame and do not overlap; the frames after the last whole block are left out.  (The
    authors' loop, ``range(0, N - block, block)``, also leaves out the last whole block when N is a multiple of
    the block length.)
    """
    flat = np.asarray(sequence, np.float32).reshape(len(sequence), LANDMARK_FEATURES)
    count = len(flat) // block_frames
    return flat[: count * block_frames].reshape(count, block_frames, LANDMARK_FEATURES)


def block_fake_probabilities(model: LRNet, blocks: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """P(fake) of each (T, 136) block: the mean of the two streams' softmax output 1 (eval mode, no gradients)."""
    model.eval()
    device = next(model.parameters()).device
    scores = []
    with torch.inference_mode():
        for start in range(0, len(blocks), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(blocks[start : start + batch_size])).to(device)
            scores.append(model(batch).clip_logits.softmax(dim=1)[:, LRNet.default_fake_index].cpu().numpy())
    return np.concatenate(scores) if scores else np.zeros(0, np.float32)
