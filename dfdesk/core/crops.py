"""Crops cut from full-resolution upright frames, as a detector's model card asks.

* face crops: the detection box made square, dilated by a margin (Su et al.: 30%), resized;
  parts outside the frame are filled with zeros (or edge pixels);
* mouth crops (LipForensics): grayscale, turned so the eyes are level, scaled by the face
  size, a 96x96 region centred on the mouth, of which the centre 88x88 is kept; the eyes and the
  mouth come from the 68 landmarks (mouth centre = the middle of the inner lip line), or from
  MTCNN's 5 points where no landmarks are given (bench/landmarks.py --mouth compares the two);
* ``align_face``: optional 5-point similarity alignment to a canonical frontal template;
* landmark "crops" (kinds ``landmarks`` and ``frame_landmarks``): not pixels but a face's 68 iBUG points,
  float32 (68, 2), computed over consecutive frames by the face pipeline (core/landmark_stream.py), never ``cut``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from PIL import Image

from dfdesk.core.landmarks import IBUG_POINTS, shared_landmarker
from dfdesk.core.types import FaceDetection

MOUTH_REGION = 96
MOUTH_CROP = 88
# Face size (mean of eye distance and eye-to-mouth distance) in pixels of the 96x96 mouth region;
# chosen so the framing matches the LipForensics example crops (mouth corners ~50 px apart).
MOUTH_FACE_SIZE = 58.0
# Canonical 5-point template (left eye, right eye, nose, mouth left, mouth right) in a unit square.
FACE_TEMPLATE = np.array([[0.34, 0.42], [0.66, 0.42], [0.50, 0.58], [0.37, 0.74], [0.63, 0.74]], np.float64)


# Landmark kinds: "landmarks" are LRNet's input (calibrated over consecutive frames, then normalised by
# dfdesk.core.landmark_calibration.normalise_landmarks); "frame_landmarks" are the detected points in frame pixels
# (for drawing and for the self-blended trainer's masks).  Both are float32 (68, 2) per face.
LANDMARK_KINDS = ("landmarks", "frame_landmarks")
CROP_KINDS = ("face", "mouth", *LANDMARK_KINDS)


@dataclass(frozen=True)
class CropSpec:
    kind: str = "face"  # "face" | "mouth" | "landmarks" | "frame_landmarks"
    size: int = 224  # pixels; for the landmark kinds the number of points (68)
    margin: float = 0.3
    colour: str = "rgb"  # "rgb" | "gray"

    def __post_init__(self):
        if self.kind not in CROP_KINDS:
            raise ValueError(f"unknown crop kind {self.kind!r}; choose one of {', '.join(CROP_KINDS)}")
        if self.colour not in ("rgb", "gray"):
            raise ValueError(f"unknown crop colour {self.colour!r}; choose rgb or gray")
        if self.size < 1 or self.margin < 0:
            raise ValueError(f"crop size must be positive and margin non-negative ({self.size}, {self.margin})")
        if self.is_landmarks and (self.size, self.margin, self.colour) != (IBUG_POINTS, 0.0, "rgb"):
            raise ValueError(f"a {self.kind} spec is CropSpec({self.kind!r}, {IBUG_POINTS}, 0.0, 'rgb'), "
                             f"not size {self.size}, margin {self.margin}, colour {self.colour!r}")

    @classmethod
    def from_input(cls, spec) -> CropSpec:
        """From a detector's :class:`dfdesk.detectors.base.InputSpec` (mouth crops are always 88 gray; landmark
        sequences are always LANDMARKS, whatever the card's size and margin say about their normalisation)."""
        if spec.crop == "mouth":
            return cls(kind="mouth", size=MOUTH_CROP, margin=0.0, colour="gray")
        if spec.crop == "landmarks":
            return LANDMARKS
        return cls(kind="face", size=spec.size, margin=spec.margin, colour=spec.colour)

    @property
    def is_landmarks(self) -> bool:
        return self.kind in LANDMARK_KINDS

    def value_shape(self) -> tuple[int, ...]:
        """Shape of one face's value: (68, 2) points, (size, size) gray or mouth, (size, size, 3) rgb."""
        if self.is_landmarks:
            return (IBUG_POINTS, 2)
        return (self.size, self.size) + (() if self.colour == "gray" or self.kind == "mouth" else (3,))

    @property
    def value_dtype(self) -> type:
        return np.float32 if self.is_landmarks else np.uint8

    def to_dict(self) -> dict:
        return asdict(self)

    def cut(self, image: np.ndarray, detection: FaceDetection) -> np.ndarray:
        """This crop of ``detection`` in the RGB ``image``: (size, size, 3) for rgb, (size, size) for gray.

        Landmark kinds are not cut from one frame (see core/landmark_stream.py): asking is an error.
        """
        if self.is_landmarks:
            raise ValueError(f"{self.kind} are computed by the face pipeline over frames, not cut from one image")
        if self.kind == "mouth":
            crop = mouth_crop(image, detection, shared_landmarker().landmarks(image, [detection])[0])
            return crop if self.size == MOUTH_CROP else cv2.resize(crop, (self.size, self.size))
        crop = face_crop(image, detection, self.size, self.margin)
        return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if self.colour == "gray" else crop


LANDMARKS = CropSpec("landmarks", IBUG_POINTS, 0.0, "rgb")
FRAME_LANDMARKS = CropSpec("frame_landmarks", IBUG_POINTS, 0.0, "rgb")


def square_box(detection: FaceDetection, margin: float) -> tuple[int, int, int, int]:
    """Integer square (x1, y1, x2, y2) around the box centre, side = longer box side x (1 + margin)."""
    x1, y1, x2, y2 = detection.box
    side = max(x2 - x1, y2 - y1) * (1.0 + margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    side = max(1, round(side))
    return left, top, left + side, top + side


def padded_region(image: np.ndarray, box: tuple[int, int, int, int], pad: str = "zero") -> np.ndarray:
    """``image[y1:y2, x1:x2]`` where parts outside the image are zeros (``pad="zero"``) or edge pixels."""
    x1, y1, x2, y2 = box
    height, width = image.shape[:2]
    inside = inside_region(image, box)
    borders = (max(-y1, 0), max(y2 - height, 0), max(-x1, 0), max(x2 - width, 0))
    if not any(borders):
        return inside
    if inside.size == 0:
        return np.zeros((y2 - y1, x2 - x1) + image.shape[2:], image.dtype)
    mode = cv2.BORDER_REPLICATE if pad == "edge" else cv2.BORDER_CONSTANT
    return cv2.copyMakeBorder(inside, *borders, mode, value=0)


def inside_region(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The part of ``box`` that lies inside ``image`` (no padding: near an edge the region is not square)."""
    x1, y1, x2, y2 = box
    height, width = image.shape[:2]
    return image[max(y1, 0) : max(min(y2, height), 0), max(x1, 0) : max(min(x2, width), 0)]


def resize_square(region: np.ndarray, size: int, method: str = "area") -> np.ndarray:
    """``region`` resized to size x size: ``"area"`` (INTER_AREA shrinking, bilinear enlarging) or
    ``"bicubic"`` (Pillow's antialiased bicubic, the default of ``PIL.Image.resize``)."""
    if method == "bicubic":
        return np.asarray(Image.fromarray(np.ascontiguousarray(region)).resize((size, size), Image.BICUBIC))
    if method != "area":
        raise ValueError(f"unknown resize method {method!r}; choose area or bicubic")
    shrinking = region.shape[0] > size
    return cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def face_crop(image: np.ndarray, detection: FaceDetection, size: int, margin: float = 0.3,
              pad: str = "zero") -> np.ndarray:
    """uint8 (size, size, C): the square face box dilated by ``margin``, resized."""
    return resize_square(padded_region(image, square_box(detection, margin), pad), size)


def mouth_frame(detection: FaceDetection, points: np.ndarray | None = None
                ) -> tuple[tuple[float, float], float, float]:
    """(mouth centre, eye-line angle in degrees, face size in pixels).

    With ``points`` (the face's 68 iBUG landmarks): eye centres = means of each eye's six points, mouth centre =
    mean of the eight inner-lip points (60-67), the middle of the lip line.  Without: MTCNN's eyes and the midpoint
    of its mouth corners.  (LipForensics centres on the mean of all 20 lip points, 48-67, of its own landmarks; with
    dfdesk's points the inner-lip mean frames FF++ mouths closer to its example crops: bench/landmarks.py --mouth.)
    """
    if points is not None:
        (lx, ly), (rx, ry) = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
        mouth = tuple(float(v) for v in points[60:68].mean(axis=0))
    else:
        (lx, ly), (rx, ry), _, (mlx, mly), (mrx, mry) = detection.landmarks
        mouth = ((mlx + mrx) / 2, (mly + mry) / 2)
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    eyes = ((lx + rx) / 2, (ly + ry) / 2)
    size = (math.dist((lx, ly), (rx, ry)) + math.dist(eyes, mouth)) / 2
    return mouth, angle, float(size)


def mouth_matrix(detection: FaceDetection, points: np.ndarray | None = None) -> np.ndarray:
    """2x3 affine map from frame pixels to the pixels of the 88x88 mouth crop (where landmarks land)."""
    centre, angle, face_size = mouth_frame(detection, points)
    matrix = cv2.getRotationMatrix2D(centre, angle, MOUTH_FACE_SIZE / max(face_size, 1e-6))
    middle = (MOUTH_CROP - 1) / 2
    matrix[:, 2] += (middle - centre[0], middle - centre[1])
    return matrix


def mouth_crop(image: np.ndarray, detection: FaceDetection, points: np.ndarray | None = None) -> np.ndarray:
    """uint8 (88, 88) grayscale: eye line level, face scaled to a fixed size, mouth at the centre (see
    :func:`mouth_frame` for ``points``)."""
    centre, angle, face_size = mouth_frame(detection, points)
    scale = MOUTH_FACE_SIZE / max(face_size, 1e-6)
    region = _rotated_region(image, centre, angle, scale, MOUTH_REGION)
    gray = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY) if region.ndim == 3 else region
    offset = (MOUTH_REGION - MOUTH_CROP) // 2
    return np.ascontiguousarray(gray[offset : offset + MOUTH_CROP, offset : offset + MOUTH_CROP])


def _rotated_region(image: np.ndarray, centre: tuple[float, float], angle: float, scale: float,
                    out: int) -> np.ndarray:
    """``out`` x ``out`` pixels around ``centre`` after turning by ``angle`` and scaling by ``scale``.

    Large shrinks first average the neighbourhood (INTER_AREA) so small crops of big faces do not alias.
    """
    if scale < 0.5:
        reach = math.ceil(out / scale * 0.75) + 2  # half-diagonal of the output, in source pixels
        cx, cy = round(centre[0]), round(centre[1])
        patch = padded_region(image, (cx - reach, cy - reach, cx + reach, cy + reach))
        side = max(1, round(2 * reach * scale * 2))  # keep twice the final resolution for the warp
        patch = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
        factor = side / (2 * reach)
        centre = (centre[0] - (cx - reach)) * factor, (centre[1] - (cy - reach)) * factor
        image, scale = patch, scale / factor
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[:, 2] += ((out - 1) / 2 - centre[0], (out - 1) / 2 - centre[1])  # centre between the middle pixels
    return cv2.warpAffine(image, matrix, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity (rotation, uniform scale, shift) mapping ``source`` points to ``target``."""
    src_mean, dst_mean = source.mean(0), target.mean(0)
    src, dst = source - src_mean, target - dst_mean
    a = (src * dst).sum()  # sum of dot products
    b = (src[:, 0] * dst[:, 1] - src[:, 1] * dst[:, 0]).sum()  # sum of cross products
    norm = (src**2).sum()
    scale_cos, scale_sin = a / norm, b / norm
    rotation = np.array([[scale_cos, -scale_sin], [scale_sin, scale_cos]])
    shift = dst_mean - rotation @ src_mean
    return np.hstack([rotation, shift[:, None]])


def align_face(image: np.ndarray, detection: FaceDetection, size: int, margin: float = 0.3) -> np.ndarray:
    """uint8 (size, size, C): the face warped so its 5 landmarks best fit the canonical template.

    ``margin`` widens the view around the template (same meaning as for :func:`face_crop`).
    """
    template = (FACE_TEMPLATE - 0.5) / (1.0 + margin) + 0.5
    matrix = similarity_transform(np.asarray(detection.landmarks, np.float64), template * size)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
