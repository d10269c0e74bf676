"""Running a built dfdesk bundle the way a user's machine would: no virtual environment or Python variables, HOME
in a temporary folder, Qt offscreen, and (where `unshare -n` works, as root) no network at all."""
from __future__ import annotations

import functools
import os
import subprocess
import time
from pathlib import Path

BUNDLE_ENV = "DFDESK_BUNDLE"  # the built bundle: dist/cpu/dfdesk (the folder) or its dfdesk executable


def bundle_executable() -> Path | None:
    value = os.environ.get(BUNDLE_ENV)
    if not value:
        return None
    path = Path(value).resolve()
    exe = path / "dfdesk" if path.is_dir() else path
    return exe if exe.is_file() and os.access(exe, os.X_OK) else None


def clean_env(home: Path) -> dict[str, str]:
    """Only what a desktop session gives a program: no VIRTUAL_ENV, PYTHON*, LD_LIBRARY_PATH, DFDESK_* or CUDA_*."""
    home.mkdir(parents=True, exist_ok=True)
    runtime = home / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
        "USER": os.environ.get("USER", "analyst"),
    }


@functools.cache
def no_network_prefix() -> tuple[str, ...]:
    """`unshare -n --` when a network namespace without network can be made here (root), else nothing."""
    try:
        ok = subprocess.run(["unshare", "-n", "--", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ("unshare", "-n", "--") if ok else ()


def run_bundle(exe: Path, args: list[str], home: Path, timeout: float = 600
               ) -> tuple[subprocess.CompletedProcess, float]:
    """Runs the bundle in the clean environment (cwd = HOME); returns the process and its wall time in seconds."""
    start = time.perf_counter()
    proc = subprocess.run([*no_network_prefix(), str(exe), *args], env=clean_env(home), cwd=home,
                          capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - start
