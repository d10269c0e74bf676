"""The installed-models service: listing, finding, importing and exporting (user data in tmp_path)."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from dfdesk.detectors import build_detector
from dfdesk.paths import DATA_DIR_ENV
from dfdesk.services import models

ARCH = "mesonet4"


@pytest.fixture(autouse=True)
def user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "user"))
    return tmp_path / "user"


def test_bundled_models_are_listed_and_found() -> None:
    names = [card.name for card in models.list_installed()]
    assert {"meso4_df", "meso4_f2f", "mesoinception4_df", "mesoinception4_f2f"} <= set(names)
    assert models.find_model("meso4_df").architecture == ARCH
    with pytest.raises(models.ModelStoreError, match="no installed model named 'nope'"):
        models.find_model("nope")


def test_a_bad_card_is_reported_not_fatal(user_dir) -> None:
    broken = user_dir / "models" / "broken"
    broken.mkdir(parents=True)
    (broken / "card.toml").write_text("name = ")
    found = models.scan_installed()
    assert any(p.path == broken and "TOML" in p.message for p in found.problems)
    assert "meso4_df" in [c.name for c in models.list_installed()]


def test_untrained_cards_need_training() -> None:
    card = models.untrained_card("lipforensics_ta")
    assert card.needs_training and card.input.colour == "gray" and card.output_kind == "sigmoid"
    assert "xception_st_convlstm" in [c.architecture for c in models.untrained_cards()]
    assert ARCH not in [c.architecture for c in models.untrained_cards()]  # it has trained weights shipped


def test_import_checkpoint_installs_a_verified_model(tmp_path, user_dir) -> None:
    torch.manual_seed(0)
    model = build_detector(ARCH).eval()
    torch.save({"state_dict": model.state_dict()}, tmp_path / "mine.pth")
    card = models.import_model(tmp_path / "mine.pth", ARCH, "my_meso", sigmoid_means="real", licence="MIT")
    assert card.path == user_dir / "models" / "my_meso"
    assert card.weights_format == "safetensors" and card.trained
    assert models.find_model("my_meso").weights_sha256 == card.weights_sha256
    with pytest.raises(models.ModelStoreError, match="already installed"):
        models.import_model(tmp_path / "mine.pth", ARCH, "my_meso")


def test_import_refuses_weights_of_another_architecture(tmp_path, user_dir) -> None:
    other = build_detector("mesoinception4").state_dict()
    save_file(other, str(tmp_path / "other.safetensors"))
    with pytest.raises(models.ModelStoreError, match="do not fit Meso4"):
        models.import_model(tmp_path / "other.safetensors", ARCH, "wrong")
    assert not (user_dir / "models" / "wrong").exists()


@pytest.mark.parametrize("file, message", [("w.txt", "does not exist"), ("w.npz", "unsupported weights format")])
def test_import_reports_bad_paths(tmp_path, file: str, message: str) -> None:
    if message != "does not exist":
        (tmp_path / file).write_bytes(b"x")
    with pytest.raises(models.ModelStoreError, match=message):
        models.import_model(tmp_path / file, ARCH, "x")


def test_import_rejects_bad_names_and_architectures(tmp_path) -> None:
    (tmp_path / "w.safetensors").write_bytes(b"x")
    with pytest.raises(models.ModelStoreError, match="must be lower-case"):
        models.import_model(tmp_path / "w.safetensors", ARCH, "../escape")
    with pytest.raises(models.ModelStoreError, match="unknown detector architecture"):
        models.import_model(tmp_path / "w.safetensors", "nope", "fine")


# Exporting an installed model and importing the ONNX file again: tests/detectors/test_onnx_cards.py.


def test_export_of_an_unknown_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(models.ModelStoreError, match="no installed model"):
        models.export_onnx("ghost", tmp_path / "g.onnx")
