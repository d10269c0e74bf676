"""MesoNet: Keras layer semantics, the HDF5 converter, and the shipped model folders."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from dfdesk.detectors import create_detector
from dfdesk.detectors.cards import fake_probability, load_card
from dfdesk.detectors.keras_import import PUBLISHED, KerasImportError, convert_file, main
from dfdesk.detectors.mesonet import KerasMaxPool, Meso4, MesoInception4, pool_frame_logits
from dfdesk.paths import bundled_models_dir

SHIPPED = [spec.folder for spec in PUBLISHED]


@pytest.mark.parametrize("folder", SHIPPED)
def test_shipped_models_load_with_verified_weights(folder: str) -> None:
    card = load_card(bundled_models_dir() / folder)
    assert card.trained and card.licence == "Apache-2.0" and "DariusAf/MesoNet" in card.source
    assert card.output_kind == "sigmoid" and card.sigmoid_means == "real"
    assert (card.input.size, card.input.margin, card.input.frames_per_clip) == (256, 0.3, 16)
    detector = create_detector(card)
    with torch.no_grad():
        out = detector(torch.rand(1, 2, 3, 256, 256))
    p_fake = fake_probability(card, out.clip_logits)
    assert 0.0 <= float(p_fake) <= 1.0


def test_no_keras_originals_are_shipped() -> None:
    assert not list(bundled_models_dir().rglob("*.h5"))


def test_keras_same_max_pool_pads_after_with_minus_infinity() -> None:
    x = -torch.arange(25.0).view(1, 1, 5, 5)  # all negative: zero padding would show up
    out = KerasMaxPool(2)(x)
    assert out.shape == (1, 1, 3, 3)
    assert out[0, 0, 2, 2] == x[0, 0, 4, 4]  # the last window holds a single real pixel
    assert out[0, 0, 0, 0] == x[0, 0, 0, 0]


def test_prob_mean_pooling_is_the_logit_of_the_mean_probability() -> None:
    frames = torch.tensor([[[4.0], [-1.0], [0.5]]], dtype=torch.float64)
    mean_p = torch.sigmoid(frames).mean()
    torch.testing.assert_close(pool_frame_logits(frames, "prob_mean")[0, 0], torch.log(mean_p / (1 - mean_p)))
    torch.testing.assert_close(pool_frame_logits(frames, "logit_mean")[0, 0], frames.mean())


def write_keras_meso4(path, rng: np.random.Generator, leaky: bool) -> dict[str, np.ndarray]:
    """A Keras-2-style save_weights file for Meso-4 with random weights; returns the kernels."""
    shapes = {"conv2d_5": (3, 3, 3, 8), "conv2d_6": (5, 5, 8, 8), "conv2d_7": (5, 5, 8, 16),
              "conv2d_8": (5, 5, 16, 16), "dense_3": (1024, 16), "dense_4": (16, 1)}
    bn = {"batch_normalization_5": 8, "batch_normalization_6": 8, "batch_normalization_7": 16,
          "batch_normalization_8": 16}
    names = ["input_1", *shapes, *bn] + (["leaky_re_lu_1"] if leaky else [])
    kernels = {}
    with h5py.File(path, "w") as h5:
        h5.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            group = h5.create_group(name)
            weights = {}
            if name in shapes:
                weights = {"kernel": rng.normal(size=shapes[name]), "bias": rng.normal(size=shapes[name][-1])}
                kernels[name] = weights["kernel"]
            elif name in bn:
                n = bn[name]
                weights = {"gamma": rng.normal(size=n), "beta": rng.normal(size=n),
                           "moving_mean": rng.normal(size=n), "moving_variance": rng.uniform(0.5, 2, size=n)}
            full = [f"{name}/{k}:0" for k in weights]
            group.attrs["weight_names"] = np.array([f.encode() for f in full])
            for key, value in zip(full, weights.values()):
                group.create_dataset(key, data=value.astype(np.float32))
    return kernels


@pytest.mark.parametrize("leaky", [False, True])
def test_converter_maps_keras_layouts(tmp_path, leaky: bool) -> None:
    kernels = write_keras_meso4(tmp_path / "Meso4_DF.h5", np.random.default_rng(0), leaky)
    card = convert_file(tmp_path / "Meso4_DF.h5", PUBLISHED[0], tmp_path / "out")
    # the published classifiers.py applies LeakyReLU whether or not the file lists a leaky_re_lu layer
    assert card.options["hidden_activation"] == "leaky_relu" and card.version == "1.1"
    state = create_detector(load_card(tmp_path / "out" / "meso4_df")).state_dict()
    np.testing.assert_array_equal(state["features.0.0.weight"].numpy()[5, 2, 1, 0],
                                  kernels["conv2d_5"][1, 0, 2, 5].astype(np.float32))
    np.testing.assert_array_equal(state["classifier.1.weight"].numpy(), kernels["dense_3"].T.astype(np.float32))


def test_converter_reports_a_wrong_file(tmp_path, capsys) -> None:
    with h5py.File(tmp_path / "Meso4_DF.h5", "w") as h5:
        h5.attrs["layer_names"] = np.array([b"conv2d_1"])
        h5.create_group("conv2d_1").attrs["weight_names"] = np.array([b"conv2d_1/kernel:0"])
        h5["conv2d_1"].create_dataset("conv2d_1/kernel:0", data=np.zeros((3, 3, 3, 8), np.float32))
    with pytest.raises((KerasImportError, KeyError)):
        convert_file(tmp_path / "Meso4_DF.h5", PUBLISHED[0], tmp_path / "out")
    assert main([str(tmp_path), str(tmp_path / "out")]) == 1
    assert "lacks Meso4_F2F.h5" in capsys.readouterr().err


def test_architectures_match_the_published_parameter_counts() -> None:
    # Afchar et al. 2018 give 27,977 (Meso-4) and 28,615 (MesoInception-4) trainable parameters
    assert sum(p.numel() for p in Meso4().parameters()) == 27977
    assert sum(p.numel() for p in MesoInception4().parameters()) == 28615
