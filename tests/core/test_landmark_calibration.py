"""LRNet's landmark calibration (LK tracking fused by a Kalman filter) and normalisation, on generated frames."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfdesk.core.landmark_calibration import (
    PROCESS_NOISE,
    WINDOW_PX,
    FaceWindow,
    LandmarkCalibrator,
    kalman_fuse,
    normalise_landmarks,
    track_points,
)
from dfdesk.core.types import FaceDetection

HEIGHT, WIDTH = 480, 640


def texture(seed: int = 0) -> np.ndarray:
    """A smooth random texture (blurred noise stretched to 0-255): every patch has structure for LK to lock on."""
    noise = np.random.default_rng(seed).random((HEIGHT, WIDTH)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3)
    return cv2.normalize(smooth, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The image moved by (dx, dy) pixels (sub-pixel, bilinear)."""
    matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    return cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT)


def face_points(seed: int = 1, centre=(320.0, 240.0), size=(150.0, 180.0)) -> np.ndarray:
    """68 points spread over a face-sized box."""
    unit = np.random.default_rng(seed).random((68, 2)) - 0.5
    return (np.asarray(centre) + unit * np.asarray(size)).astype(np.float32)


def detection_around(points: np.ndarray) -> FaceDetection:
    low, high = points.min(axis=0), points.max(axis=0)
    return FaceDetection((float(low[0]), float(low[1]), float(high[0]), float(high[1])), 0.99, ((0.0, 0.0),) * 5)


# --- the face window -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spread", [150.0, 600.0], ids=["enlarged", "shrunk"])
def test_window_shows_a_frame_point_where_it_maps_the_point(spread: float) -> None:
    blob_at = np.array([331.3, 207.6])
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    frame = (255 * np.exp(-((xs - blob_at[0]) ** 2 + (ys - blob_at[1]) ** 2) / (2 * 6.0**2))).astype(np.uint8)
    window = FaceWindow.around(face_points(size=(spread, spread)))
    image = window.image(frame).astype(np.float64)
    wy, wx = np.mgrid[0:WINDOW_PX, 0:WINDOW_PX]
    centroid = np.array([(image * wx).sum(), (image * wy).sum()]) / image.sum()
    np.testing.assert_allclose(centroid, window.to_window(blob_at[None])[0], atol=0.15)


def test_window_is_the_authors_square_around_the_points() -> None:
    points = np.array([[100.0, 50.0], [300.0, 50.0], [200.0, 170.0]] + [[200.0, 100.0]] * 65)
    window = FaceWindow.around(points)
    assert window.centre == (200.0, 110.0)
    assert window.side == pytest.approx(1.2 * 200.0)
    np.testing.assert_allclose(window.to_frame(window.to_window(points)), points, atol=1e-4)


# --- Lucas-Kanade ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("motion", [(3.4, -2.2), (-7.0, 5.5), (0.0, 0.0)])
def test_lk_follows_a_known_translation_without_a_hint(motion) -> None:
    before = texture()
    after = shifted(before, *motion)
    start = face_points()
    tracked, trusted = track_points(before, after, start, guess=start)
    assert trusted.all()
    np.testing.assert_allclose(tracked, start + np.asarray(motion, np.float32), atol=0.1)


def test_points_on_an_unrelated_image_are_not_trusted() -> None:
    start = face_points()
    _, trusted = track_points(texture(seed=0), texture(seed=99), start, guess=start)
    assert trusted.mean() < 0.5


# --- the Kalman filter -----------------------------------------------------------------------------------------


def test_kalman_output_lies_between_track_and_detection() -> None:
    rng = np.random.default_rng(3)
    tracked, detected = rng.random((68, 2)) * 100, rng.random((68, 2)) * 100
    variance, measurement = rng.random(68), rng.random(68) * 3
    trusted = np.arange(68) % 5 != 0
    fused, new_variance = kalman_fuse(tracked, detected, variance, measurement, trusted)
    gain = (variance + PROCESS_NOISE) / (variance + PROCESS_NOISE + measurement)
    assert ((gain > 0) & (gain < 1)).all()
    np.testing.assert_allclose(fused[trusted], (tracked + gain[:, None] * (detected - tracked))[trusted], atol=1e-4)
    np.testing.assert_allclose(fused[~trusted], detected[~trusted], atol=1e-4)
    np.testing.assert_allclose(new_variance[trusted], ((1 - gain) * (variance + PROCESS_NOISE))[trusted])
    np.testing.assert_allclose(new_variance[~trusted], variance[~trusted])


def test_a_still_detection_is_taken_as_it_is() -> None:
    """Zero detected motion gives a zero measurement variance: gain 1, the output is the detection."""
    tracked, detected = np.zeros((68, 2)), np.ones((68, 2))
    fused, _ = kalman_fuse(tracked, detected, np.zeros(68), np.zeros(68), np.ones(68, bool))
    np.testing.assert_allclose(fused, detected)


# --- the calibrator --------------------------------------------------------------------------------------------


def moving_sequence(frames: int = 8, noise_px: float = 1.5, seed: int = 5):
    """Frames of a texture moving 2 px right and 1 px down a frame, the true points, and noisy detections."""
    rng = np.random.default_rng(seed)
    base, truth0 = texture(), face_points()
    for i in range(frames):
        motion = np.array([2.0 * i, 1.0 * i], np.float32)
        truth = truth0 + motion
        yield shifted(base, *motion), truth, truth + rng.normal(0, noise_px, truth.shape).astype(np.float32)


def test_first_step_returns_the_detection() -> None:
    gray, _, detected = next(moving_sequence())
    out = LandmarkCalibrator().step(gray, detected)
    assert out.dtype == np.float32 and out.shape == (68, 2)
    np.testing.assert_array_equal(out, detected)


def test_calibrated_points_lie_between_the_track_and_the_detection() -> None:
    calibrator = LandmarkCalibrator()
    (gray0, truth0, _), (gray1, truth1, detected1) = list(moving_sequence(2))
    calibrator.step(gray0, truth0)
    out = calibrator.step(gray1, detected1)
    # LK tracks the exactly known previous points onto the true ones, so the output lies on [truth, detection]
    along = np.linalg.norm(out - truth1, axis=1) + np.linalg.norm(detected1 - out, axis=1)
    np.testing.assert_allclose(along, np.linalg.norm(detected1 - truth1, axis=1), atol=0.15)
    assert np.linalg.norm(out - detected1, axis=1).mean() > 0.1, "the track must pull the output off the detection"


def test_calibration_removes_detection_jitter() -> None:
    calibrator = LandmarkCalibrator()
    detected_error, calibrated_error = [], []
    for gray, truth, detected in moving_sequence(10):
        out = calibrator.step(gray, detected)
        detected_error.append(np.linalg.norm(detected - truth, axis=1).mean())
        calibrated_error.append(np.linalg.norm(out - truth, axis=1).mean())
    assert np.mean(calibrated_error[3:]) < 0.8 * np.mean(detected_error[3:])


def test_reset_starts_a_new_sequence() -> None:
    sequence = list(moving_sequence(5))
    used = LandmarkCalibrator()
    for gray, _, detected in sequence[::-1]:
        used.step(gray, detected)
    used.reset()
    fresh = LandmarkCalibrator()
    for gray, _, detected in sequence:
        np.testing.assert_array_equal(used.step(gray, detected), fresh.step(gray, detected))
    used.reset()
    np.testing.assert_array_equal(used.step(sequence[3][0], sequence[3][2]), sequence[3][2])
    other_size = cv2.resize(sequence[4][0], (WIDTH // 2, HEIGHT // 2))
    np.testing.assert_array_equal(used.step(other_size, sequence[4][2] / 2), sequence[4][2] / 2)


# --- normalisation ---------------------------------------------------------------------------------------------


def test_normalisation_is_the_documented_mapping() -> None:
    points = face_points(seed=7, centre=(412.0, 233.0), size=(160.0, 200.0))
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = (low + high) / 2, 1.2 * (high - low).max() / 2
    expected = np.rint((points - centre) / half * 200) / 200
    out = normalise_landmarks(points, detection_around(points))
    assert out.dtype == np.float32 and out.shape == (68, 2)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(out * 200, np.rint(out * 200), atol=1e-4)  # the authors' 1/200 grid
    longer = int(np.argmax(high - low))
    assert out[:, longer].max() == pytest.approx(0.835) and out[:, longer].min() == pytest.approx(-0.835)


def test_normalisation_ignores_where_and_how_large_the_face_is() -> None:
    points = face_points(seed=8)
    moved = points * 2.5 + np.array([-300.0, 140.0], np.float32)
    np.testing.assert_allclose(normalise_landmarks(moved, detection_around(moved)),
                               normalise_landmarks(points, detection_around(points)), atol=0.005 + 1e-6)


def test_points_spanning_no_box_are_framed_by_the_detection() -> None:
    detection = FaceDetection((100.0, 100.0, 300.0, 300.0), 0.99, ((0.0, 0.0),) * 5)
    collapsed = np.full((68, 2), 200.0, np.float32)
    out = normalise_landmarks(collapsed, detection)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, np.full((68, 2), [0.0, -0.24]), atol=0.005)
