"""Model cards: TOML round trip, validation, polarity and calibration."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dfdesk.detectors.base import InputSpec
from dfdesk.detectors.cards import Calibration, CardError, ModelCard, fake_logit, fake_probability, load_card, save_card


def make_card(**changes) -> ModelCard:
    fields = dict(
        name="demo", architecture="mesonet4", options={"clip_pool": "prob_mean"},
        input=InputSpec(size=256, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), frames_per_clip=16),
        output_kind="softmax", fake_index=1, threshold=0.6, trained=False,
        metrics={"auc": 0.9, "per_dataset": {"ffpp": 0.93}}, licence="MIT", training_data="FF++ c23",
    )
    fields.update(changes)
    return ModelCard(**fields)


def test_round_trip_keeps_every_field(tmp_path) -> None:
    card = make_card(calibration=Calibration("platt", a=0.8, b=-0.1), weights_file="w.safetensors",
                     weights_sha256="ab" * 32, trained=True)
    save_card(card, tmp_path / "demo")
    loaded = load_card(tmp_path / "demo")
    assert loaded == card
    assert loaded.path == tmp_path / "demo"
    assert loaded.weights_path == tmp_path / "demo" / "w.safetensors"
    assert load_card(tmp_path / "demo" / "card.toml") == card


@pytest.mark.parametrize(
    "text, message",
    [
        ('architecture = "x"\n[input]\n', "missing required field 'name'"),
        ('name = "a"\narchitecture = "x"\n[input]\n[output]\nkind = "tanh"\n', "output_kind must be one of"),
        ('name = "a"\narchitecture = "x"\nthreshold = 1.5\n[input]\n', "threshold must lie in"),
        ('name = "a"\narchitecture = "x"\ntrained = true\n[input]\n', "needs 'weights.file'"),
        ('name = "a"\narchitecture = "x"\n[input]\nsize = "big"\n', "invalid value"),
        ('name = "a"\narchitecture = "x"\n[input]\nfps = 3\n', "unknown input field(s): fps"),
        ('name = = "a"', "not a valid TOML file"),
    ],
)
def test_invalid_cards_raise_card_error(tmp_path, text: str, message: str) -> None:
    (tmp_path / "card.toml").write_text(text)
    with pytest.raises(CardError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_card(tmp_path)


def test_missing_card_is_a_card_error(tmp_path) -> None:
    with pytest.raises(CardError, match="no model card"):
        load_card(tmp_path)


def test_sigmoid_meaning_real_is_inverted() -> None:
    card = make_card(output_kind="sigmoid", sigmoid_means="real")
    logits = torch.tensor([[2.0], [-3.0]])
    torch.testing.assert_close(fake_probability(card, logits), 1 - torch.sigmoid(logits[:, 0]))
    same = make_card(output_kind="sigmoid", sigmoid_means="fake")
    torch.testing.assert_close(fake_probability(same, logits), torch.sigmoid(logits[:, 0]))


@pytest.mark.parametrize("fake_index", [0, 1])
def test_softmax_fake_index_selects_the_fake_class(fake_index: int) -> None:
    card = make_card(output_kind="softmax", fake_index=fake_index)
    logits = torch.tensor([[1.0, -0.5], [0.2, 3.0]], dtype=torch.float64)
    expected = torch.softmax(logits, dim=-1)[:, fake_index]
    torch.testing.assert_close(fake_probability(card, logits), expected)


def test_three_class_softmax_uses_all_other_classes() -> None:
    card = make_card(output_kind="softmax", fake_index=2)
    logits = torch.tensor([[0.3, 1.0, -2.0]], dtype=torch.float64)
    torch.testing.assert_close(fake_probability(card, logits), torch.softmax(logits, -1)[:, 2])


def test_numpy_in_numpy_out_and_frame_shapes() -> None:
    card = make_card(output_kind="softmax")
    logits = np.zeros((2, 5, 2))
    probability = fake_probability(card, logits)
    assert isinstance(probability, np.ndarray) and probability.shape == (2, 5)
    np.testing.assert_allclose(probability, 0.5)


def test_calibration_changes_probability_as_specified() -> None:
    logits = torch.tensor([[0.0, 2.0]], dtype=torch.float64)  # raw fake logit 2
    hot = make_card(calibration=Calibration("temperature", temperature=2.0))
    platt = make_card(calibration=Calibration("platt", a=0.5, b=1.0))
    torch.testing.assert_close(fake_logit(hot, logits), torch.tensor([2.0], dtype=torch.float64))
    torch.testing.assert_close(fake_probability(hot, logits), torch.sigmoid(torch.tensor([1.0], dtype=torch.float64)))
    torch.testing.assert_close(fake_probability(platt, logits), torch.sigmoid(torch.tensor([2.0], dtype=torch.float64)))


def test_wrong_logit_width_is_reported() -> None:
    with pytest.raises(CardError, match="K=1"):
        fake_logit(make_card(output_kind="sigmoid"), torch.zeros(2, 2))
    with pytest.raises(CardError, match="fake_index 3"):
        fake_logit(make_card(fake_index=3), torch.zeros(2, 2))


def test_untrained_card_needs_training() -> None:
    assert make_card(trained=False).needs_training
    assert not make_card(trained=True, weights_file="w", weights_sha256="0" * 64).needs_training
