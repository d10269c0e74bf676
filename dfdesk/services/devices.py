"""Which compute device the detectors run on."""
from __future__ import annotations


def resolve_device(choice: str = "auto") -> str:
    """'auto' picks CUDA when a CUDA GPU is present, else the CPU."""
    import torch

    if choice not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {choice!r} (use auto, cpu or cuda)")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA GPU is available")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def device_description(choice: str = "auto") -> str:
    import torch

    device = resolve_device(choice)
    if device == "cuda":
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"CPU ({torch.get_num_threads()} threads)"
