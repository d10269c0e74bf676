"""LRNet's landmark calibration and normalisation (Sun et al., CVPR 2021, "Improving the Efficiency and Robustness
of Deepfakes Detection through Precise Geometric Features", section 3.2).

**Calibration.**  A landmark detector run frame by frame jitters by a pixel or two, and LRNet reads exactly the
small frame-to-frame motion of the landmarks, so the paper denoises the sequence: the previous frame's calibrated
points are tracked into this frame by pyramidal Lucas-Kanade optical flow (started from this frame's detection), a
point whose forward-backward track does not return home is not trusted, and a per-point Kalman filter fuses the
track with the detection.  Parameters are those of the authors' code (frederickszk/LRNet, ``calibrator/LC.py`` and
``demo/utils/landmark_utils.py``: ``check_and_merge`` and the ``calcOpticalFlowPyrLK`` call, read, not copied):

* both frames are seen through the same square *face window* (1.2 times the longer side of the detected points'
  box, resampled to 400 x 400 px): the authors track in such 400-px face crops, so the 15 x 15 LK window, the
  3 pyramid levels and the 2-px forward-backward limit keep their meaning whatever the face's size in the frame;
* LK: 15 x 15 window, 3 pyramid levels, stop after 10 iterations or a 0.03 px step, initial flow = the detection;
* a point is trusted when both LK passes found it and its backward track lands within 2 window px of where it
  started (points rounded to whole window pixels, as the authors round them);
* Kalman, per point: prediction = the tracked point with variance ``P + Q`` (Q = 0.3, ``P`` starts at 0);
  measurement = the detected point with variance ``R = |detection motion| / |tracked motion|`` (whole window
  pixels; a tracked motion of 0 counts as 1), so a detection that jumps more than the image moved is trusted less;
  gain ``K = (P + Q) / (P + Q + R)``, output ``tracked + K (detected - tracked)``, then ``P = (1 - K)(P + Q)``.
  An untrusted point takes the detection and keeps its ``P``.

Differences from the authors' code: the fusion uses the unrounded LK and detected points (the authors fuse whole
window pixels and truncate the result); both frames are resampled into the *current* frame's window (the authors
crop each frame around its own detection, which adds the crop's shift to the measured motion).

**Normalisation** (:func:`normalise_landmarks`).  The authors' landmark files (``demo/landmarks/*.txt``: one frame a
line, 68 x, y pairs) are not aligned (no rotation; alignment was dropped in 2022) and not relative to a face
detector's box: each frame's points are measured in the 400-px face window around the *landmarks' own* box,
``u = (p - c) / (side / 2)`` rounded to whole window pixels (multiples of 1/200), where ``c`` is the centre of the
points' box and ``side`` = 1.2 times its longer side.  Their calibrator API (``calibrator/LC.py``) takes ``side``
from each frame; the 2024 demo extraction that wrote the shipped files holds it at 1.2 times the video's *mean*
longer side (and keeps the previous centre when it moved less than 1.42 px), which a per-frame function cannot
know.  Measured on the four files: the points' box spans 1.667-1.680 on average (2 / 1.2 = 1.667), its centre lies
within 0.003 of 0, and its per-frame side varies by 1.0-2.9 % around that mean and by 0.9 % from one frame to the
next: the scale difference between the per-frame window used here and the authors' video-mean window.  An MTCNN
box would be the alternative scale (the half-window is 0.536 box sides, 0.532-0.540 over the four clips) but its
side jitters by 1.8-2.7 % from frame to frame, twice the landmarks' own box; it is used only when the points span
no usable box (a failed landmark fit).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dfdesk.core.types import FaceDetection

POINTS = 68
WINDOW_SCALE = 1.2  # face window side / longer side of the points' box
WINDOW_PX = 400  # the face window's side after resampling; normalised points lie on its 1/200 grid
LK_PARAMS = {
    "winSize": (15, 15),
    "maxLevel": 3,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03),
}
FEEDBACK_LIMIT_PX = 2.0  # forward-backward LK error beyond which a point is not trusted (window pixels)
PROCESS_NOISE = 0.3  # Kalman Q added to each point's variance at every frame
MIN_BOX_PX = 2.0  # points spanning less than this (frame pixels) are no face: normalise by the detection box
HALF_WINDOW_PER_BOX_SIDE = 0.536  # half-window / MTCNN box side, measured on the four LRNet demo clips
WINDOW_BELOW_BOX = 0.24  # window centre - MTCNN box centre, downwards, in half-windows (same measurement)


@dataclass(frozen=True)
class FaceWindow:
    """A square of the frame, ``side`` frame pixels wide around ``centre``, seen as WINDOW_PX x WINDOW_PX pixels."""

    centre: tuple[float, float]
    side: float

    @classmethod
    def around(cls, points: np.ndarray) -> FaceWindow:
        """The authors' window: centred on the points' box, WINDOW_SCALE times its longer side."""
        low, high = points.min(axis=0), points.max(axis=0)
        centre = (low + high) / 2
        return cls((float(centre[0]), float(centre[1])), WINDOW_SCALE * float((high - low).max()))

    @property
    def scale(self) -> float:
        """Window pixels per frame pixel."""
        return WINDOW_PX / self.side

    def to_window(self, points: np.ndarray) -> np.ndarray:
        return ((points - np.asarray(self.centre)) * self.scale + WINDOW_PX / 2).astype(np.float32)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        return ((points - WINDOW_PX / 2) / self.scale + np.asarray(self.centre)).astype(np.float32)

    def image(self, gray: np.ndarray) -> np.ndarray:
        """The window's pixels of a (H, W) uint8 frame (edges replicated where the window leaves the frame).

        Enlarged with bicubic interpolation, as the authors resize small faces; a window larger than WINDOW_PX is
        first shrunk with the frame by pixel-area averaging (their choice for large faces), then placed.
        """
        height, width = gray.shape[:2]
        source, interpolation = gray, cv2.INTER_CUBIC
        if self.scale < 1:
            size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
            source, interpolation = cv2.resize(gray, size, interpolation=cv2.INTER_AREA), cv2.INTER_LINEAR
        gain_x, gain_y = self.scale * width / source.shape[1], self.scale * height / source.shape[0]
        matrix = np.array([[gain_x, 0, self._offset(gain_x, self.centre[0])],
                           [0, gain_y, self._offset(gain_y, self.centre[1])]])
        return cv2.warpAffine(source, matrix, (WINDOW_PX, WINDOW_PX), flags=interpolation,
                              borderMode=cv2.BORDER_REPLICATE)

    def _offset(self, gain: float, centre: float) -> float:
        """Shift of the map from a source pixel to a window pixel along one axis.  The source is the frame shrunk by
        ``scale / gain`` (pixel centres: frame = (source + 0.5) * gain / scale - 0.5); gain = scale: the frame."""
        return 0.5 * gain - 0.5 * self.scale - self.scale * centre + WINDOW_PX / 2


def track_points(previous: np.ndarray, current: np.ndarray, start: np.ndarray,
                 guess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pyramidal LK from ``previous`` to ``current`` (uint8 images), started at ``guess``; then back again.

    Returns the tracked (N, 2) float32 points and a bool (N,) mask of the trusted ones: found by both passes and
    back within FEEDBACK_LIMIT_PX of ``start`` (both rounded to whole pixels).
    """
    start = np.ascontiguousarray(start, np.float32)
    forward, found_forward, _ = cv2.calcOpticalFlowPyrLK(previous, current, start, guess.astype(np.float32).copy(),
                                                         flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **LK_PARAMS)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, forward, start.copy(),
                                                   flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **LK_PARAMS)
    returned = np.linalg.norm(np.rint(back) - np.rint(start), axis=1) <= FEEDBACK_LIMIT_PX
    trusted = returned & (found_forward.ravel() == 1) & (found_back.ravel() == 1)
    return forward.reshape(-1, 2), trusted


def detection_variance(detected_before: np.ndarray, detected: np.ndarray, start: np.ndarray,
                       tracked: np.ndarray) -> np.ndarray:
    """The authors' measurement variance per point: detected motion / tracked motion (whole pixels; 0 counts as 1)."""
    detected_motion = np.linalg.norm(np.rint(detected) - np.rint(detected_before), axis=1)
    tracked_motion = np.linalg.norm(np.rint(tracked) - np.rint(start), axis=1)
    return detected_motion / np.where(tracked_motion == 0, 1.0, tracked_motion)


def kalman_fuse(tracked: np.ndarray, detected: np.ndarray, variance: np.ndarray, measurement_variance: np.ndarray,
                trusted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Kalman step per point: returns the fused (N, 2) points and the new (N,) variances.

    Trusted points move from the track towards the detection by the gain ``K = P' / (P' + R)``, P' = P + Q;
    the others take the detection and keep their variance.
    """
    predicted = variance + PROCESS_NOISE
    gain = predicted / (predicted + measurement_variance)
    fused = tracked + gain[:, None] * (detected - tracked)
    fused = np.where(trusted[:, None], fused, detected).astype(np.float32)
    return fused, np.where(trusted, (1 - gain) * predicted, variance)


@dataclass(frozen=True)
class _Previous:
    gray: np.ndarray
    detected: np.ndarray
    calibrated: np.ndarray


class LandmarkCalibrator:
    """Calibrates the landmarks of one face track, frame after consecutive frame (see the module docstring).

    Feed consecutive frames of one face; call :meth:`reset` before another track or after a gap in the frames.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame and the Kalman variances: the next step starts a new sequence."""
        self._previous: _Previous | None = None
        self._variance = np.zeros(POINTS)

    def step(self, gray: np.ndarray, points: np.ndarray) -> np.ndarray:
        """gray: (H, W) uint8 full frame; points: (68, 2) float32 detected landmarks in frame pixels of this frame.
        Returns the calibrated (68, 2) float32 points. The first step after construction or reset() returns the
        detected points."""
        detected = np.asarray(points, np.float32).reshape(POINTS, 2)
        if self._previous is not None and self._previous.gray.shape != gray.shape:
            self.reset()  # frames of another size: nothing to track from
        calibrated = detected.copy() if self._previous is None else self._calibrate(gray, detected)
        self._previous = _Previous(gray.copy(), detected.copy(), calibrated)
        return calibrated.copy()

    def _calibrate(self, gray: np.ndarray, detected: np.ndarray) -> np.ndarray:
        previous = self._previous
        window = FaceWindow.around(detected)
        if not window.side > 0:
            return detected.copy()
        start, measured = window.to_window(previous.calibrated), window.to_window(detected)
        tracked, trusted = track_points(window.image(previous.gray), window.image(gray), start, measured)
        spread = detection_variance(window.to_window(previous.detected), measured, start, tracked)
        fused, self._variance = kalman_fuse(tracked, measured, self._variance, spread, trusted)
        return window.to_frame(fused)


def normalise_landmarks(points: np.ndarray, detection: FaceDetection) -> np.ndarray:
    """(68, 2) frame pixels -> (68, 2) float32 in LRNet's input convention.

    ``(p - c) / (side / 2)`` on the 1/200 grid, with ``c`` the centre of the points' box and ``side`` 1.2 times its
    longer side (see the module docstring for how this reproduces the authors' files).  ``detection`` (the MTCNN
    face the points belong to) frames the points only when they span no usable box (a failed landmark fit).
    """
    points = np.asarray(points, np.float64).reshape(POINTS, 2)
    window = FaceWindow.around(points) if _spans_a_face(points) else _window_of_box(detection)
    normalised = (points - np.asarray(window.centre)) / (window.side / 2)
    return (np.rint(normalised * (WINDOW_PX / 2)) / (WINDOW_PX / 2)).astype(np.float32)


def _spans_a_face(points: np.ndarray) -> bool:
    return bool(np.isfinite(points).all()) and float((points.max(axis=0) - points.min(axis=0)).max()) >= MIN_BOX_PX


def _window_of_box(detection: FaceDetection) -> FaceWindow:
    """The face window estimated from an MTCNN box (the measured ratios above): the landmarks' box sits lower."""
    x1, y1, x2, y2 = detection.box
    half = HALF_WINDOW_PER_BOX_SIDE * ((x2 - x1) + (y2 - y1)) / 2
    return FaceWindow(((x1 + x2) / 2, (y1 + y2) / 2 + WINDOW_BELOW_BOX * half), 2 * half)
