"""Frames too small for the face detector (1x1, 2x2, 8x8 pixels) are frames without a face, not a PyTorch error."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dfdesk.core.faces import FaceDetector, frame_can_hold_a_face
from dfdesk.core.types import Frame
from tests.fixtures import clips
from tests.reliability.conftest import ANALYZE, audit_problems, half_written, integrity

SIDES = (1, 2, 8, 20)  # 20 px: above MTCNN's 12-pixel cell, below the 40-pixel smallest face kept


def test_a_frame_smaller_than_the_smallest_face_cannot_hold_one() -> None:
    assert not frame_can_hold_a_face((8, 8), 12)
    assert not frame_can_hold_a_face((240, 20), 40)
    assert frame_can_hold_a_face((40, 64), 40)


def test_the_real_detector_finds_no_face_in_tiny_frames() -> None:
    detector = FaceDetector()
    frames = [Frame(i, i / 25, np.full((side, side, 3), 128, np.uint8)) for i, side in enumerate(SIDES)]
    assert [f.faces for f in detector.detect(frames)] == [()] * len(SIDES)


def _tiny_clip(folder: Path, side: int) -> Path:
    frames = [np.full((side, side, 3), 60 + 10 * i, np.uint8) for i in range(6)]
    pix_fmt = "yuv420p" if side % 2 == 0 else "yuv444p"  # 4:2:0 needs even sides
    return clips.write_clip(folder / f"tiny_{side}x{side}.mp4", frames, pix_fmt=pix_fmt)


@pytest.mark.parametrize("side", [1, 2, 8])
def test_analysing_a_tiny_video_ends_in_no_face(cli, tmp_path: Path, side: int) -> None:
    video = _tiny_clip(tmp_path, side)
    out = tmp_path / "result.json"
    run = cli("analyze", str(video), *ANALYZE, "--json", str(out))
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    document = json.loads(out.read_text())
    assert document["verdict"] == "no_face" and document["faces"]["frames_with_face"] == 0
    assert (document["video"]["width"], document["video"]["height"]) == (side, side)
    reason = f"the frames are {side}x{side} pixels, smaller than the smallest face the detector looks for"
    assert any(reason in warning for warning in document["warnings"]), document["warnings"]
    assert integrity(cli.db_path) == "ok" and audit_problems(cli.db_path) == [] and half_written(cli.db_path) == []
