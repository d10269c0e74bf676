"""Self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022).

A pseudo-fake is made from ONE real face crop and its 68 iBUG landmarks (crop pixels), as the paper describes:

* **Source-target generator**: the crop is copied into a source and a target.  Colour transforms (RGB shift;
  hue, saturation and value; brightness and contrast) and one frequency transform (sharpening, or down- then
  up-sampling) go to one of the two copies, either one, with equal chance.  The source is then resized a little
  (each axis on its own) and translated a little about the face centre, so its face no longer sits exactly where
  the target's does.
* **Mask generator**: the convex hull of a landmark region (the whole face; the face with the forehead; the inner
  face without the jaw; or eyes-and-brows, nose and mouth as separate hulls, the region types of Face X-ray that
  the paper draws from), elastically deformed, blurred twice with random kernels (the first blur's soft edge is
  cut away, which erodes the mask; the second makes the final soft edge), scaled to a peak of 1 and multiplied by
  a blend ratio from the paper's set {0.25, 0.5, 0.75, 1, 1, 1}.  A mask eroded to almost nothing (small
  components and a large first blur) is drawn again as the whole face, so no "fake" is left unchanged.
* **Blend**: ``mask * source + (1 - mask) * target``.

The parameters (not the code) follow the paper and its published settings where they are stated; lengths are
relative to the crop side: the elastic field is stated for the paper's 380 px crops, the blur kernels for a
224 px mask (the authors blur the mask at 192-256 px).  Every random
choice is drawn from the numpy Generator passed in, so a sample is reproducible from its seed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

LANDMARKS = 68
REGIONS = ("face", "face_forehead", "inner_face", "components")
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the paper's set of blend ratios (1 three times as likely)
REFERENCE_SIDE = 380.0  # the paper's input size: the elastic field below is stated for it, scaled to the crop
MASK_SIDE = 224.0  # the blur kernels below are stated for a mask of this side, scaled to the crop
MIN_MASK_SHARE = 0.02  # a mask whose half-peak area covers less of the crop is redrawn as the whole face

# iBUG 300-W index ranges
JAW = tuple(range(0, 17))
BROWS = tuple(range(17, 27))
NOSE = tuple(range(27, 36))
EYES = tuple(range(36, 48))
MOUTH = tuple(range(48, 68))
NOSE_TIP = 30

COLOUR_P = 0.3  # chance of the RGB shift (hue/saturation/value and brightness/contrast are always drawn)
RGB_SHIFT = 20.0  # +- per channel, 0..255 scale
HUE_SHIFT_DEG = 5.0  # +- degrees of hue
SAT_VAL_SCALE = 0.1  # +- fraction of saturation and value
BRIGHTNESS, CONTRAST = 0.1, 0.1  # +- fraction
SHARPEN_ALPHA = (0.2, 0.5)  # blend of the sharpened image over the original
DOWNSCALE_FACTORS = (2, 4)  # frequency transform: shrink by 2..4, enlarge back
SOURCE_SCALE = (0.95, 1 / 0.95)  # per-axis resize of the source
SOURCE_SHIFT = (0.03, 0.015)  # +- translation of the source, fraction of width (x) and height (y)
FOREHEAD_RISE = (0.3, 0.8)  # how far the brows are lifted for "face_forehead", in brow-to-nose-tip lengths
ELASTIC_ALPHA, ELASTIC_SIGMA = 50.0, 7.0  # elastic deformation of the mask (px at REFERENCE_SIDE)
BLUR_KERNEL = (5, 26)  # odd Gaussian kernel sides of the two mask blurs (px at MASK_SIDE), low incl., high excl.


class SbiError(ValueError):
    """The face crop or its landmarks cannot make a self-blended image."""


@dataclass(frozen=True)
class SourceTargetParams:
    """The source-target generator's draws."""

    transformed: str  # "source" | "target": the copy that gets the colour and frequency transforms
    rgb_shift: tuple[float, float, float]  # added to R, G, B; zeros when not drawn
    hue_deg: float
    saturation: float  # multiplier
    value: float  # multiplier
    brightness: float  # added, fraction of 255
    contrast: float  # multiplier about the image mean
    frequency: str  # "sharpen" | "downscale"
    sharpen_alpha: float
    downscale: int  # shrink factor of the down-then-up transform
    scale: tuple[float, float]  # source resize (x, y) about the face centre
    shift: tuple[float, float]  # source translation (x, y), fraction of width and height


@dataclass(frozen=True)
class MaskParams:
    """The mask generator's draws."""

    region: str  # one of REGIONS
    forehead: float  # brow lift for "face_forehead"
    elastic_seed: int  # seeds the elastic displacement field
    first_blur: int  # odd kernel side, px at MASK_SIDE
    second_blur: int
    blend_ratio: float


@dataclass(frozen=True)
class SelfBlend:
    image: np.ndarray  # uint8 (H, W, 3): the pseudo-fake
    mask: np.ndarray  # float32 (H, W) in [0, 1]: the blending mask (the paper's "blending boundary" target)
    source_target: SourceTargetParams
    mask_params: MaskParams


# --- parameters --------------------------------------------------------------------------------------------------


def sample_source_target(rng: np.random.Generator) -> SourceTargetParams:
    shift_rgb = rng.uniform(-RGB_SHIFT, RGB_SHIFT, 3) if rng.random() < COLOUR_P else np.zeros(3)
    return SourceTargetParams(
        transformed=str(rng.choice(("source", "target"))),
        rgb_shift=tuple(float(v) for v in shift_rgb),
        hue_deg=float(rng.uniform(-HUE_SHIFT_DEG, HUE_SHIFT_DEG)),
        saturation=float(rng.uniform(1 - SAT_VAL_SCALE, 1 + SAT_VAL_SCALE)),
        value=float(rng.uniform(1 - SAT_VAL_SCALE, 1 + SAT_VAL_SCALE)),
        brightness=float(rng.uniform(-BRIGHTNESS, BRIGHTNESS)),
        contrast=float(rng.uniform(1 - CONTRAST, 1 + CONTRAST)),
        frequency=str(rng.choice(("sharpen", "downscale"))),
        sharpen_alpha=float(rng.uniform(*SHARPEN_ALPHA)),
        downscale=int(rng.integers(DOWNSCALE_FACTORS[0], DOWNSCALE_FACTORS[1] + 1)),
        scale=(float(rng.uniform(*SOURCE_SCALE)), float(rng.uniform(*SOURCE_SCALE))),
        shift=(float(rng.uniform(-SOURCE_SHIFT[0], SOURCE_SHIFT[0])),
               float(rng.uniform(-SOURCE_SHIFT[1], SOURCE_SHIFT[1]))),
    )


def _odd_kernel(rng: np.random.Generator) -> int:
    return int(rng.integers(BLUR_KERNEL[0], BLUR_KERNEL[1])) | 1


def sample_mask(rng: np.random.Generator) -> MaskParams:
    return MaskParams(region=str(rng.choice(REGIONS)), forehead=float(rng.uniform(*FOREHEAD_RISE)),
                      elastic_seed=int(rng.integers(2**31)), first_blur=_odd_kernel(rng),
                      second_blur=_odd_kernel(rng), blend_ratio=float(rng.choice(BLEND_RATIOS)))


# --- source-target generator -------------------------------------------------------------------------------------


def colour_transform(image: np.ndarray, p: SourceTargetParams) -> np.ndarray:
    """RGB shift, hue/saturation/value, brightness/contrast: float32 RGB in 0..255 in and out."""
    image = np.clip(image + np.asarray(p.rgb_shift, np.float32), 0, 255)
    hsv = cv2.cvtColor(image / 255.0, cv2.COLOR_RGB2HSV)  # float: H in degrees, S and V in 0..1
    hsv[..., 0] = (hsv[..., 0] + p.hue_deg) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * p.saturation, 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] * p.value, 0, 1)
    image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    mean = float(image.mean())
    return np.clip((image - mean) * p.contrast + mean + p.brightness * 255.0, 0, 255)


def frequency_transform(image: np.ndarray, p: SourceTargetParams) -> np.ndarray:
    """Sharpen (blend with a Laplacian-sharpened copy) or lose detail (shrink, then enlarge back)."""
    if p.frequency == "sharpen":
        sharp = cv2.filter2D(image, -1, np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32))
        return np.clip((1 - p.sharpen_alpha) * image + p.sharpen_alpha * sharp, 0, 255)
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(width // p.downscale, 1), max(height // p.downscale, 1)),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def move_source(image: np.ndarray, centre: np.ndarray, p: SourceTargetParams) -> np.ndarray:
    """Resize (x and y on their own) about ``centre`` and translate; edges replicated."""
    height, width = image.shape[:2]
    sx, sy = p.scale
    matrix = np.array([[sx, 0.0, (1 - sx) * centre[0] + p.shift[0] * width],
                       [0.0, sy, (1 - sy) * centre[1] + p.shift[1] * height]], np.float32)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def source_and_target(face: np.ndarray, landmarks: np.ndarray,
                      p: SourceTargetParams) -> tuple[np.ndarray, np.ndarray]:
    """(source, target) float32 images made from one face."""
    base = face.astype(np.float32)
    changed = frequency_transform(colour_transform(base, p), p)
    source, target = (changed, base) if p.transformed == "source" else (base, changed)
    return move_source(source, landmarks.mean(axis=0), p), target


# --- mask generator ----------------------------------------------------------------------------------------------


def region_polygons(landmarks: np.ndarray, p: MaskParams) -> list[np.ndarray]:
    """The landmark point sets whose convex hulls make the mask of region ``p.region``."""
    points = np.asarray(landmarks, np.float64)
    if p.region == "face":
        return [points]
    if p.region == "face_forehead":
        lifted = points.copy()
        brows = list(BROWS)
        lifted[brows] += (points[brows] - points[NOSE_TIP]) * p.forehead
        return [lifted]
    if p.region == "inner_face":
        return [points[list(BROWS + NOSE + EYES + MOUTH)]]
    if p.region == "components":
        return [points[list(BROWS + EYES)], points[list(NOSE)], points[list(MOUTH)]]
    raise SbiError(f"unknown mask region {p.region!r}; choose one of {REGIONS}")


def hull_mask(shape: tuple[int, int], polygons: list[np.ndarray]) -> np.ndarray:
    """float32 (H, W): 1 inside the convex hull of any polygon."""
    mask = np.zeros(shape, np.uint8)
    for polygon in polygons:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(polygon).astype(np.int32)), 1)
    return mask.astype(np.float32)


def elastic_deform(mask: np.ndarray, seed: int, scale: float) -> np.ndarray:
    """Elastic deformation (a smoothed random displacement field, as Simard et al.) of a (H, W) float mask."""
    rng = np.random.default_rng(seed)
    height, width = mask.shape
    sigma, alpha = ELASTIC_SIGMA * scale, ELASTIC_ALPHA * scale
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (height, width)).astype(np.float32), (0, 0), sigma) * alpha
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (height, width)).astype(np.float32), (0, 0), sigma) * alpha
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(mask, xs + dx, ys + dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _kernel(side: int, scale: float) -> int:
    return max(int(round(side * scale)), 1) | 1


def soften(mask: np.ndarray, p: MaskParams, scale: float) -> np.ndarray:
    """Two Gaussian blurs: after the first, only the pixels still fully inside survive (an erosion by half its
    kernel); the second draws the soft edge.  Peak scaled to the blend ratio."""
    first = cv2.GaussianBlur(mask, (_kernel(p.first_blur, scale),) * 2, 0)
    first[first < 1.0 - 1e-6] = 0.0
    soft = cv2.GaussianBlur(first, (_kernel(p.second_blur, scale),) * 2, 0)
    peak = float(soft.max())
    return (soft / peak * p.blend_ratio).astype(np.float32) if peak > 0 else soft


def blend_mask(shape: tuple[int, int], landmarks: np.ndarray, p: MaskParams) -> tuple[np.ndarray, MaskParams]:
    """The soft blending mask (H, W) in [0, 1] of one face, and the parameters it was made with: those given, or
    with region "face" when the region's mask eroded to almost nothing."""
    hard = hull_mask(shape, region_polygons(landmarks, p))
    mask = soften(elastic_deform(hard, p.elastic_seed, min(shape) / REFERENCE_SIDE), p, min(shape) / MASK_SIDE)
    peak = float(mask.max())
    if p.region != "face" and (peak == 0 or np.count_nonzero(mask >= 0.5 * peak) < MIN_MASK_SHARE * mask.size):
        return blend_mask(shape, landmarks, replace(p, region="face"))
    return mask, p


# --- the self-blended image --------------------------------------------------------------------------------------


def check_face(face: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Validate a crop; return its landmarks as float (68, 2)."""
    if not isinstance(face, np.ndarray) or face.dtype != np.uint8 or face.ndim != 3 or face.shape[2] != 3:
        raise SbiError(f"face must be a uint8 RGB array (H, W, 3), got {getattr(face, 'shape', type(face))}")
    points = np.asarray(landmarks, np.float64)
    if points.shape != (LANDMARKS, 2) or not np.all(np.isfinite(points)):
        raise SbiError(f"landmarks must be {LANDMARKS} finite (x, y) points, got shape {points.shape}")
    return points


def blend_with(face: np.ndarray, landmarks: np.ndarray, st: SourceTargetParams, mp: MaskParams) -> SelfBlend:
    """The self-blended image of ``face`` for given draws."""
    points = check_face(face, landmarks)
    source, target = source_and_target(face, points, st)
    mask, used = blend_mask(face.shape[:2], points, mp)
    alpha = mask[..., None]
    blended = alpha * source + (1.0 - alpha) * target
    return SelfBlend(np.clip(np.rint(blended), 0, 255).astype(np.uint8), mask, st, used)


def self_blend(face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> SelfBlend:
    """A self-blended pseudo-fake of one real face crop (uint8 RGB) with its 68 landmarks in crop pixels."""
    check_face(face, landmarks)
    return blend_with(face, landmarks, sample_source_target(rng), sample_mask(rng))
