"""End-to-end analysis time, split by stage, against the naive pipeline of the seed repositories.

    .venv/bin/python bench/e2e.py [--naive-frames 60]

Clips: FF++ 750_743 (1920x1080, 10.4 s) and a 60 s 1280x720 clip made by looping FF++ 634 (in /tmp).
dfdesk: the default ensemble (every installed model with trained weights), its default sampling,
one decode and one face detection shared by all models, a fresh crop cache.
Naive (what the seed repositories do): decode every frame and write it to disk as an image, then for
each model separately read every image back, run MTCNN on the full-resolution frame one at a time,
crop and score.  It is timed on the first --naive-frames frames and scaled to the whole clip (stated).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dfdesk import paths
from dfdesk.core.crops import face_crop
from dfdesk.core.probe import probe_video
from dfdesk.core.steps import run_to_end
from dfdesk.core.video import iter_frames
from dfdesk.detectors.base import crops_to_tensor
from dfdesk.detectors.registry import create_detector
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.models import list_installed
from dfdesk.store.database import Database


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def looped_clip(source: Path, seconds: int, out: Path) -> Path:
    if not out.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "5", "-i", str(source), "-t", str(seconds),
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", str(out)], check=True)
    return out


def dfdesk_run(video: Path, workdir: Path) -> dict:
    db = Database(workdir / "bench.sqlite")
    started = time.perf_counter()
    intake = ingest_video(db, "bench", video, "bench")
    ingest_s = time.perf_counter() - started
    analysis_id = run_to_end(run_analysis(db, intake.evidence_id, AnalysisRequest(), "bench"))
    total = time.perf_counter() - started
    from dfdesk.services.results import load_analysis

    with db.unit_of_work() as session:
        timings = load_analysis(session, analysis_id).timings_s
    return {"ingest (probe+hash)": ingest_s, **timings, "wall": total}


def naive_run(video: Path, workdir: Path, frames: int) -> dict:
    from facenet_pytorch import MTCNN

    info = probe_video(video)
    frame_dir = workdir / "frames"
    frame_dir.mkdir(exist_ok=True)
    started = time.perf_counter()
    for frame in iter_frames(video, info, list(range(min(frames, info.frame_count)))):
        Image.fromarray(frame.image).save(frame_dir / f"{frame.index:06d}.png")
    extract_s = time.perf_counter() - started
    mtcnn = MTCNN(keep_all=False, device="cpu")
    per_model = {}
    for card in [c for c in list_installed() if c.trained]:
        model = create_detector(card)
        started = time.perf_counter()
        for image_path in sorted(frame_dir.glob("*.png")):
            image = np.asarray(Image.open(image_path).convert("RGB"))
            boxes, probs, points = mtcnn.detect(Image.fromarray(image), landmarks=True)
            if boxes is None:
                continue
            from dfdesk.core.types import FaceDetection

            detection = FaceDetection(tuple(boxes[0]), float(probs[0]), tuple(map(tuple, points[0])))
            crop = face_crop(image, detection, card.input.size, card.input.margin)
            with torch.inference_mode():
                model(crops_to_tensor([crop], card.input)[None])
        per_model[card.name] = time.perf_counter() - started
    done = min(frames, info.frame_count)
    scale = info.frame_count / done
    return {"frames timed": done, "scale to clip": scale, "extract frames to disk": extract_s * scale,
            **{f"{k} (MTCNN full-res + model)": v * scale for k, v in per_model.items()},
            "total (scaled)": (extract_s + sum(per_model.values())) * scale}


def show(title: str, figures: dict) -> None:
    print(f"\n{title}")
    for key, value in figures.items():
        print(f"  {key:<44} {value:10.2f}" if isinstance(value, float) else f"  {key:<44} {value:>10}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--naive-frames", type=int, default=60)
    args = parser.parse_args()
    data = paths.shared_data_dir()
    if data is None:
        print("../shared/data is absent: no clip to benchmark")
        return 0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, CUDA: {torch.cuda.is_available()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ[paths.DATA_DIR_ENV] = str(tmp / "userdata")  # never the analyst's own data folder
        clips = {"10 s 1080p (750_743)": data / "videos/ffpp/750_743.mp4",
                 "60 s 720p (634 looped)": looped_clip(data / "videos/ffpp/634.mp4", 60, tmp / "634_60s.mp4")}
        for name, clip in clips.items():
            work = tmp / name.split()[0]
            work.mkdir()
            shutil.rmtree(paths.cache_dir() / "crops", ignore_errors=True)
            ours = dfdesk_run(clip, work)
            show(f"dfdesk, {name}: seconds per stage", ours)
            naive = naive_run(clip, work, args.naive_frames)
            show(f"naive seed pipeline, {name}: seconds (timed on {naive['frames timed']} frames, scaled)", naive)
            print(f"  ratio naive / dfdesk (analysis wall time): {naive['total (scaled)'] / ours['wall']:.1f}x")
    print(f"\npeak RSS of this process: {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
