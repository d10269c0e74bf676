"""Training throughput: a short fine-tune of MesoNet (from meso4_df) and of one seed detector (StA, tiny).

Prints clips/s (optimizer input clips per second, pseudo-fake blending and augmentation included), the peak
process memory, and the peak GPU memory on CUDA.  Face clips come from the real clips in ../shared/data through
dfdesk's face pipeline when present, synthetic crops otherwise (the figure then excludes face detection, which
is cached after the first epoch anyway).  Usage: ``python bench/train.py [--steps N] [--device auto|cpu|cuda]``.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dfdesk import paths  # noqa: E402
from dfdesk.core.crop_cache import CropCache  # noqa: E402
from dfdesk.core.faces import FaceSettings, resolve_device  # noqa: E402
from dfdesk.detectors import build_detector, detector_class  # noqa: E402
from dfdesk.detectors.cards import ModelCard  # noqa: E402
from dfdesk.detectors.registry import create_detector  # noqa: E402
from trainer.augment import AugmentConfig  # noqa: E402
from trainer.clips import ClipSamples, FaceClip, build_samples, extract_clips  # noqa: E402
from trainer.config import TrainParams, paper_defaults  # noqa: E402
from trainer.datasets import VideoRecord  # noqa: E402
from trainer.install import find_installed_card  # noqa: E402
from trainer.loop import Trainer  # noqa: E402

REAL_VIDEOS = ("obama_speaking.mp4", "lp_d0.mp4", "lp_d3.mp4", "lp_d6.mp4")


def face_clips(spec, device: str, count: int = 8) -> tuple[list[FaceClip], str]:
    shared = paths.shared_data_dir()
    if shared is not None:
        records = [VideoRecord(shared / "videos" / "real" / n, "real", "shared", split="train") for n in REAL_VIDEOS]
        with tempfile.TemporaryDirectory() as cache:
            items = extract_clips(records, spec, max_clips=2, settings=FaceSettings(device=device),
                                  cache=CropCache(cache))
            clips = [c for c in items if isinstance(c, FaceClip)]
        if clips:
            return clips, f"{len(clips)} real face clips from ../shared/data"
    rng = np.random.default_rng(0)
    s, t = spec.size, spec.frames_per_clip
    marks = np.array([[0.35, 0.42], [0.65, 0.42], [0.5, 0.58], [0.38, 0.74], [0.62, 0.74]]) * s
    clips = [FaceClip(f"synthetic{i}", 0, "train", rng.integers(0, 256, (t, s, s, 3), dtype=np.uint8),
                      np.stack([marks] * t), tuple(range(t))) for i in range(count)]
    return clips, f"{count} synthetic clips"


def bench(label: str, model, card: ModelCard, device: torch.device, steps: int, batch: int) -> None:
    clips, source = face_clips(card.input, device.type)
    data = ClipSamples(clips, build_samples(clips, "video_blend"), card.input, pseudo_fakes="video_blend",
                       augment=AugmentConfig(), seed=0)
    defaults = paper_defaults(card.architecture)
    params = TrainParams(optimizer=defaults["optimizer"], learning_rate=defaults["learning_rate"],
                         weight_decay=defaults["weight_decay"], batch_size=batch, epochs=10_000, max_steps=steps + 1)
    trainer = Trainer(model, card, data, params, device=device, seed=0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    warm = next(trainer.steps())  # first step: allocation, kernel selection
    start, seen = time.perf_counter(), 0
    while not trainer.finished:
        for _ in trainer.steps():
            seen += batch
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = f", peak GPU {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if device.type == "cuda" else ""
    print(f"{label}: {seen / elapsed:.2f} clips/s ({card.input.frames_per_clip} frames of {card.input.size}px, "
          f"batch {batch}, {steps} steps, AMP {trainer.amp}, first loss {warm.loss:.3f}); peak RSS {rss:.0f} MiB{gpu}; "
          f"data: {source}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    meso = find_installed_card("meso4_df")
    meso = replace(meso, input=replace(meso.input, frames_per_clip=4))
    bench("MesoNet-4 fine-tune from meso4_df", create_detector(meso).train(), meso, device, args.steps, batch=8)
    cls = detector_class("sta_clip")
    sta = ModelCard(name="sta_clip", architecture="sta_clip", options=cls.small_options(), input=cls.small_input(),
                    output_kind=cls.output_kind, fake_index=cls.default_fake_index)
    bench("StA (tiny configuration, random init)", build_detector("sta_clip", **sta.options), sta, device,
          args.steps, batch=8)


if __name__ == "__main__":
    main()
