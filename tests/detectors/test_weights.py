"""Safe weights: SHA-256 at every load, weights-only checkpoint import, strict shapes."""
from __future__ import annotations

import os
import pickle
import sys

import pytest
import torch
from safetensors.torch import save_file

from dfdesk.detectors import build_detector, create_detector
from dfdesk.detectors.base import InputSpec
from dfdesk.detectors.cards import CardError, ModelCard
from dfdesk.detectors.weights import (
    WeightsError,
    check_state_dict,
    import_checkpoint,
    load_state_dict,
    read_safetensors,
    sha256_file,
)

ARCH, OPTIONS = "mesonet4", {"clip_pool": "logit_mean"}


def saved_model(folder) -> tuple[torch.nn.Module, ModelCard]:
    """A randomly initialised MesoNet saved as safetensors with a matching card."""
    torch.manual_seed(3)
    model = build_detector(ARCH, **OPTIONS).eval()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(folder / "w.safetensors"))
    card = ModelCard(name="m", architecture=ARCH, options=OPTIONS, output_kind="sigmoid", trained=True,
                     input=InputSpec(size=256), weights_file="w.safetensors",
                     weights_sha256=sha256_file(folder / "w.safetensors"), path=folder)
    return model, card


def test_create_detector_loads_the_saved_weights(tmp_path) -> None:
    model, card = saved_model(tmp_path)
    detector = create_detector(card)
    assert not detector.training and detector.trained
    clip = torch.rand(1, 2, 3, 256, 256)
    with torch.no_grad():
        torch.testing.assert_close(detector(clip).clip_logits, model(clip).clip_logits)


def test_untrained_card_builds_without_weights(tmp_path) -> None:
    card = ModelCard(name="u", architecture=ARCH, trained=False, output_kind="sigmoid")
    detector = create_detector(card)
    assert detector.trained is False and not detector.training


def test_unknown_architecture_is_a_card_error() -> None:
    with pytest.raises(CardError, match="unknown detector architecture 'nope'"):
        create_detector(ModelCard(name="u", architecture="nope"))


def test_sha_mismatch_is_refused(tmp_path) -> None:
    _, card = saved_model(tmp_path)
    card.weights_sha256 = "0" * 64
    with pytest.raises(WeightsError, match="SHA-256"):
        load_state_dict(card)


def test_truncated_file_is_refused_by_hash_and_by_parser(tmp_path) -> None:
    _, card = saved_model(tmp_path)
    path = card.weights_path
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(WeightsError, match="SHA-256"):
        load_state_dict(card)
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        read_safetensors(path)


def test_missing_file_is_refused(tmp_path) -> None:
    _, card = saved_model(tmp_path)
    card.weights_path.unlink()
    with pytest.raises(WeightsError, match="is missing"):
        create_detector(card)


def test_shape_mismatch_names_the_first_keys(tmp_path) -> None:
    _, card = saved_model(tmp_path)
    state = read_safetensors(card.weights_path)
    state["classifier.1.weight"] = torch.zeros(8, 1024)
    state["classifier.1.bias"] = torch.zeros(8)
    save_file(state, str(card.weights_path))
    card.weights_sha256 = sha256_file(card.weights_path)
    with pytest.raises(WeightsError, match=r"shape mismatch: classifier\.1\.weight \(8, 1024\) vs \(16, 1024\)"):
        create_detector(card)


def test_missing_and_unexpected_keys_are_named() -> None:
    model = build_detector(ARCH)
    state = dict(model.state_dict())
    state.pop("features.0.0.weight")
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match=r"missing keys: features\.0\.0\.weight.*unexpected keys: extra\.weight"):
        check_state_dict(model, state)


def test_checkpoint_import_converts_plain_state_dicts(tmp_path) -> None:
    model = build_detector(ARCH)
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}
    torch.save(wrapped, tmp_path / "ckpt.pth")
    out = import_checkpoint(tmp_path / "ckpt.pth", tmp_path / "out" / "w.safetensors")
    state = read_safetensors(out)
    assert set(state) == set(model.state_dict())
    torch.testing.assert_close(state["classifier.4.weight"], model.state_dict()["classifier.4.weight"])


class RunsACommand:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"{sys.executable} -c \"open({self.marker!r}, 'w').write('pwned')\"",))


def write_evil(path, marker, zip_format: bool) -> None:
    payload = {"state_dict": {"w": RunsACommand(str(marker))}}
    if zip_format:
        torch.save(payload, path)
    else:
        with open(path, "wb") as handle:
            pickle.dump(payload, handle, protocol=2)


def test_the_evil_pickle_really_runs_code_when_unpickled_unsafely(tmp_path) -> None:
    marker = tmp_path / "proof.txt"
    write_evil(tmp_path / "evil.pkl", marker, zip_format=False)
    with open(tmp_path / "evil.pkl", "rb") as handle:
        pickle.load(handle)  # what an unsafe loader would do
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("zip_format", [False, True], ids=["raw-pickle", "torch-zip"])
def test_pickle_that_runs_code_is_refused_and_does_not_run(tmp_path, zip_format: bool) -> None:
    marker = tmp_path / "marker.txt"
    evil = tmp_path / "evil.pth"
    write_evil(evil, marker, zip_format)
    with pytest.raises(WeightsError, match="refused"):
        import_checkpoint(evil, tmp_path / "w.safetensors")
    assert not marker.exists()
    assert not (tmp_path / "w.safetensors").exists()


def test_garbage_checkpoint_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"\x00not a checkpoint at all")
    with pytest.raises(WeightsError):
        import_checkpoint(tmp_path / "junk.pt", tmp_path / "w.safetensors")


def test_checkpoint_without_tensors_is_refused(tmp_path) -> None:
    torch.save({"epoch": 1, "lr": 0.1}, tmp_path / "empty.pt")
    with pytest.raises(WeightsError, match="no state dict"):
        import_checkpoint(tmp_path / "empty.pt", tmp_path / "w.safetensors")
