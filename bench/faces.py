"""Face pipeline figures: decode, detection and crop rates, the naive seed pipeline, memory on a long 1080p stream.

Run: ``.venv/bin/python bench/faces.py [--frames 12] [--long-s 600]`` (about 5 min).  Prints figures; asserts nothing.
Reads the clips from ../shared/data (research-only material: read in place, never copied).

* dfdesk: sparse decode of N uniformly sampled frames (seek to keyframes), MTCNN batched on a copy
  downscaled to 640 px, a 224 face crop and an 88 mouth crop per face.
* naive (the seed repositories): decode every frame of the clip and write it as a JPEG, then read the
  sampled frames back and run MTCNN at full resolution one frame at a time.
* Both are timed warm: each detector has seen its input shapes once before (PyTorch's CPU kernels are
  prepared per shape on first use, which would otherwise count against whichever pipeline runs first).
* memory: the pipeline over a generated long 1080p clip (every 25th frame), peak RSS sampled per batch.
"""
from __future__ import annotations

import argparse
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import torch

from dfdesk import paths
from dfdesk.core.crops import MOUTH_CROP, CropSpec
from dfdesk.core.faces import FaceDetector, FaceSettings, resolve_device
from dfdesk.core.pipeline import extract_faces
from dfdesk.core.probe import probe_video
from dfdesk.core.sampling import plan_sampling
from dfdesk.core.steps import run_to_end
from dfdesk.core.video import VideoReader

CLIPS = {"640x480": "519.mp4", "1280x720": "634.mp4", "1920x1080": "750_743.mp4"}
SPECS = (CropSpec("face", 224, 0.3, "rgb"), CropSpec("mouth", MOUTH_CROP, 0.0, "gray"))


def timed(work):
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dfdesk_stages(path: Path, indices, detector: FaceDetector) -> dict[str, float]:
    info = probe_video(path)
    with VideoReader(path, info) as reader:
        frames, decode_s = timed(lambda: list(reader.frames(indices)))
    faces, detect_s = timed(lambda: detector.detect(frames))
    _, crop_s = timed(lambda: [spec.cut(f.image, d) for f, ff in zip(frames, faces)
                               for d in ff.faces for spec in SPECS])
    found = sum(bool(f.faces) for f in faces)
    return {"decode_s": decode_s, "detect_s": detect_s, "crop_s": crop_s, "found": found}


def naive(path: Path, indices, device: torch.device, folder: Path) -> dict[str, float]:
    """Every frame to a JPEG file, then full-resolution MTCNN one sampled frame at a time."""
    from facenet_pytorch import MTCNN

    def extract() -> int:
        capture, count = cv2.VideoCapture(str(path)), 0
        while True:
            ok, image = capture.read()
            if not ok:
                return count
            cv2.imwrite(str(folder / f"{count:06d}.jpg"), image)
            count += 1

    count, extract_s = timed(extract)
    mtcnn = MTCNN(keep_all=True, device=device)
    mtcnn.detect(cv2.cvtColor(cv2.imread(str(folder / f"{indices[0]:06d}.jpg")), cv2.COLOR_BGR2RGB))  # warm-up

    def detect() -> int:
        found = 0
        for i in indices:
            image = cv2.cvtColor(cv2.imread(str(folder / f"{i:06d}.jpg")), cv2.COLOR_BGR2RGB)
            boxes, _ = mtcnn.detect(image)
            found += boxes is not None
        return found

    found, detect_s = timed(detect)
    return {"extract_s": extract_s, "frames_written": count, "detect_s": detect_s, "found": found}


def compare(name: str, path: Path, frames: int, device: torch.device) -> None:
    info = probe_video(path)
    indices = plan_sampling(info.frame_count, "uniform", frames=frames).indices
    detector = FaceDetector(FaceSettings(device=device.type))
    dfdesk_stages(path, indices, detector)  # warm-up: PyTorch prepares its kernels per input shape on first use
    ours = dfdesk_stages(path, indices, detector)
    n = len(indices)
    total = ours["decode_s"] + ours["detect_s"] + ours["crop_s"]
    print(f"{name:>9} {path.name:<12} {info.frame_count:>5} frames, {n} sampled: "
          f"decode {n / ours['decode_s']:6.1f} f/s | detect {n / ours['detect_s']:6.1f} f/s | "
          f"crops {n / max(ours['crop_s'], 1e-9):7.0f} f/s | pipeline {n / total:5.1f} f/s, "
          f"face in {ours['found']}/{n}")
    with tempfile.TemporaryDirectory(prefix="dfdesk-naive-") as folder:
        seed = naive(path, indices, device, Path(folder))
    seed_total = seed["extract_s"] + seed["detect_s"]
    print(f"{'':>9} naive: extract {seed['frames_written']} JPEGs {seed['extract_s']:5.1f} s, "
          f"full-res MTCNN {n / seed['detect_s']:5.2f} f/s, pipeline {n / seed_total:5.2f} f/s, "
          f"face in {seed['found']}/{n} -> dfdesk is {seed_total / total:4.1f}x faster "
          f"(detection alone {seed['detect_s'] / ours['detect_s']:4.1f}x)")


def long_clip(seconds: int, folder: Path) -> Path:
    """A generated 1080p25 clip: test pattern with a real face pasted on it when ../shared/data is there."""
    path = folder / f"long_{seconds}s_1080p.mp4"
    source = ["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}"]
    face = paths.shared_data_dir() and paths.shared_data_dir() / "faces" / "obama.jpg"
    if face and face.is_file():
        source += ["-loop", "1", "-i", str(face), "-filter_complex",
                   "[1]scale=360:-2[f];[0][f]overlay=780:240:shortest=1"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *source, "-c:v", "libx264", "-preset", "ultrafast", "-g", "50",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def memory(seconds: int, device: torch.device) -> None:
    if shutil.which("ffmpeg") is None:
        print("memory: ffmpeg missing, skipped")
        return
    with tempfile.TemporaryDirectory(prefix="dfdesk-long-") as folder:
        path = long_clip(seconds, Path(folder))
        info = probe_video(path)
        indices = plan_sampling(info.frame_count, "every", step=25).indices
        settings = FaceSettings(device=device.type)
        start_rss, samples = rss_mb(), []
        steps = extract_faces(path, info, indices, settings, SPECS)
        (result, elapsed) = timed(lambda: _drive(steps, samples))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        quarter = max(1, len(samples) // 4)
        early, late = max(samples[:quarter]), max(samples[-quarter:])
        print(f"memory: {seconds} s 1080p25 clip ({info.frame_count} frames), "
              f"every 25th frame ({len(indices)}), "
              f"{elapsed:.1f} s; faces in {sum(bool(f.faces) for f in result.frames)} frames")
        kept = sum(c.nbytes for spec_crops in result.crops.values() for c in spec_crops.values()) / 2**20
        print(f"        RSS before {start_rss:.0f} MB; during: first quarter max {early:.0f} MB, "
              f"last quarter max {late:.0f} MB (drift {late - early:+.0f} MB, of which crops kept {kept:.0f} MB); "
              f"process peak {peak:.0f} MB")


def _drive(steps, samples: list[float]):
    return run_to_end(steps, lambda _event: samples.append(rss_mb()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12, help="uniformly sampled frames per clip")
    parser.add_argument("--long-s", type=int, default=600, help="length of the generated 1080p clip")
    args = parser.parse_args()
    data = paths.shared_data_dir()
    torch.set_num_threads(torch.get_num_threads())
    devices = [torch.device("cpu")] + ([resolve_device("cuda")] if torch.cuda.is_available() else [])
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, cuda: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    for device in devices:
        print(f"--- device {device}")
        if data is None:
            print("../shared/data is absent: clip figures skipped")
        else:
            for name, clip in CLIPS.items():
                compare(name, data / "videos" / "ffpp" / clip, args.frames, device)
        memory(args.long_s, device)


if __name__ == "__main__":
    main()
