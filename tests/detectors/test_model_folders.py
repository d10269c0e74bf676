"""One model store for the product and the trainer (detectors.model_folders): both list the same models, a model
the trainer installs is one the model manager lists, a taken name is refused by both, and a failed install leaves
nothing behind (user data in tmp_path)."""
from __future__ import annotations

import shutil

import pytest

from dfdesk import paths
from dfdesk.detectors import build_detector
from dfdesk.detectors.cards import Calibration
from dfdesk.detectors.model_folders import ModelFolderError, new_model_folder, read_model_folders
from dfdesk.services import models
from trainer.install import InstallError, find_installed_card, install_trained, installed_cards


def _train_install(name: str):
    card = find_installed_card("meso4_df")
    state = build_detector(card.architecture, **card.options).state_dict()
    return install_trained(state, card, name=name, threshold=0.5, calibration=Calibration(),
                           metrics={"val_auc": 0.5}, training_data="test")


def test_the_trainer_and_the_product_list_the_same_models() -> None:
    assert [c.name for c in installed_cards()] == [c.name for c in models.scan_installed().cards]


def test_a_model_the_trainer_installs_is_listed_and_its_name_is_then_taken() -> None:
    card = _train_install("meso-ft-test")
    assert card.path == paths.user_models_dir() / "meso-ft-test"
    assert "meso-ft-test" in {c.name for c in models.list_installed()}
    with pytest.raises(InstallError, match="already installed"):
        _train_install("meso-ft-test")
    with pytest.raises(models.ModelStoreError, match="already installed"):
        models.import_model(card.path / card.weights_file, card.architecture, "meso-ft-test")


def test_a_user_copy_of_a_bundled_name_is_skipped_by_both() -> None:
    copy = paths.user_models_dir() / "meso_copy"
    shutil.copytree(paths.bundled_models_dir() / "meso4_df", copy)
    found = read_model_folders()
    assert [c.name for c in found.cards].count("meso4_df") == 1
    assert any(p.path == copy and "duplicate" in p.message for p in found.problems)
    assert find_installed_card("meso4_df").path == paths.bundled_models_dir() / "meso4_df"


def test_a_failed_install_leaves_no_folder_behind() -> None:
    with pytest.raises(RuntimeError), new_model_folder("half") as staging:
        (staging / "card.toml").write_text("partial")
        raise RuntimeError("the disk filled")
    assert list(paths.user_models_dir().iterdir()) == []
    with pytest.raises(ModelFolderError, match="already installed"), new_model_folder("meso4_df"):
        pass
