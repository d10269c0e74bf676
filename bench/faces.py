"""Face pipeline figures: decode, detection and crop rates, the naive seed pipeline, memory on a long 1080p stream;
with ``--hard``, how many sampled frames show the main face in hard footage.

Run: ``.venv/bin/python bench/faces.py [--frames 12] [--long-s 600]`` (about 5 min), or
``.venv/bin/python bench/faces.py --hard [--only NAME]`` (every clip of ../shared/data/videos and three generated
variants of each: about 40 min on 2 loaded cores).  Prints figures; asserts nothing.
Reads the clips from ../shared/data (research-only material: read in place, never copied; the variants are written
to a temporary folder and deleted).

* dfdesk: sparse decode of N uniformly sampled frames (seek to keyframes), MTCNN batched on a copy
  downscaled to 640 px, a 224 face crop and an 88 mouth crop per face.
* naive (the seed repositories): decode every frame of the clip and write it as a JPEG, then read the
  sampled frames back and run MTCNN at full resolution one frame at a time.
* Both are timed warm: each detector has seen its input shapes once before (PyTorch's CPU kernels are
  prepared per shape on first use, which would otherwise count against whichever pipeline runs first).
* memory: the pipeline over a generated long 1080p clip (every 25th frame), peak RSS sampled per batch.
* hard footage (``--hard``): per clip and variant (as shipped; darkened to mean brightness
  30; sensor noise; downscaled to 360p), the sampled frames with the main face: full-resolution MTCNN with its
  default thresholds (the reference), dfdesk before (one threshold 0.9, no normalised detection copy, no top-up)
  and now; and generated footage without a face, which must give none.
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
import numpy as np
import torch

from dfdesk import paths
from dfdesk.core.crops import MOUTH_CROP, CropSpec
from dfdesk.core.faces import FaceDetector, FaceSettings, resolve_device
from dfdesk.core.pipeline import extract_faces
from dfdesk.core.probe import probe_video
from dfdesk.core.sampling import plan_sampling
from dfdesk.core.steps import run_to_end
from dfdesk.core.tracking import build_tracks, find_shot_starts, frame_signature, iou
from dfdesk.core.types import FaceDetection, FaceTrack, FrameFaces
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


# --- hard footage: dark, grainy, small faces -------------------------------------------------------------------------

HARD_FRAMES = 16  # uniformly sampled frames per clip, as an analysis samples
DARK_MEAN = 30.0  # mean brightness (0-255) of the darkened variant
NOISE_SIGMA = 15.0  # sensor noise added to the grainy variant (Gaussian, per channel, 0-255 scale)
SMALL_HEIGHT = 360  # height of the downscaled variant
TURNED = 0.3  # 5-point yaw: nose off the eyes' midpoint by this share of the eye distance (about a 3/4 view)
BEFORE = FaceSettings(device="cpu", continue_score=0.9, normalise_dark=False, top_up=False)  # one threshold, as before
NOW = FaceSettings(device="cpu")


def write_variants(path: Path, folder: Path) -> dict[str, Path]:
    """The clip darkened to mean brightness DARK_MEAN, with sensor noise, and downscaled to SMALL_HEIGHT px high,
    each re-encoded with x264 (CRF 23): one decode of the clip feeds the three encoders."""
    import av

    info = probe_video(path)
    with VideoReader(path, info) as reader:
        probe = list(reader.frames(plan_sampling(info.frame_count, "uniform", frames=HARD_FRAMES).indices))
    gain = DARK_MEAN / max(1.0, float(np.mean([f.image.mean() for f in probe])))
    rng = np.random.default_rng(0)
    small = (max(2, round(info.width * SMALL_HEIGHT / info.height / 2) * 2), SMALL_HEIGHT)
    changes = {"dark": lambda im: np.clip(im * gain, 0, 255),
               "noise": lambda im: np.clip(im + rng.normal(0, NOISE_SIGMA, im.shape), 0, 255),
               "360p": lambda im: cv2.resize(im, small, interpolation=cv2.INTER_AREA)}
    outputs = {name: folder / f"{path.stem}_{name}.mp4" for name in changes}
    containers = {name: av.open(str(out), "w") for name, out in outputs.items()}
    streams = {}
    try:
        with VideoReader(path, info) as reader:
            for frame in reader.frames(range(info.frame_count)):
                for name, change in changes.items():
                    image = np.ascontiguousarray(change(frame.image).astype(np.uint8))
                    if name not in streams:
                        streams[name] = _h264_stream(containers[name], image.shape, info.fps)
                    for packet in streams[name].encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                        containers[name].mux(packet)
        for name, stream in streams.items():
            for packet in stream.encode():
                containers[name].mux(packet)
    finally:
        for container in containers.values():
            container.close()
    return outputs


def _h264_stream(container, shape, fps: float):
    from fractions import Fraction

    stream = container.add_stream("libx264", rate=Fraction(round(fps * 1000), 1000))
    stream.height, stream.width = shape[:2]
    stream.pix_fmt, stream.options = "yuv420p", {"crf": "23", "preset": "ultrafast"}
    return stream


def reference_main(path: Path, indices, mtcnn) -> tuple[FaceTrack | None, float]:
    """The main track of full-resolution MTCNN with its default thresholds (every face it returns) on the frames,
    tracked as dfdesk tracks (shot changes end tracks), and the frames' mean brightness."""
    info = probe_video(path)
    found, brightness, signatures = [], [], []
    with VideoReader(path, info) as reader:
        for frame in reader.frames(indices):
            brightness.append(float(frame.image.mean()))
            signatures.append((frame.index, frame_signature(frame.image)))
            boxes, scores, points = mtcnn.detect(frame.image, landmarks=True)
            faces = () if boxes is None else tuple(
                FaceDetection(tuple(map(float, b)), float(s), tuple(map(tuple, p.astype(float))))
                for b, s, p in zip(boxes, scores, points))
            found.append(FrameFaces(frame.index, frame.time_s, faces))
    tracks = build_tracks(found, shot_starts=set(find_shot_starts(signatures)))
    return (tracks[0] if tracks else None), float(np.mean(brightness))


def turned(detection: FaceDetection) -> bool:
    """True for a face turned to about a 3/4 view or more (nose far off the eyes' midpoint)."""
    (lx, ly), (rx, ry), (nx, _ny) = detection.landmarks[:3]
    eyes = max(1.0, ((rx - lx) ** 2 + (ry - ly) ** 2) ** 0.5)
    return abs(nx - (lx + rx) / 2) / eyes > TURNED


def dfdesk_main(path: Path, indices, settings: FaceSettings) -> tuple[int, int, dict]:
    """dfdesk's extraction of the frames: main face on the sampled frames themselves, with the top-up, and its
    boxes by frame."""
    result = run_to_end(extract_faces(path, probe_video(path), indices, settings, []))
    main = result.main_track
    boxes = {f: d.box for f, d in zip(main.frame_indices, main.detections) if f in set(indices)} if main else {}
    return len(boxes), result.presence.main.with_face, boxes


def hard_row(name: str, path: Path, mtcnn, frames: int) -> dict:
    indices = plan_sampling(probe_video(path).frame_count, "uniform", frames=frames).indices
    reference, brightness = reference_main(path, indices, mtcnn)
    before, _, _ = dfdesk_main(path, indices, BEFORE)
    own, topped, boxes = dfdesk_main(path, indices, NOW)
    ref_boxes = dict(zip(reference.frame_indices, (d.box for d in reference.detections))) if reference else {}
    return {"clip": name, "brightness": brightness, "sampled": len(indices),
            "reference": len(reference.frame_indices) if reference else 0,
            "turned": sum(turned(d) for d in reference.detections) if reference else 0,
            "before": before, "own": own, "topped": topped,
            "same": sum(iou(boxes[f], ref_boxes[f]) >= 0.3 for f in set(boxes) & set(ref_boxes))}


def print_hard_row(row: dict) -> None:
    ratio = row["topped"] / row["reference"] if row["reference"] else float("nan")
    print(f"| {row['clip']} | {row['brightness']:.0f} | {row['sampled']} | {row['turned']} | {row['reference']} | "
          f"{row['before']} | {row['own']} | {row['topped']} | {row['same']} | {ratio:.0%} |", flush=True)


def faceless_clips(folder: Path) -> dict[str, Path]:
    """Generated footage without a face: dark grainy skin-coloured ellipses; a darkened noisy test pattern."""
    import av

    rng = np.random.default_rng(1)
    clips = {}
    for name in ("ellipses", "pattern"):
        path = folder / f"noface_{name}.mp4"
        with av.open(str(path), "w") as container:
            stream = _h264_stream(container, (720, 1280), 25.0)
            for i in range(50):
                image = _ellipses(i) if name == "ellipses" else _pattern(i)
                image = np.clip(image + rng.normal(0, NOISE_SIGMA, image.shape), 0, 255).astype(np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        clips[name] = path
    return clips


def _ellipses(i: int) -> np.ndarray:
    image = np.zeros((720, 1280, 3)) + np.linspace(5, 45, 1280)[None, :, None]
    for k in range(6):
        cv2.ellipse(image, (120 + 200 * k + 4 * i, 250 + 120 * (k % 2)), (70, 95), 12 * k, 0, 360, (60, 42, 35), -1)
    return image


def _pattern(i: int) -> np.ndarray:
    y, x = np.mgrid[0:720, 0:1280]
    bands = (np.sin((x + 8 * i) / 40) + np.cos(y / 55)) * 20 + 30
    return np.stack([bands, bands * 0.8, bands * 0.6], axis=-1)


def hard_footage_table(data: Path | None, frames: int, only: str = "") -> None:
    from facenet_pytorch import MTCNN

    if data is None:
        print("../shared/data is absent: hard-footage table skipped")
        return
    mtcnn = MTCNN(keep_all=True, device="cpu")  # facenet-pytorch's defaults: thresholds 0.6/0.7/0.7, min face 20
    print("| clip | brightness | sampled | turned (3/4) | full-res MTCNN | dfdesk before | dfdesk now | now + top-up | "
          "same face | now / reference |\n|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory(prefix="dfdesk-hard-") as folder:
        for path in sorted((data / "videos").rglob("*.mp4")):
            if only and only not in path.name:
                continue
            variants = {"": path, **write_variants(path, Path(folder))}
            for variant, clip in variants.items():
                name = f"{path.parent.name}/{path.stem}{' ' + variant if variant else ''}"
                rows.append(hard_row(name, clip, mtcnn, frames))
                print_hard_row(rows[-1])
                if clip != path:
                    clip.unlink()
        summarise(rows)
        for name, clip in faceless_clips(Path(folder)).items():
            result = run_to_end(extract_faces(clip, probe_video(clip), range(0, 50, 2), NOW, []))
            found = sum(len(f.faces) for f in result.all_frames)
            print(f"generated, no face ({name}, 1280x720, 25 sampled frames): {found} faces, "
                  f"{len(result.tracks)} tracks")


def summarise(rows: list[dict]) -> None:
    for variant in ("", " dark", " noise", " 360p"):
        chosen = [r for r in rows if r["clip"].endswith(variant) and (variant or " " not in r["clip"])]
        if chosen:
            sums = {k: sum(r[k] for r in chosen) for k in ("sampled", "reference", "before", "own", "topped")}
            print(f"{variant.strip() or 'as shipped'}: {len(chosen)} clips, reference {sums['reference']}, before "
                  f"{sums['before']}, now {sums['own']}, with top-up {sums['topped']} of {sums['sampled']} sampled "
                  f"frames: {sums['topped'] / max(1, sums['reference']):.1%} of the reference")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12, help="uniformly sampled frames per clip")
    parser.add_argument("--long-s", type=int, default=600, help="length of the generated 1080p clip")
    parser.add_argument("--hard", action="store_true", help="only the hard-footage table")
    parser.add_argument("--only", default="", help="--hard: only clips whose name contains this")
    args = parser.parse_args()
    data = paths.shared_data_dir()
    if args.hard:
        hard_footage_table(data, args.frames if args.frames != 12 else HARD_FRAMES, args.only)
        return
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
