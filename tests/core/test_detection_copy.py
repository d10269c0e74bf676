"""The detection copy: downscaled, contrast-normalised only when the frame is dark or flat, the frame untouched."""
from __future__ import annotations

import cv2
import numpy as np

from dfdesk.core.detection_copy import DARK_MEAN, FLAT_STD, detection_copy, downscale, needs_normalising
from tests.fixtures import clips


def lightness(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(float)


def test_a_dark_frame_gets_a_brighter_more_contrasted_copy_and_keeps_its_own_pixels() -> None:
    frame = (clips.face_frame(640, 480, 3, 10) * 0.1).astype(np.uint8)  # mean lightness about 10
    before = frame.copy()
    assert needs_normalising(frame) and lightness(frame).mean() < DARK_MEAN
    copy = detection_copy(frame, 0.5)
    assert copy.shape == (240, 320, 3) and copy.dtype == np.uint8
    assert lightness(copy).mean() > lightness(frame).mean() and lightness(copy).std() > 1.5 * lightness(frame).std()
    assert np.array_equal(frame, before)  # the evidence's pixels are never changed
    assert np.array_equal(detection_copy(frame, 0.5, normalise=False), downscale(frame, 0.5))


def test_a_low_contrast_frame_is_normalised_too() -> None:
    frame = clips.face_frame(320, 240, 3, 10).astype(float)
    flat = np.clip((frame - frame.mean()) * 0.15 + 128, 0, 255).astype(np.uint8)  # bright enough, but flat
    assert lightness(flat).mean() > DARK_MEAN and lightness(flat).std() < FLAT_STD
    assert needs_normalising(flat) and lightness(detection_copy(flat, 1.0)).std() > 1.5 * lightness(flat).std()


def test_a_well_exposed_frame_is_only_downscaled() -> None:
    frame = clips.face_frame(640, 480, 3, 10)
    frame[:240] = 255  # bright sky over the face: mean and contrast both high
    assert not needs_normalising(frame)
    assert np.array_equal(detection_copy(frame, 0.5), downscale(frame, 0.5))
    assert detection_copy(frame, 1.0) is frame  # nothing to do: no copy made at all
