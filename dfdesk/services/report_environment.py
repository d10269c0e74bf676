"""The processing environment a report prints: operating system, Python, dfdesk and library versions, CPU, GPU and
the device the analysis ran on.

An analysis that recorded its environment (``environment`` in its summary or settings, in the shape
:func:`collect_environment` returns) is printed as recorded "at analysis time"; otherwise the report collects the
same facts now and says they are "at export" — values are never guessed.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata

from dfdesk import __version__

LIBRARIES = ("torch", "torchvision", "av", "numpy", "facenet-pytorch")
NOT_INSTALLED = "not installed"
AT_ANALYSIS = "recorded at analysis time"
AT_EXPORT = "at export (the analysis did not record its environment; these are the exporting machine's facts)"


@dataclass(frozen=True)
class EnvironmentFacts:
    when: str  # AT_ANALYSIS or AT_EXPORT
    rows: tuple[tuple[str, str], ...]  # (label, value) in print order


def collect_environment(device_used: str | None = None) -> dict:
    """This machine's facts as a JSON-ready dict (an analysis can store it under ``environment``)."""
    return {"os": f"{platform.system()} {platform.release()} ({platform.machine()})",
            "python": platform.python_version(), "dfdesk": __version__,
            "libraries": {name: _version(name) for name in LIBRARIES},
            "cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpu": gpu_name(), "device": device_used}


def environment_facts(recorded: dict | None, device_used: str | None) -> EnvironmentFacts:
    """What the report prints: the recorded environment when there is one, else this machine's at export."""
    if isinstance(recorded, dict) and recorded:
        return EnvironmentFacts(AT_ANALYSIS, _rows(recorded, device_used))
    return EnvironmentFacts(AT_EXPORT, _rows(collect_environment(), device_used))


def _rows(env: dict, device_used: str | None) -> tuple[tuple[str, str], ...]:
    libraries = env.get("libraries") or {}
    device = env.get("device") or device_used
    rows = [("Operating system", env.get("os")), ("Python", env.get("python")), ("dfdesk", env.get("dfdesk")),
            *((name, libraries.get(name)) for name in LIBRARIES),
            ("CPU", env.get("cpu")), ("CPU count", env.get("cpu_count")), ("GPU", env.get("gpu")),
            ("Device used by the analysis", device)]
    return tuple((label, "not recorded" if value in (None, "") else str(value)) for label, value in rows)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what the platform module knows, else "unknown"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def gpu_name() -> str:
    """The first CUDA device's name, or "none" (no CUDA device, or PyTorch is not installed)."""
    try:
        import torch  # heavy: only when a report or an analysis asks
    except ImportError:
        return "none"
    if not torch.cuda.is_available():
        return "none"
    return f"{torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} CUDA device(s))"
