"""Model folders and ONNX files are data from a stranger: a card that leaves its folder, non-finite or flipped
calibration, symbolic links and constant-bomb ONNX graphs are refused, and one broken model never breaks an
analysis (issue 22, "Untrusted models")."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from dfdesk import paths
from dfdesk.detectors import create_detector, list_detectors
from dfdesk.detectors import onnx_runtime as onnx_rt
from dfdesk.detectors.cards import CardError, load_card, save_card
from dfdesk.detectors.weights import WeightsError, sha256_file
from dfdesk.services import model_enablement, models
from dfdesk.services.model_selection import select_models
from tests.fixtures import hostile

ARCH = "mesonet4"  # frame level, sigmoid, 16 RGB 256 px frames a clip
BUNDLED = "meso4_df"


def _copy_bundled(name: str) -> Path:
    """A copy of the bundled meso4_df folder under another name in the user models folder."""
    folder = paths.user_models_dir() / name
    shutil.copytree(paths.bundled_models_dir() / BUNDLED, folder)
    _edit_card(folder, f'name = "{BUNDLED}"', f'name = "{name}"')
    return folder


def _edit_card(folder: Path, old: str, new: str) -> None:
    card = folder / "card.toml"
    text = card.read_text()
    assert old in text, old
    card.write_text(text.replace(old, new, 1))


def _problem(name: str) -> str:
    found = models.scan_installed()
    assert name not in [c.name for c in found.cards]
    messages = [p.message for p in found.problems if p.path.name == name]
    assert messages, found.problems
    return messages[0]


# --- cards ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weights_file", ["../../outside.safetensors", "/tmp/outside.safetensors",
                                          "sub/../../outside.safetensors"])
def test_a_card_whose_weights_leave_its_folder_is_not_installed(tmp_path: Path, weights_file: str) -> None:
    folder = _copy_bundled("escaping")
    real = paths.bundled_models_dir() / BUNDLED / "model.safetensors"
    shutil.copyfile(real, paths.user_data_dir() / "outside.safetensors")  # a real weights file, right hash
    _edit_card(folder, 'file = "model.safetensors"', f'file = "{weights_file}"')
    assert "weights.file must be a file name inside the card's folder" in _problem("escaping")
    assert BUNDLED in [c.name for c in models.list_installed()]


def test_symbolic_links_are_refused_for_weights_cards_and_folders(tmp_path: Path) -> None:
    folder = _copy_bundled("linked_weights")
    outside = tmp_path / "elsewhere.safetensors"
    shutil.move(folder / "model.safetensors", outside)
    os.symlink(outside, folder / "model.safetensors")
    card = load_card(folder)  # the card itself is fine; its weights are a link
    with pytest.raises(WeightsError, match="symbolic link"):
        create_detector(card)

    target = tmp_path / "real_folder"
    shutil.copytree(paths.bundled_models_dir() / BUNDLED, target)
    _edit_card(target, f'name = "{BUNDLED}"', 'name = "linked_folder"')
    os.symlink(target, paths.user_models_dir() / "linked_folder", target_is_directory=True)
    assert "symbolic link" in _problem("linked_folder")


@pytest.mark.parametrize("old, new, message", [
    ('method = "none"\ntemperature = 1.0\na = 1.0', 'method = "platt"\ntemperature = 1.0\na = nan',
     "calibration.a must be a finite number"),
    ('method = "none"\ntemperature = 1.0\na = 1.0', 'method = "platt"\ntemperature = 1.0\na = -1.5',
     "calibration.a must be positive"),
    ('method = "none"\ntemperature = 1.0', 'method = "temperature"\ntemperature = inf',
     "calibration.temperature must be a finite number"),
    ('b = 0.0', 'b = "nan"', "calibration.b must be a finite number"),
    ('threshold = 0.5', 'threshold = nan', "threshold must be a finite number"),
    ('margin = 0.3', 'margin = 1e300', "input.margin must lie in"),
    ('frames_per_clip = 16', 'frames_per_clip = 100000000', "input.frames_per_clip must lie in"),
    ('sampling = "uniform"', 'sampling = "everything"', "input.sampling must be one of"),
    ('[metrics]', '[metrics]\nauc = nan', "metrics.auc must be a finite number"),
])
def test_non_finite_flipped_or_out_of_range_numbers_are_refused(old: str, new: str, message: str) -> None:
    folder = _copy_bundled("strange")
    _edit_card(folder, old, new)
    assert message in _problem("strange")


def test_a_nan_calibrated_model_is_skipped_by_the_default_analysis_with_a_warning(capsys) -> None:
    from dfdesk.cli.main import run_cli

    folder = _copy_bundled("meso4_nan")
    _edit_card(folder, 'method = "none"\ntemperature = 1.0\na = 1.0', 'method = "platt"\ntemperature = 1.0\na = nan')
    usable = [c.name for c in select_models(None).usable]
    assert BUNDLED in usable and "meso4_nan" not in usable
    capsys.readouterr()
    assert run_cli(["models", "list"]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("! ")]
    assert any("meso4_nan" in line and "calibration.a must be a finite number" in line for line in warnings)


def test_every_architecture_and_bundled_card_still_validates() -> None:
    """The limits leave every real card valid: each architecture's defaults, and the bundled cards (the LRNet
    ones use the 'landmarks' crop kind)."""
    for architecture in list_detectors():
        models.untrained_card(architecture).validate()
    found = models.scan_installed()
    assert not [p for p in found.problems if p.path.parent == paths.bundled_models_dir()]
    names = {c.name for c in found.cards}
    assert {"lrnet_demo", BUNDLED} <= names
    assert models.find_model("lrnet_demo").input.crop == "landmarks"


def test_save_card_refuses_what_load_card_would_refuse(tmp_path: Path) -> None:
    card = models.untrained_card(ARCH)
    card.calibration.a = float("nan")
    with pytest.raises(CardError, match="finite"):
        save_card(card, tmp_path / "c")


# --- ONNX graphs --------------------------------------------------------------------------------------

def bomb_graph(path: Path, elements: int, depends_on_input: bool = False) -> Path:
    """A MesoNet-shaped graph (clip (B, T, 3, 256, 256) -> clip_logits (B, 1), frame_logits (B, T, 1)) that
    also fills a tensor of ``elements`` floats: with a constant shape, or one computed from the input's batch
    size (so nothing is visible until the graph runs)."""
    value = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    nodes = [helper.make_node("ReduceMean", ["clip", "frame_axes"], ["per_frame"], keepdims=0),
             helper.make_node("Unsqueeze", ["per_frame", "last"], ["frame_logits"]),
             helper.make_node("ReduceMean", ["per_frame", "time_axis"], ["clip_mean"], keepdims=1)]
    init = [helper.make_tensor("frame_axes", TensorProto.INT64, [3], [2, 3, 4]),
            helper.make_tensor("last", TensorProto.INT64, [1], [2]),
            helper.make_tensor("time_axis", TensorProto.INT64, [1], [1])]
    if depends_on_input:
        init.append(helper.make_tensor("per_item", TensorProto.INT64, [1], [elements]))
        nodes += [helper.make_node("Shape", ["clip"], ["batch"], start=0, end=1),
                  helper.make_node("Mul", ["batch", "per_item"], ["big_shape"])]
    else:
        init.append(helper.make_tensor("big_shape", TensorProto.INT64, [1], [elements]))
    nodes += [helper.make_node("ConstantOfShape", ["big_shape"], ["big"], value=value),
              helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
              helper.make_node("Add", ["clip_mean", "total"], ["clip_logits"])]
    graph = helper.make_graph(
        nodes, "bomb", [helper.make_tensor_value_info("clip", TensorProto.FLOAT, ["B", "T", 3, 256, 256])],
        [helper.make_tensor_value_info("clip_logits", TensorProto.FLOAT, ["B", 1]),
         helper.make_tensor_value_info("frame_logits", TensorProto.FLOAT, ["B", "T", 1])], init)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


BOMB = 10**12  # four terabytes of zeros


def test_a_harmless_graph_of_the_same_shape_imports_and_runs(tmp_path: Path) -> None:
    card = models.import_model(bomb_graph(tmp_path / "small.onnx", 16), ARCH, "small_onnx")
    assert card.weights_format == "onnx" and models.find_model("small_onnx").trained


def test_a_constant_bomb_is_refused_at_import(tmp_path: Path) -> None:
    with pytest.raises(models.ModelStoreError, match="ConstantOfShape node makes a 4,000,000,000,000-byte"):
        models.import_model(bomb_graph(tmp_path / "bomb.onnx", BOMB), ARCH, "bomb")
    assert not (paths.user_models_dir() / "bomb").exists()


def test_a_bomb_hidden_behind_the_input_shape_is_refused_by_the_probe_run(tmp_path: Path) -> None:
    with pytest.raises(models.ModelStoreError, match="fails on a probe input"):
        models.import_model(bomb_graph(tmp_path / "bomb.onnx", BOMB, depends_on_input=True), ARCH, "bomb")
    assert not (paths.user_models_dir() / "bomb").exists()


def test_an_oversized_file_and_external_data_are_refused(tmp_path: Path, monkeypatch) -> None:
    graph = bomb_graph(tmp_path / "g.onnx", 16)
    monkeypatch.setattr(onnx_rt, "MAX_ONNX_BYTES", graph.stat().st_size - 1)  # isolate the limit, not the disk
    with pytest.raises(models.ModelStoreError, match="over the"):
        models.import_model(graph, ARCH, "too_big")
    monkeypatch.undo()
    model = onnx.load(str(graph))
    tensor = model.graph.initializer[0]  # its values now "live" in a file outside the model's folder
    tensor.ClearField("int64_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="../../secret.bin")
    onnx.save(model, str(tmp_path / "ext.onnx"))
    with pytest.raises(models.ModelStoreError, match="external data"):
        models.import_model(tmp_path / "ext.onnx", ARCH, "external")


def test_a_hand_installed_bomb_fails_its_own_detector_not_the_analysis(cli, tmp_path: Path) -> None:
    """Copied into the models folder without import (single-user install: no registration needed), the bomb
    is caught by the probe at load: that detector fails, the other one scores, the analysis completes."""
    folder = paths.user_models_dir() / "bomb"
    folder.mkdir()
    graph = bomb_graph(folder / "model.onnx", BOMB, depends_on_input=True)
    card = models.untrained_card(ARCH)
    card.name, card.trained, card.weights_file, card.weights_format = "bomb", True, graph.name, "onnx"
    card.weights_sha256 = sha256_file(graph)
    save_card(card, folder)
    model_enablement.set_enabled(models.find_model("bomb"), True, None)  # an admin's decision
    evidence = hostile.h264(tmp_path, "evidence.mp4")
    out = tmp_path / "result.json"
    result = cli("analyze", str(evidence), "--models", f"{BUNDLED},bomb", "--frames", "4", "--device", "cpu",
                 "--json", str(out))
    assert result.code == 0, result.stderr
    detectors = {d["name"]: d for d in json.loads(out.read_text())["detectors"]}
    assert detectors["bomb"]["status"] == "failed" and "probe input" in detectors["bomb"]["note"]
    assert detectors[BUNDLED]["fake_probability"] is not None
