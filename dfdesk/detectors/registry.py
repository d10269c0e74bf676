"""A registry of detector architectures filled by a decorator (timm's pattern)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from dfdesk.detectors.base import Detector

if TYPE_CHECKING:
    from dfdesk.detectors.cards import ModelCard

_REGISTRY: dict[str, type[Detector]] = {}
D = TypeVar("D", bound=type[Detector])


def register_detector(name: str) -> Callable[[D], D]:
    def decorate(cls: D) -> D:
        if name in _REGISTRY:
            raise ValueError(f"detector {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def list_detectors() -> list[str]:
    return sorted(_REGISTRY)


def detector_class(name: str) -> type[Detector]:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(list_detectors()) or "none"
        raise KeyError(f"unknown detector architecture {name!r} (known: {known})") from None


def build_detector(name: str, **options: Any) -> Detector:
    """A fresh, randomly initialised detector (training, tests).  Loads no file."""
    return detector_class(name)(**options)


def create_detector(card: ModelCard, device: str | torch.device = "cpu") -> Detector:
    """An eval-mode detector built from a model card, weights loaded strictly, on ``device``.

    A card with ``trained = false`` is built with random weights; the returned module's
    ``trained`` attribute is then False so that callers never turn its output into a verdict.
    A card with ONNX weights gives an :class:`~dfdesk.detectors.onnx_runtime.OnnxCardDetector`
    (onnxruntime, the same ``DetectorOutput``, no spatial maps, no Grad-CAM).
    """
    from dfdesk.detectors.cards import CardError
    from dfdesk.detectors.weights import load_into, load_state_dict

    if card.weights_format == "onnx":
        from dfdesk.detectors.onnx_runtime import load_onnx_detector

        return load_onnx_detector(card, device)
    try:
        model = build_detector(card.architecture, **card.options)
    except KeyError as exc:
        raise CardError(f"model {card.name!r}: {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise CardError(f"model {card.name!r}: options do not fit {card.architecture!r} ({exc})") from None
    if card.trained:
        load_into(model, load_state_dict(card), label=f"weights of {card.name!r}")
    model.trained = card.trained
    model.card = card
    return model.eval().to(device)
