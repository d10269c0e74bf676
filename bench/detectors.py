"""Detector benchmark: parameters, latency per clip and clips/s, PyTorch vs onnxruntime.

    python bench/detectors.py                    # full configurations, default frames per clip
    python bench/detectors.py --small            # the tiny test configurations
    python bench/detectors.py --frames 4 --detectors mesonet4,lipforensics_ta --batches 1,8

On CUDA it also times fp16 and bf16 autocast.  Prints a table row by row; asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from dfdesk.detectors import build_detector, detector_class, list_detectors
from dfdesk.detectors.onnx_export import OnnxDetector, export_onnx


@dataclass
class Row:
    detector: str
    config: str
    params_m: float
    backend: str
    batch: int
    ms_per_clip: float
    clips_per_s: float


def clip_shape(name: str, small: bool, frames: int | None) -> tuple[int, int, int, int]:
    cls = detector_class(name)
    spec = cls.small_input() if small else cls.default_input()
    return (frames or spec.frames_per_clip, len(spec.mean), spec.size, spec.size)


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def torch_runner(model: torch.nn.Module, clip: torch.Tensor, dtype: torch.dtype | None):
    def run() -> None:
        with torch.inference_mode(), torch.autocast(clip.device.type, dtype=dtype, enabled=dtype is not None):
            model(clip)
        if clip.device.type == "cuda":
            torch.cuda.synchronize()

    return run


def bench_detector(name: str, args: argparse.Namespace, work: Path) -> list[Row]:
    cls = detector_class(name)
    model = build_detector(name, **(cls.small_options() if args.small else {})).eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    shape = clip_shape(name, args.small, args.frames)
    config = f"{'small' if args.small else 'full'} T={shape[0]} {shape[2]}px"
    rows = []
    session = None
    if not args.no_onnx:
        try:
            _, export_s = timed_once(lambda: export_onnx(model, torch.rand(2, *shape), work / f"{name}.onnx"))
            session = OnnxDetector(work / f"{name}.onnx", prefer_cuda=False)
            print(f"# {name}: ONNX export {export_s:.0f} s", flush=True)
        except Exception as exc:  # a failed export is a figure too: report it, time PyTorch alone
            print(f"# {name}: ONNX export failed: {exc}", flush=True)
    for batch in args.batches:
        clip = torch.rand(batch, *shape)
        runs = {"torch cpu fp32": torch_runner(model, clip, None)}
        if session is not None:
            array = clip.numpy()
            runs["onnxruntime cpu"] = lambda a=array: session.run(a)
        if torch.cuda.is_available():
            gpu_model, gpu_clip = model.to("cuda"), clip.to("cuda")
            for label, dtype in (("cuda fp32", None), ("cuda fp16", torch.float16), ("cuda bf16", torch.bfloat16)):
                runs[label] = torch_runner(gpu_model, gpu_clip, dtype)
        for backend, run in runs.items():
            seconds = timed(run, args.repeats)
            rows.append(Row(name, config, params, backend, batch, 1000 * seconds / batch, batch / seconds))
            print_row(rows[-1])
        model.to("cpu")
    return rows


def timed_once(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def print_header() -> None:
    header = (f"{'detector':<22} {'config':<20} {'params M':>9} {'backend':<16} "
              f"{'batch':>5} {'ms/clip':>10} {'clips/s':>9}")
    print(header)
    print("-" * len(header), flush=True)


def print_row(r: Row) -> None:
    print(f"{r.detector:<22} {r.config:<20} {r.params_m:>9.2f} {r.backend:<16} {r.batch:>5} "
          f"{r.ms_per_clip:>10.1f} {r.clips_per_s:>9.2f}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny test configurations")
    parser.add_argument("--frames", type=int, default=None, help="override frames per clip (T)")
    parser.add_argument("--batches", type=lambda s: [int(v) for v in s.split(",")], default=[1, 8])
    parser.add_argument("--detectors", type=lambda s: s.split(","), default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-onnx", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"CUDA: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    print_header()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.detectors or list_detectors():
            bench_detector(name, args, Path(tmp))


if __name__ == "__main__":
    main()
