"""Reliability figures: the hostile corpus through the real CLI (in-process) and N kill -9 rounds.

    .venv/bin/python bench/reliability.py [--kills 20] [--seed 20260110]

Prints a Markdown table (input, outcome, exit code, seconds) and the crash-safety tally
(kills landed, integrity failures, half-written analyses, audit-chain breaks: all should be 0).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository first


def corpus(folder: Path) -> dict:
    from tests.fixtures import hostile

    return {
        "zero-byte": hostile.zero_byte, "truncated 30%": lambda f, b: hostile.truncated(f, b, 0.3),
        "truncated 95%": lambda f, b: hostile.truncated(f, b, 0.95),
        "corrupted bytes mid-stream": hostile.corrupted_mid_stream, "random bytes .mp4": hostile.random_bytes,
        "WebM named .mp4": hostile.webm_named_mp4, "MP4 named .avi": hostile.mp4_named_avi,
        "16000x16000 header (y4m)": hostile.huge_dimensions_y4m,
        "16000x16000 header (VP8)": hostile.huge_dimensions_vp8,
        "one frame": hostile.one_frame, "10-bit HEVC": hostile.hevc_10bit, "VP9/WebM": hostile.vp9_webm,
        "MJPEG AVI": hostile.mjpeg_avi, "interlaced": hostile.interlaced, "VFR": hostile.variable_frame_rate,
        "rotation 90": lambda f, b: hostile.rotated(f, 90), "rotation 180": lambda f, b: hostile.rotated(f, 180),
        "rotation 270": lambda f, b: hostile.rotated(f, 270), "grayscale": hostile.grayscale,
        "audio only": hostile.audio_only, "20 faces": hostile.twenty_faces, "face below minimum": hostile.tiny_face,
        "2-hour file": hostile.two_hours, "spaces + non-ASCII path": hostile.awkward_path,
        "symlink": hostile.symlink, "read-only folder": hostile.read_only,
    }


def run_corpus(work: Path) -> list[tuple]:
    from dfdesk.cli.main import run_cli
    from tests.fixtures import hostile

    folder = work / "corpus"
    folder.mkdir()
    base = hostile.h264(folder, "base.mp4", n=30)
    rows = []
    for name, generator in corpus(folder).items():
        try:
            try:
                path = generator(folder, base)
            except TypeError:
                path = generator(folder)
        except hostile.MissingEncoder as exc:
            rows.append((name, f"skipped: {exc}", "-", "-"))
            continue
        out, err = work / "out.json", io.StringIO()
        out.unlink(missing_ok=True)
        started = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = run_cli(["analyze", str(path), "--models", "meso4_df", "--frames", "4", "--device", "cpu",
                            "--json", str(out), "--db", str(work / "corpus.sqlite")])
        seconds = time.perf_counter() - started
        if code == 0:
            document = json.loads(out.read_text())
            outcome = "no face" if document["verdict"] == "no_face" else f"analysed ({document['verdict']}, " \
                f"{document['faces']['tracks']} track(s))"
        else:
            outcome = "refused: " + err.getvalue().strip().split(": ", 3)[-1][:70]
        rows.append((name, outcome, code, f"{seconds:.1f}"))
    return rows


def run_kills(work: Path, kills: int, seed: int) -> dict:
    from tests.fixtures import hostile
    from tests.reliability import test_crash_safety as crash
    from tests.reliability.conftest import audit_problems, half_written, integrity

    rng = random.Random(seed)
    db_path = work / "kills.sqlite"
    clip = hostile.h264(work, "kill.mp4", n=8)
    args = ("--models", "meso4_df", "--frames", "4", "--device", "cpu", "--db", str(db_path))
    started = time.monotonic()
    assert crash._start("analyze", str(clip), *args).wait() == 0
    whole = time.monotonic() - started
    tally = {"rounds": kills, "kills landed": 0, "integrity failures": 0, "half-written analyses": 0,
             "audit chain breaks": 0}
    for _ in range(kills):
        process = crash._start("analyze", str(clip), *args)
        if crash._kill_after(process, rng.uniform(0, 0.3) * whole, lambda: crash._analysis_running(db_path)):
            tally["kills landed"] += 1
        tally["integrity failures"] += integrity(db_path) != "ok"
        tally["half-written analyses"] += len(half_written(db_path))
        tally["audit chain breaks"] += len(audit_problems(db_path))
    return tally


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20260110)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["DFDESK_DATA_DIR"] = str(work / "userdata")
        rows = run_corpus(work)
        print("| input | outcome | exit | s |\n|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(str(c) for c in row) + " |")
        tally = run_kills(work, args.kills, args.seed)
        print("\n| " + " | ".join(tally) + " |\n|" + "---|" * len(tally))
        print("| " + " | ".join(str(v) for v in tally.values()) + " |")


if __name__ == "__main__":
    main()
