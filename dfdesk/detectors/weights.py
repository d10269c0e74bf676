"""Safe weights: safetensors only at run time, SHA-256 checked at every load.

A PyTorch checkpoint is read only through ``torch.load(weights_only=True)`` (which refuses
pickled code) and converted to safetensors once, at import time.
"""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from dfdesk.detectors.cards import ModelCard

STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


class WeightsError(ValueError):
    """Weights are missing, corrupt, unsafe, or do not fit the architecture."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state_dict(card: ModelCard) -> dict[str, torch.Tensor]:
    """The card's safetensors weights, after checking the file's SHA-256 against the card."""
    if card.weights_format != "safetensors":
        raise WeightsError(f"model {card.name!r}: {card.weights_format} weights run in onnxruntime, not PyTorch")
    return read_safetensors(verified_weights_path(card))


def verified_weights_path(card: ModelCard) -> Path:
    """The card's weights file (any format), after checking that it is a plain file inside the card's
    folder (not a symbolic link), exists and has the card's SHA-256."""
    path = card.weights_path
    if path is None:
        raise WeightsError(f"model {card.name!r}: the card names no weights file")
    check_confined(card.name, path)
    if not path.is_file():
        raise WeightsError(f"model {card.name!r}: weights file {path} is missing")
    if not card.weights_sha256:
        raise WeightsError(f"model {card.name!r}: the card records no weights SHA-256")
    actual = sha256_file(path)
    if actual != card.weights_sha256.lower():
        raise WeightsError(
            f"model {card.name!r}: {path.name} has SHA-256 {actual[:16]}…, the card expects "
            f"{card.weights_sha256[:16]}… (file altered, truncated or replaced)"
        )
    return path


def check_confined(name: str, path: Path) -> None:
    """Refuse a weights path that is a symbolic link or resolves outside its card's folder."""
    if path.is_symlink():
        raise WeightsError(f"model {name!r}: {path.name} is a symbolic link; refused (weights live in the "
                           "model's own folder)")
    if not path.resolve().is_relative_to(path.parent.resolve()):
        raise WeightsError(f"model {name!r}: {path} leaves the model's folder; refused")


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; a corrupt or truncated file raises :class:`WeightsError`."""
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{Path(path).name} is not a readable safetensors file ({exc})") from None


def import_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Convert a PyTorch checkpoint to safetensors, refusing anything but plain tensors."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise WeightsError(f"checkpoint {src} does not exist")
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"{src.name} refused: it holds objects other than tensors (possibly code); "
            f"only plain state dicts are imported ({_first_line(exc)})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise WeightsError(f"{src.name} is not a readable PyTorch checkpoint ({_first_line(exc)})") from None
    state = _strip_prefix(_find_state_dict(obj, src.name), "module.")
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().clone().contiguous() for k, v in state.items()}, str(dst))
    return dst


def _find_state_dict(obj: Any, label: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in STATE_DICT_KEYS:
            if isinstance(obj.get(key), dict):
                return _find_state_dict(obj[key], label)
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors and all(isinstance(k, str) for k in tensors):
            return tensors
    raise WeightsError(f"{label} holds no state dict of tensors")


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_state_dict(model: nn.Module, state: dict[str, torch.Tensor], label: str = "weights") -> None:
    """Raise :class:`WeightsError` naming the first keys that are missing, unexpected or mis-shaped."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if shapes:
        problems.append("shape mismatch: " + _first(shapes))
    if missing:
        problems.append("missing keys: " + _first(missing))
    if unexpected:
        problems.append("unexpected keys: " + _first(unexpected))
    if problems:
        raise WeightsError(f"{label} do not fit {type(model).__name__}: " + "; ".join(problems))


def _first(items: list[str], n: int = 3) -> str:
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def load_into(model: nn.Module, state: dict[str, torch.Tensor], label: str = "weights") -> None:
    """Check and load a state dict strictly."""
    check_state_dict(model, state, label)
    model.load_state_dict(state, strict=True)
