"""Augmentations do what their names say, deterministically."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import signal

from trainer import augment as aug

LANDMARKS = np.array([[40.0, 48.0], [88.0, 48.0], [64.0, 72.0], [46.0, 96.0], [82.0, 96.0]])


def noise(seed: int = 0, size: int = 128) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def smooth(size: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack([xx, yy, size - 1 - xx], axis=-1).astype(np.float64) * (255 / size)


def high_frequency_energy(image: np.ndarray) -> float:
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(image.astype(np.float64).mean(axis=-1)))) ** 2
    centre, keep = image.shape[0] // 2, image.shape[0] // 4
    spectrum[centre - keep:centre + keep, centre - keep:centre + keep] = 0
    return float(spectrum.sum())


def test_blur_5x5_is_a_5x5_gaussian_convolution() -> None:
    image = noise()
    kernel = cv2.getGaussianKernel(5, 0) @ cv2.getGaussianKernel(5, 0).T
    expected = signal.convolve2d(image[..., 0].astype(float), kernel, mode="valid")
    got = aug.gaussian_blur_5x5(image)[2:-2, 2:-2, 0].astype(float)
    assert np.abs(got - expected).max() <= 1.0


def test_wavelet_denoising_brings_a_noisy_image_closer_to_the_clean_one() -> None:
    clean = smooth()
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 15, clean.shape), 0, 255).astype(np.uint8)
    denoised = aug.wavelet_denoise(noisy)
    error = lambda img: float(np.mean((img.astype(float) - clean) ** 2))  # noqa: E731
    assert error(denoised) < 0.6 * error(noisy)
    flat = np.full((64, 64, 3), 90, np.uint8)
    assert np.array_equal(aug.wavelet_denoise(flat), flat)


@pytest.mark.parametrize("part, inside, outside", [("eyes", [0, 1], [3, 4]), ("nose", [2], [0, 3]),
                                                   ("mouth", [3, 4], [0, 1])])
def test_part_removal_changes_only_the_named_region(part: str, inside: list[int], outside: list[int]) -> None:
    image = np.full((128, 128, 3), 200, np.uint8)
    removed = aug.remove_part(image, LANDMARKS, part)
    region = aug.part_mask(image.shape, LANDMARKS, part)
    changed = np.any(removed != image, axis=-1)
    assert np.array_equal(changed, region)
    xs, ys = LANDMARKS[:, 0].astype(int), LANDMARKS[:, 1].astype(int)
    assert region[ys[inside], xs[inside]].all() and not region[ys[outside], xs[outside]].any()


def test_jpeg_at_quality_40_loses_high_frequency_energy() -> None:
    image = np.clip(smooth() + np.random.default_rng(2).normal(0, 20, (128, 128, 3)), 0, 255).astype(np.uint8)
    original = high_frequency_energy(image)
    assert high_frequency_energy(aug.jpeg(image, 40)) < 0.6 * original
    assert high_frequency_energy(aug.jpeg(image, 40)) < high_frequency_energy(aug.jpeg(image, 100))
    with pytest.raises(aug.AugmentError, match="quality"):
        aug.jpeg(image, 0)


def test_geometry_and_colour() -> None:
    image = noise(3, 65)
    assert np.array_equal(aug.flip(image), image[:, ::-1])
    assert np.abs(aug.rotate(image, 180).astype(int) - image[::-1, ::-1].astype(int)).max() <= 1
    grey = np.full((4, 4, 3), 100, np.uint8)
    assert np.all(aug.brightness_contrast(grey, 0.1, 1.5) == round(100 * 1.5 + 25.5))
    assert aug.blur(image, 1.5).std() < image.std()


def test_the_seed_part_ratio_is_one_removed_to_two_untouched() -> None:
    rng = np.random.default_rng(0)
    config = aug.AugmentConfig(p_part=aug.SEED_PART_REMOVAL_P)
    parts = [aug.sample_augment_params(rng, config).part for _ in range(3000)]
    removed = sum(p is not None for p in parts)
    assert abs(removed / (3000 - removed) - 0.5) < 0.05
    assert set(parts) - {None} == set(aug.PARTS)


ALWAYS = aug.AugmentConfig(p_flip=1, p_rotate=1, p_blur=1, p_colour=1, p_jpeg=1, p_part=1)


def test_a_consistent_clip_gets_the_same_augmentation_on_every_frame() -> None:
    frame = noise(4)
    frames, params = aug.augment_clip([frame] * 3, np.random.default_rng(1), ALWAYS, [LANDMARKS] * 3)
    assert params[0] == params[1] == params[2] and params[0].jpeg_quality is not None
    assert all(np.array_equal(frames[0], f) for f in frames[1:])
    _, independent = aug.augment_clip([frame] * 3, np.random.default_rng(1), ALWAYS, [LANDMARKS] * 3,
                                    consistent=False)
    assert len(set(independent)) == 3


def test_same_seed_same_augmentation() -> None:
    frame = noise(5)
    a, _ = aug.augment_clip([frame] * 2, np.random.default_rng(9), ALWAYS, [LANDMARKS] * 2, consistent=False)
    b, _ = aug.augment_clip([frame] * 2, np.random.default_rng(9), ALWAYS, [LANDMARKS] * 2, consistent=False)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert 40 <= aug.sample_augment_params(np.random.default_rng(0), ALWAYS).jpeg_quality <= 100


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(aug.AugmentError, match="landmarks"):
        aug.apply_augment(noise(), aug.AugmentParams(part="eyes"))
    with pytest.raises(aug.AugmentError, match="part must be"):
        aug.remove_part(noise(), LANDMARKS, "ears")
    with pytest.raises(aug.AugmentError, match="uint8 RGB"):
        aug.gaussian_blur_5x5(np.zeros((8, 8)))
