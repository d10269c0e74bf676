"""Self-blended images (trainer/sbi.py) and evidence-like degradations (trainer/degrade.py) on a real face.

The face is the astronaut photo of the test clips; MTCNN finds it and the product's landmarker gives its 68 points.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceSettings, shared_detector
from dfdesk.core.landmarks import shared_landmarker
from dfdesk.core.types import Frame
from tests.fixtures.clips import face_frame
from trainer import sbi
from trainer.degrade import (
    DegradeConfig,
    degrade,
    downscale_roundtrip,
    h264_roundtrip,
    jpeg_roundtrip,
    sample_degrade,
)
from trainer.sbi_faces import crop_points

SIZE = 160


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, np.ndarray]:
    """(uint8 crop, 68 landmarks in crop pixels) of the astronaut, cut as the analysis cuts faces."""
    frame = face_frame(320, 240, 5, 10)
    detection = shared_detector(FaceSettings(device="cpu")).detect([Frame(0, 0.0, frame)])[0].faces[0]
    spec = CropSpec("face", SIZE, 0.3, "rgb")
    points = crop_points(shared_landmarker().landmarks(frame, [detection])[0], detection, spec)
    return spec.cut(frame, detection), points


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b) ** 2)
    return float(10 * np.log10(255**2 / max(error, 1e-12)))


def test_landmarks_lie_on_the_face_in_the_crop(face) -> None:
    crop, points = face
    assert points.shape == (68, 2)
    assert points.min() > 0 and points.max() < SIZE  # the face box plus margin holds every point
    assert points[36:42, 1].mean() < points[48:60, 1].mean()  # eyes above the mouth


def test_same_draws_same_pseudo_fake_and_other_draws_differ(face) -> None:
    crop, points = face
    a = sbi.self_blend(crop, points, np.random.default_rng(3))
    b = sbi.self_blend(crop, points, np.random.default_rng(3))
    c = sbi.self_blend(crop, points, np.random.default_rng(4))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("seed", range(8))
def test_a_transformed_source_changes_only_masked_pixels(face, seed: int) -> None:
    crop, points = face
    rng = np.random.default_rng(seed)
    st, mp = replace(sbi.sample_source_target(rng), transformed="source"), sbi.sample_mask(rng)
    blend = sbi.blend_with(crop, points, st, mp)
    changed = np.any(blend.image != crop, axis=-1)
    assert changed.any() and not np.any(changed & (blend.mask == 0))
    assert blend.mask.max() == pytest.approx(blend.mask_params.blend_ratio, abs=1e-6)
    assert blend.mask[0, 0] == blend.mask[-1, -1] == 0


def test_a_transformed_target_changes_the_whole_image(face) -> None:
    crop, points = face
    rng = np.random.default_rng(0)
    st = replace(sbi.sample_source_target(rng), transformed="target", frequency="downscale", downscale=4)
    blend = sbi.blend_with(crop, points, st, replace(sbi.sample_mask(rng), blend_ratio=1.0))
    outside = blend.mask == 0
    assert np.mean(np.any(blend.image[outside] != crop[outside], axis=-1)) > 0.5  # the blurred target shows there


def test_regions_nest_forehead_face_inner(face) -> None:
    crop, points = face
    areas = {}
    for region in sbi.REGIONS:
        params = sbi.MaskParams(region, forehead=0.6, elastic_seed=0, first_blur=5, second_blur=5, blend_ratio=1.0)
        areas[region] = sbi.hull_mask(crop.shape[:2], sbi.region_polygons(points, params)).sum()
    assert areas["face_forehead"] > areas["face"] > areas["inner_face"] > areas["components"] > 0


def test_a_mask_eroded_away_falls_back_to_the_whole_face(face) -> None:
    crop, points = face
    tiny = sbi.MaskParams("components", 0.5, elastic_seed=1, first_blur=25, second_blur=25, blend_ratio=1.0)
    mask, used = sbi.blend_mask(crop.shape[:2], points * 0.3 + SIZE * 0.35, tiny)  # a face shrunk to 30 %
    assert used.region == "face" and mask.max() == pytest.approx(1.0)


def test_blend_ratios_come_from_the_papers_set() -> None:
    rng = np.random.default_rng(0)
    ratios = [sbi.sample_mask(rng).blend_ratio for _ in range(600)]
    assert set(ratios) == {0.25, 0.5, 0.75, 1.0}
    assert 0.4 < ratios.count(1.0) / len(ratios) < 0.6  # 1 is three of the six choices
    regions = {sbi.sample_mask(rng).region for _ in range(200)}
    copies = {sbi.sample_source_target(rng).transformed for _ in range(200)}
    assert regions == set(sbi.REGIONS) and copies == {"source", "target"}


def test_bad_inputs_are_refused(face) -> None:
    crop, points = face
    rng = np.random.default_rng(0)
    with pytest.raises(sbi.SbiError, match="68"):
        sbi.self_blend(crop, points[:5], rng)
    with pytest.raises(sbi.SbiError, match="uint8"):
        sbi.self_blend(crop.astype(np.float32), points, rng)
    with pytest.raises(sbi.SbiError, match="finite"):
        sbi.self_blend(crop, np.full((68, 2), np.nan), rng)


# --- degradations ---


def test_h264_loses_more_at_higher_crf_and_is_deterministic(face) -> None:
    crop, _ = face
    light, heavy = h264_roundtrip(crop, 23), h264_roundtrip(crop, 40)
    assert light.shape == crop.shape and light.dtype == np.uint8
    assert psnr(crop, light) > psnr(crop, heavy) > 20
    assert np.array_equal(heavy, h264_roundtrip(crop, 40))
    odd = h264_roundtrip(crop[:-1, :-3], 30)
    assert odd.shape == crop[:-1, :-3].shape


def test_jpeg_and_downscale_lose_detail_in_order(face) -> None:
    crop, _ = face
    assert psnr(crop, jpeg_roundtrip(crop, 95)) > psnr(crop, jpeg_roundtrip(crop, 40))
    assert psnr(crop, downscale_roundtrip(crop, 0.9)) > psnr(crop, downscale_roundtrip(crop, 0.35))
    assert downscale_roundtrip(crop, 0.35).shape == crop.shape


def test_degradation_draws_stay_in_their_ranges() -> None:
    rng = np.random.default_rng(0)
    draws = [sample_degrade(rng) for _ in range(400)]
    crfs = [d.h264_crf for d in draws if d.h264_crf]
    qualities = [d.jpeg_quality for d in draws if d.jpeg_quality]
    scales = [d.downscale for d in draws if d.downscale < 1]
    assert min(crfs) >= 23 and max(crfs) <= 40 and 0.4 < len(crfs) / 400 < 0.6
    assert min(qualities) >= 40 and max(qualities) <= 100
    assert min(scales) >= 0.35 and max(scales) <= 0.9
    never = DegradeConfig(downscale_p=0, h264_p=0, jpeg_p=0, flip_p=0)
    assert all(not d.h264_crf and not d.jpeg_quality and d.downscale == 1 for d in
               (sample_degrade(rng, never) for _ in range(20)))


def test_degrade_applies_the_draw(face) -> None:
    crop, _ = face
    flip_only = sample_degrade(np.random.default_rng(0), DegradeConfig(downscale_p=0, h264_p=0, jpeg_p=0, flip_p=1))
    assert np.array_equal(degrade(crop, flip_only), crop[:, ::-1])
    everything = DegradeConfig(downscale_p=1, h264_p=1, jpeg_p=1, flip_p=0)
    out = degrade(crop, sample_degrade(np.random.default_rng(0), everything))
    assert out.shape == crop.shape and out.flags.c_contiguous and psnr(crop, out) < 40
