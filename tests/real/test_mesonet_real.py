"""MesoNet on the published weights and test images (../shared/data, research only).

The NumPy reference below reads the HDF5 files directly and follows the Keras semantics
(channels-last, 'same' padding, BatchNorm epsilon 1e-3); it shares no code with the
PyTorch module or the converter.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dfdesk.detectors import create_detector
from dfdesk.detectors.cards import fake_probability, load_card
from dfdesk.detectors.keras_import import convert_all
from dfdesk.paths import bundled_models_dir, shared_data_dir

DATA = shared_data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="../shared/data (research-only material) is not present")
FILES = {"meso4_df": "Meso4_DF.h5", "meso4_f2f": "Meso4_F2F.h5",
         "mesoinception4_df": "MesoInception_DF.h5", "mesoinception4_f2f": "MesoInception_F2F.h5"}


def test_images() -> tuple[np.ndarray, np.ndarray]:
    """The four MesoNet test images, 256x256 RGB in [0, 1] (nearest resize, as Keras' loader), and labels."""
    paths = sorted((DATA / "mesonet_test_images").glob("*/*.jpg"))
    images = [np.asarray(Image.open(p).convert("RGB").resize((256, 256), Image.NEAREST)) for p in paths]
    labels = np.array([p.parent.name == "df" for p in paths])
    return np.stack(images).astype(np.float32) / 255.0, labels


test_images.__test__ = False  # a helper, not a test


# --- independent NumPy forward pass of the Keras models --------------------------------------------

def h5_weights(path: Path) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    import h5py

    with h5py.File(path, "r") as h5:
        names = [n.decode() for n in h5.attrs["layer_names"]]
        weights = {
            n: {w.decode().split("/")[-1].split(":")[0]: np.array(h5[n][w.decode()], dtype=np.float64)
                for w in h5[n].attrs["weight_names"]}
            for n in names
        }
    return names, weights


def ordered(names: list[str], kind: str) -> list[str]:
    return sorted((n for n in names if re.fullmatch(rf"{kind}_\d+", n)), key=lambda n: int(n.rsplit("_", 1)[1]))


def np_conv(x: np.ndarray, w: dict[str, np.ndarray], dilation: int = 1) -> np.ndarray:
    """Keras Conv2D(padding='same', activation='relu') on (H, W, C)."""
    kernel = w["kernel"]
    kh, kw = kernel.shape[:2]
    ph, pw = dilation * (kh - 1), dilation * (kw - 1)
    padded = np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    h, wd = x.shape[:2]
    out = np.zeros((h, wd, kernel.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += padded[i * dilation : i * dilation + h, j * dilation : j * dilation + wd] @ kernel[i, j]
    return np.maximum(out + w["bias"], 0)


def np_bn(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    return w["gamma"] * (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + 1e-3) + w["beta"]


def np_pool(x: np.ndarray, k: int) -> np.ndarray:
    h, wd, c = x.shape
    return x.reshape(h // k, k, wd // k, k, c).max(axis=(1, 3))


def np_inception(x: np.ndarray, convs: list[dict[str, np.ndarray]]) -> np.ndarray:
    a, b1, b2, c1, c2, d1, d2 = convs
    return np.concatenate([
        np_conv(x, a), np_conv(np_conv(x, b1), b2),
        np_conv(np_conv(x, c1), c2, dilation=2), np_conv(np_conv(x, d1), d2, dilation=3),
    ], axis=-1)


def numpy_mesonet(path: Path, image: np.ndarray) -> float:
    """Keras' sigmoid output for one (256, 256, 3) image."""
    names, w = h5_weights(path)
    convs = [w[n] for n in ordered(names, "conv2d")]
    bns = [w[n] for n in ordered(names, "batch_normalization")]
    dense = [w[n] for n in ordered(names, "dense")]
    x = image.astype(np.float64)
    if len(convs) == 4:  # Meso-4
        x = np_pool(np_bn(np_conv(x, convs[0]), bns[0]), 2)
        x = np_pool(np_bn(np_conv(x, convs[1]), bns[1]), 2)
    else:  # MesoInception-4
        x = np_pool(np_bn(np_inception(x, convs[0:7]), bns[0]), 2)
        x = np_pool(np_bn(np_inception(x, convs[7:14]), bns[1]), 2)
    x = np_pool(np_bn(np_conv(x, convs[-2]), bns[-2]), 2)
    x = np_pool(np_bn(np_conv(x, convs[-1]), bns[-1]), 4)
    hidden = x.reshape(-1) @ dense[0]["kernel"] + dense[0]["bias"]
    hidden = np.where(hidden > 0, hidden, 0.1 * hidden)  # LeakyReLU(0.1), as in the authors' classifiers.py
    logit = hidden @ dense[1]["kernel"] + dense[1]["bias"]
    return float(1 / (1 + np.exp(-logit[0])))


# --- tests ------------------------------------------------------------------------------------------

def torch_sigmoid(folder: str, images: np.ndarray) -> np.ndarray:
    detector = create_detector(load_card(bundled_models_dir() / folder))
    clip = torch.from_numpy(images).permute(0, 3, 1, 2).unsqueeze(1)  # each image a one-frame clip
    with torch.no_grad():
        return torch.sigmoid(detector(clip).clip_logits[:, 0]).numpy()


@pytest.mark.parametrize("folder", ["meso4_df", "mesoinception4_df"])
def test_df_models_classify_the_four_test_images(folder: str) -> None:
    images, is_fake = test_images()
    card = load_card(bundled_models_dir() / folder)
    detector = create_detector(card)
    with torch.no_grad():
        logits = detector(torch.from_numpy(images).permute(0, 3, 1, 2).unsqueeze(1)).clip_logits
    p_fake = fake_probability(card, logits).numpy()
    np.testing.assert_array_equal(p_fake > card.threshold, is_fake)


@pytest.mark.parametrize("folder", list(FILES))
def test_pytorch_matches_an_independent_numpy_forward(folder: str) -> None:
    images, _ = test_images()
    h5 = DATA / "weights" / "mesonet" / FILES[folder]
    reference = np.array([numpy_mesonet(h5, image) for image in images])
    ours = torch_sigmoid(folder, images)
    assert np.abs(ours - reference).max() <= 1e-5


def test_shipped_weights_are_the_conversion_of_the_published_files(tmp_path) -> None:
    cards = convert_all(DATA / "weights" / "mesonet", tmp_path)
    for card in cards:
        assert card.weights_sha256 == load_card(bundled_models_dir() / card.name).weights_sha256
