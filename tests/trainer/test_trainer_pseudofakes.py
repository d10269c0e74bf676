"""Self-blended images and video-level blending."""
from __future__ import annotations

import numpy as np
import pytest

from trainer.pseudofakes import PseudoFakeError, blend_with, sample_blend_params, self_blend, self_blend_clip

LANDMARKS = np.array([[44.0, 52.0], [84.0, 52.0], [64.0, 72.0], [48.0, 92.0], [80.0, 92.0]])


def make_face(seed: int = 0, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([xx, yy, (xx + yy) // 2], axis=-1) * (200 / size)
    return np.clip(base + rng.normal(0, 8, base.shape) + 20, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(6))
def test_the_blend_changes_pixels_only_inside_the_mask(seed: int) -> None:
    face = make_face(seed)
    result = self_blend(face, LANDMARKS, np.random.default_rng(seed))
    changed = np.any(result.image != face, axis=-1)
    assert changed.any()
    assert not np.any(changed & (result.mask == 0))
    assert result.mask.max() == pytest.approx(result.params.blend_ratio, abs=1e-6)


def test_the_mask_covers_the_landmarks_and_not_the_corners() -> None:
    result = self_blend(make_face(), LANDMARKS, np.random.default_rng(1))
    xs, ys = LANDMARKS[:, 0].astype(int), LANDMARKS[:, 1].astype(int)
    assert np.all(result.mask[ys, xs] > 0)
    assert result.mask[0, 0] == result.mask[0, -1] == result.mask[-1, 0] == result.mask[-1, -1] == 0


def test_same_seed_same_pseudo_fake() -> None:
    face = make_face()
    a = self_blend(face, LANDMARKS, np.random.default_rng(5))
    b = self_blend(face, LANDMARKS, np.random.default_rng(5))
    c = self_blend(face, LANDMARKS, np.random.default_rng(6))
    assert np.array_equal(a.image, b.image) and a.params == b.params
    assert not np.array_equal(a.image, c.image)


def shifted_clip(n: int, step: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    face = make_face(size=160)
    frames = [np.roll(face, (k * step, k * step), axis=(0, 1)) for k in range(n)]
    return frames, [LANDMARKS + 10 + k * step for k in range(n)]


def test_a_clip_is_blended_with_one_set_of_parameters() -> None:
    frames, marks = shifted_clip(4, 3)
    clip = self_blend_clip(frames, marks, np.random.default_rng(2))
    assert clip.image.shape == (4, 160, 160, 3) and clip.mask.shape == (4, 160, 160)
    for k in range(4):
        single = blend_with(frames[k], marks[k], clip.params)
        assert np.array_equal(clip.image[k], single.image)


def test_the_clip_mask_moves_with_the_face() -> None:
    frames, marks = shifted_clip(3, 5)
    masks = self_blend_clip(frames, marks, np.random.default_rng(4)).mask
    assert np.array_equal(np.roll(masks[0], (5, 5), axis=(0, 1)), masks[1])


def test_identical_frames_give_identical_blends_but_per_frame_draws_differ() -> None:
    face = make_face()
    clip = self_blend_clip([face] * 3, [LANDMARKS] * 3, np.random.default_rng(3))
    assert all(np.array_equal(clip.image[0], clip.image[k]) for k in (1, 2))
    rng = np.random.default_rng(3)
    assert sample_blend_params(rng) != sample_blend_params(rng)


def test_bad_inputs_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(PseudoFakeError, match="uint8 RGB"):
        self_blend(make_face().astype(np.float32), LANDMARKS, rng)
    with pytest.raises(PseudoFakeError, match="5 finite"):
        self_blend(make_face(), LANDMARKS[:4], rng)
    with pytest.raises(PseudoFakeError, match="one landmark set per frame"):
        self_blend_clip([make_face()] * 2, [LANDMARKS], rng)
