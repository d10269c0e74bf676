"""Pseudo-fakes made from real faces only.

* Self-blended images (Shiohara & Yamasaki, CVPR 2022): a face is blended with a colour-, sharpness- and
  scale-transformed copy of itself through a soft mask built from its landmarks.  dfdesk has MTCNN's five
  landmarks (left eye, right eye, nose, mouth left, mouth right), so the mask is the convex hull of those points
  plus forehead and chin points, enlarged, randomly deformed, eroded or dilated, and blurred.  Only the inner
  (source) copy is transformed, so the result differs from the input only where the mask is non-zero.
* Video-level blending (Yan et al., 2024, the StA paper): one set of random parameters for every frame of a
  clip, the mask following each frame's landmarks, so the blending artefact is temporally consistent.

Inputs are uint8 RGB face crops (H, W, 3) with landmarks in crop pixels; all randomness comes from a numpy
Generator.  The paper's own recipe, on 68 landmarks, is :mod:`trainer.sbi` (``pseudo_fakes = "sbi"``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

N_MASK_POINTS = 8  # 5 landmarks + 2 forehead points + 1 chin point
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


class PseudoFakeError(ValueError):
    """A face crop or its landmarks cannot be used to make a pseudo-fake."""


@dataclass(frozen=True)
class BlendParams:
    """Every random choice of one blend; lengths are relative to the face scale (eye-to-mouth distance)."""

    hull_scale: float  # enlargement of the landmark hull about its centre
    forehead: float  # how far above the eyes the mask reaches
    jitter: tuple[tuple[float, float], ...]  # per mask point offset (N_MASK_POINTS x 2)
    morph: float  # < 0 erodes, > 0 dilates the hard mask
    blur: float  # Gaussian sigma of the soft edge
    blend_ratio: float  # opacity of the inner copy
    rgb_shift: tuple[float, float, float]  # added to R, G, B (0..255 scale)
    brightness: float  # added, fraction of 255
    contrast: float  # multiplier about mid-grey
    sharpen: float  # > 0 sharpens, < 0 blurs the inner copy
    scale: float  # resize of the inner copy about the face centre
    shift: tuple[float, float]  # translation of the inner copy


@dataclass(frozen=True)
class BlendResult:
    image: np.ndarray  # uint8 (H, W, 3), or (T, H, W, 3) for a clip
    mask: np.ndarray  # float32 in [0, 1], (H, W) or (T, H, W)
    params: BlendParams


def sample_blend_params(rng: np.random.Generator) -> BlendParams:
    """Draw one set of blend parameters."""
    return BlendParams(
        hull_scale=float(rng.uniform(1.15, 1.6)),
        forehead=float(rng.uniform(0.3, 0.8)),
        jitter=tuple(tuple(float(v) for v in row) for row in rng.uniform(-0.08, 0.08, (N_MASK_POINTS, 2))),
        morph=float(rng.uniform(-0.06, 0.06)),
        blur=float(rng.uniform(0.04, 0.12)),
        blend_ratio=float(rng.choice(BLEND_RATIOS)),
        rgb_shift=tuple(float(v) for v in rng.uniform(-20, 20, 3)),
        brightness=float(rng.uniform(-0.1, 0.1)),
        contrast=float(rng.uniform(0.85, 1.15)),
        sharpen=float(rng.uniform(-0.8, 0.8)),
        scale=float(rng.uniform(0.95, 1.05)),
        shift=tuple(float(v) for v in rng.uniform(-0.03, 0.03, 2)),
    )


def check_face(face: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Validate a crop and return its landmarks as float (5, 2)."""
    if not isinstance(face, np.ndarray) or face.dtype != np.uint8 or face.ndim != 3 or face.shape[2] != 3:
        raise PseudoFakeError(f"face must be a uint8 RGB array (H, W, 3), got {getattr(face, 'shape', type(face))}")
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.all(np.isfinite(points)):
        raise PseudoFakeError(f"landmarks must be 5 finite (x, y) points, got shape {points.shape}")
    return points


def face_geometry(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(centre, unit 'up' vector, scale) of a face from its 5 landmarks."""
    eyes, mouth = points[:2].mean(axis=0), points[3:].mean(axis=0)
    up = eyes - mouth
    length = float(np.hypot(*up))
    scale = max(length, float(np.hypot(*(points[1] - points[0]))), 1.0)
    return points.mean(axis=0), (up / length if length > 0 else np.array([0.0, -1.0])), scale


def mask_points(points: np.ndarray, params: BlendParams) -> np.ndarray:
    """The deformed, enlarged polygon points around eyes, nose, mouth, forehead and chin."""
    centre, up, scale = face_geometry(points)
    mouth = points[3:].mean(axis=0)
    extra = [points[0] + up * params.forehead * scale, points[1] + up * params.forehead * scale,
             mouth - up * 0.35 * scale]
    polygon = np.vstack([points, extra])
    polygon = centre + (polygon - centre) * params.hull_scale
    return polygon + np.asarray(params.jitter) * scale


def blend_mask(shape: tuple[int, int], landmarks: np.ndarray, params: BlendParams) -> np.ndarray:
    """Soft float32 mask (H, W) in [0, 1]: hull of the mask points, eroded or dilated, blurred."""
    points = np.asarray(landmarks, dtype=np.float64)
    scale = face_geometry(points)[2]
    hull = cv2.convexHull(np.round(mask_points(points, params)).astype(np.int32))
    hard = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(hard, hull, 1)
    radius = int(round(abs(params.morph) * scale))
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        hard = (cv2.dilate if params.morph > 0 else cv2.erode)(hard, kernel)
    soft = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), max(params.blur * scale, 0.5))
    peak = float(soft.max())
    return (soft / peak * params.blend_ratio).astype(np.float32) if peak > 0 else soft


def transform_source(face: np.ndarray, landmarks: np.ndarray, params: BlendParams) -> np.ndarray:
    """The inner copy: colour shift, brightness/contrast, sharpen or blur, then scale and shift about the face."""
    image = face.astype(np.float32) + np.asarray(params.rgb_shift, np.float32)
    image = (image - 128.0) * params.contrast + 128.0 + params.brightness * 255.0
    image = image + params.sharpen * (image - cv2.GaussianBlur(image, (0, 0), 1.0))
    centre, _, scale = face_geometry(np.asarray(landmarks, dtype=np.float64))
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 0.0, params.scale)
    matrix[:, 2] += np.asarray(params.shift) * scale
    height, width = face.shape[:2]
    image = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return np.clip(image, 0, 255)


def blend_with(face: np.ndarray, landmarks: np.ndarray, params: BlendParams) -> BlendResult:
    """Self-blend one face with given parameters."""
    points = check_face(face, landmarks)
    mask = blend_mask(face.shape, points, params)
    alpha = mask[..., None]
    blended = alpha * transform_source(face, points, params) + (1.0 - alpha) * face.astype(np.float32)
    return BlendResult(np.clip(np.rint(blended), 0, 255).astype(np.uint8), mask, params)


def self_blend(face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> BlendResult:
    """A self-blended image (SBI) from one real face crop."""
    check_face(face, landmarks)
    return blend_with(face, landmarks, sample_blend_params(rng))


def self_blend_clip(frames: Sequence[np.ndarray], landmarks: Sequence[np.ndarray],
                    rng: np.random.Generator) -> BlendResult:
    """Video-level blend: one parameter draw for all frames; the mask follows each frame's landmarks."""
    if len(frames) == 0 or len(frames) != len(landmarks):
        raise PseudoFakeError(f"need one landmark set per frame and at least one frame, got {len(frames)} frames "
                              f"and {len(landmarks)} landmark sets")
    params = sample_blend_params(rng)
    results = [blend_with(frame, points, params) for frame, points in zip(frames, landmarks, strict=True)]
    return BlendResult(np.stack([r.image for r in results]), np.stack([r.mask for r in results]), params)
