"""Training throughput of the SBI detector (sbi_effnet_lite): what backbone, input size and frozen stages fit.

Two figures per setting, printed as a table:

* model: samples/s of one optimizer step (forward + backward + AdamW) on a batch, training mode, with the first
  ``frozen`` stages frozen (0 = everything trains; stages as the detector's stage_prefixes: stem, then timm's blocks);
* data: samples/s of making the training samples on one CPU thread: self-blended pseudo-fake (every other sample),
  the evidence-like degradations (H.264, JPEG, downscaling) and normalisation, from a real face crop of
  ../shared/data/faces (a flat grey crop with a synthetic landmark layout when that folder is absent).

The model runs with torch's threads as set (all cores unless OMP_NUM_THREADS says otherwise).  On a shared
machine other work slows some repeats down, so each figure is the best of ``--repeats`` timings (the least
disturbed one).  Usage::

    python bench/sbi_train.py [--variants lite0,lite1,lite2] [--sizes 224,256,320] [--frozen 0,3]
                              [--batch 16] [--steps 3] [--repeats 3] [--device auto|cpu|cuda]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dfdesk import paths  # noqa: E402
from dfdesk.core.faces import resolve_device  # noqa: E402
from dfdesk.detectors.base import crops_to_tensor  # noqa: E402
from dfdesk.detectors.sbi_effnet_lite import SbiEffNetLite  # noqa: E402
from trainer.degrade import degrade, sample_degrade  # noqa: E402
from trainer.loop import freeze_early_stages, keep_fully_frozen_norms_still  # noqa: E402
from trainer.sbi import self_blend  # noqa: E402


def model_rate(variant: str, size: int, frozen: int, batch: int, steps: int, device: torch.device,
               repeats: int = 1) -> float:
    """Samples per second of full optimizer steps, best of ``repeats`` timings (one warm-up step not counted)."""
    torch.manual_seed(0)
    model = SbiEffNetLite(variant).to(device).train()
    freeze_early_stages(model, "sbi_effnet_lite", frozen)
    keep_fully_frozen_norms_still(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    clips = torch.randn(batch, 1, 3, size, size, device=device)
    targets = torch.arange(batch, device=device).remainder(2).float()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        logits = model(clips).clip_logits[:, 0]
        torch.nn.functional.binary_cross_entropy_with_logits(logits, targets).backward()
        optimizer.step()

    step()
    _sync(device)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        best = max(best, batch * steps / (time.perf_counter() - start))
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def sample_face(size: int) -> tuple[np.ndarray, np.ndarray, str]:
    """A real face crop resized to ``size`` and its first 68 dlib landmarks, or a synthetic stand-in."""
    shared = paths.shared_data_dir()
    if shared is not None:
        from PIL import Image

        image = Image.open(shared / "faces" / "000_0000.png").convert("RGB")
        points = np.asarray(json.loads((shared / "faces" / "precomuted_landmarks.json").read_text())["000_0000.png"],
                            np.float32)[:68] * (size / image.width)
        return np.array(image.resize((size, size))), points, "../shared/data/faces/000_0000.png"
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    points = np.stack([0.5 + 0.3 * np.cos(angles), 0.5 + 0.35 * np.sin(angles)], 1).astype(np.float32) * size
    return np.full((size, size, 3), 128, np.uint8), points, "synthetic"


def data_rate(size: int, samples: int = 48) -> float:
    """Samples per second of pseudo-fake making and degradation on one thread (half the samples are blended)."""
    from dfdesk.detectors.sbi_effnet_lite import SbiEffNetLite as Cls

    face, points, _ = sample_face(size)
    spec = Cls.default_input()
    start = time.perf_counter()
    for i in range(samples):
        rng = np.random.default_rng([0, i])
        params = sample_degrade(rng)
        image = self_blend(face, points, rng).image if i % 2 else face
        crops_to_tensor(degrade(image, params)[None], spec)
    return samples / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="lite0,lite1,lite2")
    parser.add_argument("--sizes", default="224,256,320")
    parser.add_argument("--frozen", default="0,3")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch}, best of {args.repeats} x "
          f"{args.steps} timed steps; data from {sample_face(64)[2]}")
    print("data (1 thread): " + ", ".join(f"{s}px {data_rate(s):.1f}/s" for s in sizes), flush=True)
    print(f"{'variant':8} {'size':>5} {'frozen':>6} {'samples/s':>10}")
    for variant in args.variants.split(","):
        for size in sizes:
            for frozen in (int(f) for f in args.frozen.split(",")):
                rate = model_rate(variant, size, frozen, args.batch, args.steps, device, args.repeats)
                print(f"{variant:8} {size:>5} {frozen:>6} {rate:>10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
