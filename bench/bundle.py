"""Packaging benchmark: size of a built bundle and its cold start to the main window (issue 9).

    packaging/build.sh cpu                         # builds dist/cpu/dfdesk and dist/dfdesk-*-cpu.tar.gz
    python bench/bundle.py dist/cpu/dfdesk      # sizes, --version time, start to main window (offscreen)
    python bench/bundle.py dist/cpu/dfdesk --repeat 5 --drop-caches

Runs the bundle as tests/packaging does (no venv, fresh HOME, Qt offscreen, no network where `unshare -n` works).
"Start to main window" is the wall time from launching `dfdesk --smoke-gui` until it prints that its main window is
shown (visible and exposed); the process then quits. The first run after a build (or after --drop-caches, as root)
reads the bundle from disk: that is the cold figure; the later runs are warm. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.packaging.clean_env import clean_env, no_network_prefix, run_bundle  # noqa: E402


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def largest(path: Path, n: int = 8) -> list[tuple[int, str]]:
    files = [(p.stat().st_size, str(p.relative_to(path)))
             for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sorted(files, reverse=True)[:n]


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def start_to_window(exe: Path, home: Path) -> float:
    """Seconds from launch to the line `main window shown` (the process is then left to quit)."""
    start = time.perf_counter()
    proc = subprocess.Popen([*no_network_prefix(), str(exe), "--smoke-gui"], env=clean_env(home), cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("main window shown"):
            seconds = time.perf_counter() - start
            break
    else:
        raise RuntimeError(f"no main window: {proc.stderr.read()[-2000:]}")
    proc.wait(timeout=120)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path, help="the bundle folder (dist/cpu/dfdesk)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true", help="drop the page cache before the first start")
    args = parser.parse_args()
    args.bundle = args.bundle.resolve()
    exe = args.bundle / "dfdesk"
    size = folder_size(args.bundle)
    print(f"bundle {args.bundle}: {size / 1e9:.2f} GB ({size / 2**30:.2f} GiB) unpacked, "
          f"{sum(1 for _ in args.bundle.rglob('*'))} files")
    for nbytes, name in largest(args.bundle):
        print(f"  {nbytes / 1e6:8.1f} MB  {name}")
    for archive in sorted(args.bundle.parent.parent.glob("dfdesk-*.tar.gz")):
        print(f"archive {archive.name}: {archive.stat().st_size / 1e9:.2f} GB")
    print("network:", "none (unshare -n)" if no_network_prefix() else "host (unshare -n unavailable)")
    with tempfile.TemporaryDirectory() as tmp:
        if args.drop_caches:
            print("page cache dropped" if drop_caches() else "could not drop the page cache (not root?)")
        times = []
        for i in range(args.repeat):
            home = Path(tmp) / f"home{i}"  # a fresh HOME each time: first launch for that user (creates its database)
            times.append(start_to_window(exe, home))
            print(f"start to main window, run {i + 1}: {times[-1]:.2f} s")
        print(f"start to main window: first {times[0]:.2f} s, median of the rest "
              f"{statistics.median(times[1:] or times):.2f} s")
        proc, seconds = run_bundle(exe, ["--version"], Path(tmp) / "home-version")
        print(f"dfdesk --version: {seconds:.2f} s ({proc.stdout.strip()})")


if __name__ == "__main__":
    main()
