"""Crop geometry: size, margin, padding outside the frame, mouth centring and eye-line alignment."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from dfdesk.core.crops import (
    FRAME_LANDMARKS,
    LANDMARKS,
    MOUTH_CROP,
    CropSpec,
    align_face,
    face_crop,
    inside_region,
    mouth_crop,
    mouth_frame,
    resize_square,
)
from dfdesk.core.types import FaceDetection
from dfdesk.detectors.base import InputSpec


def detection(box, landmarks=((0, 0),) * 5) -> FaceDetection:
    return FaceDetection(tuple(float(v) for v in box), 0.99, tuple((float(x), float(y)) for x, y in landmarks))


def test_face_crop_is_the_square_box_dilated_by_the_margin() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    image[150:250, 170:230] = 255  # the "face": 60 wide, 100 tall, centred at (200, 200)
    crop = face_crop(image, detection((170, 150, 230, 250)), size=130, margin=0.3)
    assert crop.shape == (130, 130, 3) and crop.dtype == np.uint8
    # side = 100 * 1.3 = 130 source pixels, so one output pixel per source pixel
    rows, cols = np.nonzero(crop[..., 0] > 127)
    assert (rows.min(), rows.max()) == (15, 114) and (cols.min(), cols.max()) == (35, 94)


def test_face_crop_leaving_the_frame_is_padded() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    crop = face_crop(image, detection((-20, -20, 40, 40)), size=60, margin=0.0)
    assert crop.shape == (60, 60, 3)
    assert (crop[:20, :20] == 0).all() and (crop[30:, 30:] == 200).all()
    edge = face_crop(image, detection((-20, -20, 40, 40)), size=60, margin=0.0, pad="edge")
    assert (edge == 200).all()


def face_landmarks(cx: float, cy: float, scale: float, angle_deg: float):
    """Canonical landmarks (eyes 40 apart, mouth 45 below the eyes) turned by ``angle_deg``."""
    points = [(-20, -25), (20, -25), (0, 0), (-18, 20), (18, 20)]
    a = math.radians(angle_deg)
    return [(cx + scale * (x * math.cos(a) - y * math.sin(a)), cy + scale * (x * math.sin(a) + y * math.cos(a)))
            for x, y in points]


def mouth_image(landmarks, scale: float, shape=(960, 1280)) -> np.ndarray:
    """A grey frame with a black bar, as thick as the face is large, between the mouth corners."""
    image = np.full(shape + (3,), 128, np.uint8)
    ml, mr = landmarks[3], landmarks[4]
    cv2.line(image, tuple(round(v) for v in ml), tuple(round(v) for v in mr), (0, 0, 0), round(2 * scale))
    return image


def test_mouth_crop_is_centred_on_the_mouth_level_and_scaled_by_the_face() -> None:
    widths = []
    for scale, angle in [(1.0, 0.0), (2.5, 20.0), (4.0, -30.0)]:
        landmarks = face_landmarks(640, 400, scale, angle)
        crop = mouth_crop(mouth_image(landmarks, scale), detection((0, 0, 1, 1), landmarks))
        assert crop.shape == (MOUTH_CROP, MOUTH_CROP) and crop.dtype == np.uint8
        rows, cols = np.nonzero(crop < 64)
        centre = (MOUTH_CROP - 1) / 2
        assert abs((rows.min() + rows.max()) / 2 - centre) <= 1 and abs((cols.min() + cols.max()) / 2 - centre) <= 1
        assert rows.max() - rows.min() <= 6  # the mouth line is level once the eyes are
        widths.append(cols.max() - cols.min())
    assert max(widths) - min(widths) <= 2  # the same framing whatever the face size


def test_mouth_frame_reads_the_eye_line() -> None:
    _, angle, size = mouth_frame(detection((0, 0, 1, 1), face_landmarks(0, 0, 2.0, 15.0)))
    assert angle == pytest.approx(15.0) and size == pytest.approx(2.0 * (40 + 45) / 2)


def test_align_face_puts_the_landmarks_on_the_template() -> None:
    landmarks = face_landmarks(300, 200, 2.0, 25.0)
    image = np.zeros((480, 640, 3), np.uint8)
    for x, y in landmarks[:2]:
        cv2.circle(image, (round(x), round(y)), 4, (255, 255, 255), -1)
    aligned = align_face(image, detection((0, 0, 1, 1), landmarks), size=112, margin=0.0)
    rows, cols = np.nonzero(aligned[..., 0] > 100)
    assert aligned.shape == (112, 112, 3)
    assert abs(rows[cols < 56].mean() - rows[cols >= 56].mean()) < 2  # eyes level after alignment


def test_crop_spec_from_detector_input() -> None:
    assert CropSpec.from_input(InputSpec(crop="face", size=299, margin=0.3)) == CropSpec("face", 299, 0.3, "rgb")
    mouth = CropSpec.from_input(InputSpec(crop="mouth", size=88, colour="gray"))
    assert mouth.kind == "mouth" and mouth.size == 88 and mouth.colour == "gray"
    with pytest.raises(ValueError):
        CropSpec(kind="ear")


def test_landmark_kinds_are_68_points_and_never_cut() -> None:
    assert CropSpec("landmarks", 68, 0.0, "rgb") == LANDMARKS
    assert CropSpec.from_input(InputSpec(crop="landmarks", size=400, margin=0.2, colour="gray")) == LANDMARKS
    assert LANDMARKS.value_shape() == FRAME_LANDMARKS.value_shape() == (68, 2)
    assert LANDMARKS.value_dtype is np.float32 and CropSpec("face", 64).value_dtype is np.uint8
    assert CropSpec("face", 64).value_shape() == (64, 64, 3)
    assert CropSpec("mouth", 88, 0, "gray").value_shape() == (88, 88)
    for wrong in [dict(size=64), dict(margin=0.3), dict(colour="gray")]:
        with pytest.raises(ValueError, match="landmarks"):
            CropSpec(**{"kind": "landmarks", "size": 68, "margin": 0.0, "colour": "rgb", **wrong})
    with pytest.raises(ValueError, match="not cut"):
        FRAME_LANDMARKS.cut(np.zeros((10, 10, 3), np.uint8), detection((0, 0, 5, 5)))


def test_inside_region_keeps_only_the_pixels_inside_the_frame() -> None:
    image = np.arange(10 * 8 * 3, dtype=np.uint8).reshape(10, 8, 3)
    region = inside_region(image, (-3, 2, 5, 14))
    assert region.shape == (8, 5, 3)  # rows 2..9, columns 0..4: no padding, not square
    np.testing.assert_array_equal(region, image[2:10, 0:5])


def test_bicubic_resize_is_pillows_default_filter() -> None:
    rng = np.random.default_rng(1)
    region = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    out = resize_square(region, 256, "bicubic")
    np.testing.assert_array_equal(out, np.asarray(Image.fromarray(region).resize((256, 256))))
    assert not np.array_equal(out, resize_square(region, 256))  # differs from the default INTER_AREA
    with pytest.raises(ValueError, match="unknown resize method"):
        resize_square(region, 256, "nearest")
