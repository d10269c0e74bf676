"""Batch triage throughput and memory: videos per minute with 1 and 2 local face workers and on a local Ray
cluster, and the memory of every process involved, over the same generated short videos.

    .venv/bin/python bench/batch.py [--videos 200] [--frames 10] [--configs local1,local2,ray,local1-split,...]

local1 / local2: 1 or 2 worker processes analysing whole videos (the CPU default); local1-split / local2-split:
1 or 2 face workers feeding one inference process (the GPU default); ray: a local Ray cluster with every CPU.

Each configuration starts cold: its own data folder (empty crop cache), its own case database, worker processes
started by the batch.  The default ensemble and settings are used, as `dfdesk batch` does.  Memory is the resident
set of the driver and of all its descendant processes (local workers, or the Ray cluster's processes, which the
bench starts itself), sampled every 0.5 s; "flat" means the total at the end of the batch is no higher than at a
quarter of it, give or take noise.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository first

from dfdesk import paths  # noqa: E402
from dfdesk.core.steps import run_to_end  # noqa: E402
from dfdesk.core.types import Progress  # noqa: E402
from dfdesk.services.batch import BatchOptions, run_batch  # noqa: E402
from dfdesk.store.database import Database  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def make_videos(folder: Path, count: int, frames: int) -> Path:
    """``count`` different short face videos (no two with the same bytes: copies would be analysed once)."""
    import numpy as np

    from tests.fixtures import clips

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        target = folder / f"video_{i:04d}.mp4"
        if not target.exists():  # its own length (7 values) and brightness (40 values): distinct up to 280
            n, shift = frames + i % 7, i // 7 - 20
            images = [np.clip(clips.face_frame(320, 240, k, n).astype(np.int16) + shift, 0, 255).astype(np.uint8)
                      for k in range(n)]
            clips.write_clip(target, images)
    return folder


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, in MB."""
    tree, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except OSError:
            pass
        todo.extend(tree.get(pid, []))
    return total / 2**20


class MemorySampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []  # (time, MB)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.5):
            self.samples.append((time.monotonic(), tree_rss_mb(os.getpid())))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_config(name: str, videos: Path, workdir: Path) -> dict:
    data, database = workdir / f"data-{name}", workdir / f"{name}.sqlite"
    shutil.rmtree(data, ignore_errors=True)  # cold: no crop cache, no earlier results
    for stale in workdir.glob(f"{name}.sqlite*"):
        stale.unlink()
    os.environ[paths.DATA_DIR_ENV] = str(data)  # inherited by the worker processes (and the Ray cluster)
    ray_started = False
    if name == "ray":
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, object_store_memory=200 * 2**20,
                 log_to_driver=False, logging_level="error")
        ray_started = True
    options = BatchOptions(case="bench", inputs=(str(videos),), workers=2 if name.startswith("local2") else 1,
                           split=name.endswith("-split"), ray="auto" if name == "ray" else None)
    db = Database(database)
    sampler, marks, first = MemorySampler(), {}, []
    sampler.start()
    started = time.monotonic()

    def on_event(event) -> None:
        if isinstance(event, Progress) and event.done:
            if not first:
                first.append(time.monotonic())
            for quarter in (1, 2, 3, 4):
                if event.done == event.total * quarter // 4 and quarter not in marks:
                    marks[quarter] = tree_rss_mb(os.getpid())

    try:
        summary = run_to_end(run_batch(db, options, "bench"), on_event)
    finally:
        sampler.stop()
        if ray_started:
            import ray

            ray.shutdown()
    wall = time.monotonic() - started
    steady = wall - (first[0] - started) if first else wall
    peak = max((mb for _t, mb in sampler.samples), default=0.0)
    if summary.refused:
        print(f"{name}: {len(summary.refused)} refused, e.g. {summary.refused[0]}", file=sys.stderr)
    return {"config": name, "executor": summary.executor, "analysed": summary.analysed,
            "refused": len(summary.refused), "wall_s": wall, "per_min": summary.analysed / wall * 60,
            "steady_per_min": (summary.analysed - 1) / steady * 60 if steady > 0 else 0.0,
            "first_result_s": first[0] - started if first else None, "peak_mb": peak,
            "quarters_mb": [round(marks.get(q, 0.0)) for q in (1, 2, 3, 4)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--frames", type=int, default=10, help="frames of the shortest generated video")
    parser.add_argument("--configs", default="local1,local2,ray,local1-split,local2-split")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dfdesk-bench-batch")
    args = parser.parse_args()
    videos = make_videos(args.workdir / f"videos-{args.videos}x{args.frames}", args.videos, args.frames)
    print(f"{args.videos} generated videos (320x240, {args.frames}-{args.frames + 6} frames), {os.cpu_count()} "
          f"CPU(s), load average {os.getloadavg()[0]:.1f} at start", flush=True)
    print("| config | executor | analysed | wall s | videos/min | steady videos/min | first result s | "
          "peak MB (all processes) | MB at 1/4, 1/2, 3/4, end |", flush=True)
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for name in args.configs.split(","):
        run = run_config(name, videos, args.workdir)
        print(f"| {run['config']} | {run['executor']} | {run['analysed']} | {run['wall_s']:.0f} | "
              f"{run['per_min']:.1f} | {run['steady_per_min']:.1f} | {run['first_result_s']:.1f} | "
              f"{run['peak_mb']:.0f} | {', '.join(map(str, run['quarters_mb']))} |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
