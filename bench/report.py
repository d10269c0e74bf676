"""PDF report benchmark: export time for the analysis of a 60-second video.

    python bench/report.py                       # 60 s at 25 fps, 4 detectors + fused, 8 key frames
    python bench/report.py --seconds 120 --detectors 6 --repeat 5

Writes a synthetic clip (the test-suite's moving face) into a temporary folder, ingests it,
saves an analysis with a score for every frame of every detector (synthetic scores) and
8 heat maps, then times ``export_report``: the first (cold) export, which also imports
torch for the model cards and embeds the fonts, and the median of the warm ones.
Prints figures; asserts nothing.  Target: under 3 s on CPU.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfdesk import paths  # noqa: E402
from dfdesk.core.outcome import AnalysisOutcome, DetectorRun, FramePoint, Heatmap, TrackOutcome, Verdict  # noqa: E402
from dfdesk.services.analysis_store import save_outcome  # noqa: E402
from dfdesk.services.artifact_folders import database_files_dir  # noqa: E402
from dfdesk.services.ingest import ingest_video  # noqa: E402
from dfdesk.services.report import export_report  # noqa: E402
from dfdesk.store.database import Database  # noqa: E402
from dfdesk.store.tables import Analysis  # noqa: E402
from tests.fixtures.clips import face_frame, write_clip  # noqa: E402

WIDTH, HEIGHT, FPS, KEY_FRAMES = 480, 270, 25, 8


def make_clip(path: Path, seconds: float) -> Path:
    n = int(seconds * FPS)
    return write_clip(path, (face_frame(WIDTH, HEIGHT, i, n) for i in range(n)), fps=FPS)


def scores(name: str, frames: int, phase: float) -> tuple[FramePoint, ...]:
    return tuple(FramePoint(name, 0, f, f / FPS, 0.5 + 0.4 * math.sin(f / 40 + phase)) for f in range(frames))


def heatmap(folder: Path, name: str, frame: int) -> Heatmap:
    image = np.random.default_rng(frame).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    path = folder / f"{name}_f{frame}.png"
    Image.fromarray(image).save(path)
    return Heatmap(name, 0, frame, 0.9, str(path), hashlib.sha256(path.read_bytes()).hexdigest(), "gradcam")


def save_analysis(db: Database, clip: Path, detectors: int) -> int:
    intake = ingest_video(db, "bench", clip, "bench")
    frames = intake.info.frame_count
    side = HEIGHT // 2
    boxes = {f: (float(x := (WIDTH - side) * f // max(frames - 1, 1)), float((HEIGHT - side) // 2),
                 float(x + side), float((HEIGHT + side) // 2)) for f in range(frames)}
    runs = tuple(DetectorRun(f"detector_{i}", "1.0", "bench", "cd" * 32, "used", "", 0.5, 0.7, True, {0: 0.7},
                             scores(f"detector_{i}", frames, i)) for i in range(detectors))
    folder = database_files_dir(db) / f"case-{intake.case_id:05d}"
    folder.mkdir(parents=True, exist_ok=True)
    maps = tuple(heatmap(folder, "detector_0", int(f)) for f in np.linspace(0, frames - 1, KEY_FRAMES))
    verdict = Verdict("fake", 0.7, (0.62, 0.78), 0.6, 0.4, "all detectors agree", "band above threshold", "mean")
    outcome = AnalysisOutcome(verdict, runs, (TrackOutcome(0, True, tuple(range(frames)), boxes, 0.7),),
                              scores("fused", frames, 0.5), maps, frames, frames, {})
    with db.unit_of_work() as session:
        analysis = Analysis(evidence_id=intake.evidence_id, created_by="bench", status="running",
                            settings={"sampling": "all", "frames": frames}, seed=0)
        session.add(analysis)
        session.flush()
        save_outcome(session, analysis, outcome)
        return analysis.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--detectors", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dfdesk-bench-report-") as tmp:
        folder = Path(tmp)
        os.environ[paths.DATA_DIR_ENV] = str(folder / "userdata")
        clip = make_clip(folder / "bench.mp4", args.seconds)
        db = Database(folder / "cases.sqlite")
        analysis_id = save_analysis(db, clip, args.detectors)
        times = []
        for i in range(args.repeat + 1):
            start = time.perf_counter()
            result = export_report(db, analysis_id, folder / f"report{i}.pdf", "bench")
            times.append(time.perf_counter() - start)
        pages = result.path.read_bytes().count(b"/Type /Page\n")
        points = (args.detectors + 1) * int(args.seconds * FPS)
        print(f"video {args.seconds:.0f} s at {FPS} fps, {args.detectors} detectors + fused = {points} timeline "
              f"points, {KEY_FRAMES} key frames; report {result.path.stat().st_size / 1024:.0f} KiB, {pages} pages")
        print(f"export (cold, imports torch for model cards): {times[0]:.2f} s")
        print(f"export (warm, median of {args.repeat}): {statistics.median(times[1:]):.2f} s  (target < 3 s on CPU)")
        db.close()


if __name__ == "__main__":
    main()
