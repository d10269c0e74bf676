"""Longest event-loop stalls while an analysis runs in a worker (the GUI must stay responsive).

A QTimer probe fires every 5 ms on the GUI thread; a stall is how late each tick arrives.
Prints p50 / p99 / max of the stalls.  Usage:

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_latency.py [VIDEO] [--frames N] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROBE_MS = 5


def default_video() -> Path:
    from dfdesk import paths

    shared = paths.shared_data_dir()
    if shared is None:
        sys.exit("no video given and ../shared/data is absent")
    return shared / "videos" / "ffpp" / "519_515.mp4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", type=Path)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="dfdesk-latency-"))
    os.environ["DFDESK_DATA_DIR"] = str(work / "data")

    from PySide6.QtCore import QElapsedTimer, QTimer

    from dfdesk.gui import tasks
    from dfdesk.gui.app import make_app
    from dfdesk.gui.jobs import JobQueue
    from dfdesk.services.ingest import ingest_video
    from dfdesk.store.database import Database

    app = make_app()
    video = args.video or default_video()
    db = Database(work / "cases.sqlite")
    evidence_id = ingest_video(db, "latency", video, "bench").evidence_id
    request = tasks.analysis_request(None, args.frames, "uniform", args.device)
    queue = JobQueue()
    clock, stalls = QElapsedTimer(), []
    probe = QTimer()
    probe.setTimerType(probe.timerType().PreciseTimer)
    last = [0]

    def tick() -> None:
        now = clock.elapsed()
        stalls.append(max(0, now - last[0] - PROBE_MS))
        last[0] = now

    probe.timeout.connect(tick)
    clock.start()
    probe.start(PROBE_MS)
    started = time.perf_counter()
    job = queue.submit("analysis", lambda ctx: tasks.run_analysis(db, evidence_id, request, "bench", ctx), gpu=True)
    job.finished.connect(app.quit)
    app.exec()
    probe.stop()
    queue.shutdown()
    db.close()
    seconds = time.perf_counter() - started
    values = np.asarray(stalls[1:], float)
    print(f"video {video.name}, {args.frames} frames, job {job.state} in {seconds:.1f} s, {len(values)} probe ticks")
    print(f"event-loop stall (ms): p50 {np.percentile(values, 50):.1f}  p99 {np.percentile(values, 99):.1f}  "
          f"max {values.max():.1f}")
    return 0 if job.state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
