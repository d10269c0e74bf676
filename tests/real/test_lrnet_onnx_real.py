"""Both shipped LRNet cards exported to ONNX score the authors' real landmark sequences as PyTorch does.

The sequences are the authors' calibrated landmarks of their four demo clips (../shared/data/weights/lrnet/
demo_landmarks), cut into dfdesk's 30-frame blocks; onnxruntime's block P(fake) must agree within 1e-4.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfdesk.detectors import create_detector
from dfdesk.detectors.lrnet import LRNet, block_fake_probabilities, landmark_blocks
from dfdesk.services import models

pytestmark = [pytest.mark.real, pytest.mark.slow]  # exports two models

CLIPS = ("ff_real", "ff_fake", "dfo_real", "dfo_fake")


def authors_blocks(shared_data: Path) -> dict[str, np.ndarray]:
    folder = shared_data / "weights" / "lrnet" / "demo_landmarks"
    return {clip: landmark_blocks(np.loadtxt(folder / f"{clip}.txt", dtype=np.float32)) for clip in CLIPS}


@pytest.mark.parametrize("card_name", ["lrnet_demo", "lrnet_ffpp"])
def test_the_exported_card_scores_the_authors_landmarks_as_pytorch_does(
        card_name: str, shared_data: Path, tmp_path: Path) -> None:
    exported = models.export_onnx(card_name, tmp_path / f"{card_name}.onnx")
    models.import_model(exported.path, "lrnet", f"{card_name}_onnx")
    onnx_detector = create_detector(models.find_model(f"{card_name}_onnx"), "cpu")
    reference = create_detector(models.find_model(card_name))
    for clip, blocks in authors_blocks(shared_data).items():
        assert len(blocks) >= 3, clip
        with torch.inference_mode():
            logits = onnx_detector(torch.from_numpy(blocks)).clip_logits
        got = logits.softmax(dim=1)[:, LRNet.default_fake_index].numpy()
        expected = block_fake_probabilities(reference, blocks)
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0, err_msg=f"{card_name} on {clip}")
