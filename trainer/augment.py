"""Training augmentations on uint8 RGB face crops (H, W, 3).

From the seed repositories: Gaussian blur 5x5, wavelet denoising, facial-part removal (eyes / nose / mouth
filled, at 1 removed : 2 untouched frames).  From StA: horizontal flip, rotation, blur, brightness/contrast and
JPEG re-compression at quality 40-100.  All randomness comes from a numpy Generator; ``augment_clip`` can draw
one parameter set for a whole clip, so every frame gets the same augmentation.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pywt

PARTS = ("eyes", "nose", "mouth")
SEED_PART_REMOVAL_P = 1 / 3  # the seeds' ratio of 1 frame with a part removed to 2 untouched frames


class AugmentError(ValueError):
    """An augmentation got an image or parameters it cannot use."""


def check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise AugmentError(f"expected a uint8 RGB image (H, W, 3), got {getattr(image, 'shape', type(image))}")


def gaussian_blur_5x5(image: np.ndarray) -> np.ndarray:
    """Gaussian blur with a 5x5 kernel (sigma derived from the size, as OpenCV does)."""
    check_image(image)
    return cv2.GaussianBlur(image, (5, 5), 0)


def _denoise_channel(channel: np.ndarray, wavelet: str, level: int | None) -> np.ndarray:
    coeffs = pywt.wavedec2(channel, wavelet, level=level, mode="symmetric")
    sigma = np.median(np.abs(coeffs[-1][-1])) / 0.6745  # noise estimate from the finest diagonal details
    threshold = sigma * np.sqrt(2.0 * np.log(channel.size))  # universal threshold (Donoho & Johnstone)
    details = [tuple(pywt.threshold(c, threshold, mode="soft") for c in band) for band in coeffs[1:]]
    restored = pywt.waverec2([coeffs[0], *details], wavelet, mode="symmetric")
    return restored[: channel.shape[0], : channel.shape[1]]


def wavelet_denoise(image: np.ndarray, wavelet: str = "db2", level: int | None = 2) -> np.ndarray:
    """Per-channel wavelet denoising: soft thresholding of the detail bands at the universal threshold."""
    check_image(image)
    channels = [_denoise_channel(image[..., c].astype(np.float64), wavelet, level) for c in range(3)]
    return np.clip(np.rint(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)


def part_box(landmarks: np.ndarray, part: str, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box of a facial part from the 5 landmarks, clipped to the image."""
    if part not in PARTS:
        raise AugmentError(f"part must be one of {PARTS}, got {part!r}")
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2):
        raise AugmentError(f"landmarks must be 5 (x, y) points, got shape {points.shape}")
    unit = max(float(np.hypot(*(points[1] - points[0]))), 1.0)  # eye distance
    chosen = {"eyes": points[:2], "nose": points[2:3], "mouth": points[3:]}[part]
    pad_x, pad_y = {"eyes": (0.35, 0.22), "nose": (0.22, 0.25), "mouth": (0.2, 0.2)}[part]
    x0, y0 = chosen.min(axis=0) - (pad_x * unit, pad_y * unit)
    x1, y1 = chosen.max(axis=0) + (pad_x * unit, pad_y * unit)
    height, width = shape[:2]
    return (int(np.clip(np.floor(x0), 0, width)), int(np.clip(np.floor(y0), 0, height)),
            int(np.clip(np.ceil(x1), 0, width)), int(np.clip(np.ceil(y1), 0, height)))


def part_mask(shape: tuple[int, ...], landmarks: np.ndarray, part: str) -> np.ndarray:
    """Boolean (H, W) mask of the region :func:`remove_part` fills."""
    x0, y0, x1, y1 = part_box(landmarks, part, shape)
    mask = np.zeros(shape[:2], bool)
    mask[y0:y1, x0:x1] = True
    return mask


def remove_part(image: np.ndarray, landmarks: np.ndarray, part: str, fill: int = 0) -> np.ndarray:
    """Fill the box around the eyes, the nose or the mouth with a constant grey level."""
    check_image(image)
    out = image.copy()
    out[part_mask(image.shape, landmarks, part)] = fill
    return out


def flip(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre (counter-clockwise for positive angles), reflecting at the borders."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def brightness_contrast(image: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    """``x * contrast + brightness * 255``, clipped to uint8."""
    return np.clip(np.rint(image.astype(np.float32) * contrast + brightness * 255.0), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (1-100) with OpenCV."""
    if not 1 <= int(quality) <= 100:
        raise AugmentError(f"JPEG quality must be in 1..100, got {quality}")
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise AugmentError("OpenCV could not encode the image as JPEG")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges.  The seeds' augmentations are off by default; turn them on per detector."""

    p_flip: float = 0.5
    p_rotate: float = 0.3
    max_degrees: float = 10.0
    p_blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    p_colour: float = 0.5
    brightness: float = 0.1  # +- fraction of 255
    contrast: tuple[float, float] = (0.8, 1.2)
    p_jpeg: float = 0.5
    jpeg_quality: tuple[int, int] = (40, 100)
    p_blur5: float = 0.0
    p_wavelet: float = 0.0
    p_part: float = 0.0  # SEED_PART_REMOVAL_P reproduces the seeds' 1:2 ratio


@dataclass(frozen=True)
class AugmentParams:
    """One draw of every augmentation; neutral values mean 'not applied'."""

    part: str | None = None
    blur5: bool = False
    wavelet: bool = False
    flip: bool = False
    degrees: float = 0.0
    blur_sigma: float = 0.0
    brightness: float = 0.0
    contrast: float = 1.0
    jpeg_quality: int | None = None


def sample_augment_params(rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> AugmentParams:
    """Draw one parameter set (always the same number of draws, so streams stay aligned)."""
    u = rng.random(8)
    part, degrees = str(rng.choice(PARTS)), float(rng.uniform(-config.max_degrees, config.max_degrees))
    sigma, bright = float(rng.uniform(*config.blur_sigma)), float(rng.uniform(-config.brightness, config.brightness))
    contrast = float(rng.uniform(*config.contrast))
    quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    colour = u[4] < config.p_colour
    return AugmentParams(
        part=part if u[0] < config.p_part else None, blur5=bool(u[1] < config.p_blur5),
        wavelet=bool(u[2] < config.p_wavelet), flip=bool(u[3] < config.p_flip),
        degrees=degrees if u[5] < config.p_rotate else 0.0, blur_sigma=sigma if u[6] < config.p_blur else 0.0,
        brightness=bright if colour else 0.0, contrast=contrast if colour else 1.0,
        jpeg_quality=quality if u[7] < config.p_jpeg else None)


def apply_augment(image: np.ndarray, params: AugmentParams, landmarks: np.ndarray | None = None) -> np.ndarray:
    """Apply ``params`` in a fixed order: part removal, seed filters, geometry, blur, colour, JPEG last."""
    check_image(image)
    if params.part is not None:
        if landmarks is None:
            raise AugmentError("facial-part removal needs the face's 5 landmarks")
        image = remove_part(image, landmarks, params.part)
    image = gaussian_blur_5x5(image) if params.blur5 else image
    image = wavelet_denoise(image) if params.wavelet else image
    image = flip(image) if params.flip else image
    image = rotate(image, params.degrees) if params.degrees else image
    image = blur(image, params.blur_sigma) if params.blur_sigma > 0 else image
    if params.brightness or params.contrast != 1.0:
        image = brightness_contrast(image, params.brightness, params.contrast)
    return jpeg(image, params.jpeg_quality) if params.jpeg_quality is not None else image


def augment_clip(frames: Sequence[np.ndarray], rng: np.random.Generator, config: AugmentConfig = AugmentConfig(),
                 landmarks: Sequence[np.ndarray] | None = None,
                 consistent: bool = True) -> tuple[list[np.ndarray], list[AugmentParams]]:
    """Augment a clip; with ``consistent`` one draw is used for every frame.  Returns frames and their params."""
    if landmarks is not None and len(landmarks) != len(frames):
        raise AugmentError(f"got {len(frames)} frames but {len(landmarks)} landmark sets")
    if consistent:
        params = [sample_augment_params(rng, config)] * len(frames)
    else:
        params = [sample_augment_params(rng, config) for _ in frames]
    marks = landmarks if landmarks is not None else [None] * len(frames)
    return [apply_augment(f, p, m) for f, p, m in zip(frames, params, marks, strict=True)], params
