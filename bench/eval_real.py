"""Evaluation on the real labelled clips in ../shared/data: per-clip scores, pair checks, video-level AUC.

    .venv/bin/python bench/eval_real.py [--frames 16] [--models a,b]

What it shows: whether each detector ranks these few fakes above these few reals.  What it does not:
a handful of clips is no benchmark, and the FF++ 004 pair differs in compression, so a detector can
separate it on compression alone (see ../shared/data/README.md).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

from dfdesk import paths
from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database
from trainer.metrics import MetricError, roc_auc


def analyse(db: Database, video: Path, request: AnalysisRequest) -> dict:
    intake = ingest_video(db, "evaluation", video, "bench")
    analysis_id = run_to_end(run_analysis(db, intake.evidence_id, request, "bench"))
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    scores = {d.name: d.fake_probability for d in view.detectors if d.status == "used"}
    return {"scores": scores, "verdict": view.verdict.label, "fused": view.verdict.fake_probability}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--models", default=None)
    args = parser.parse_args()
    data = paths.shared_data_dir()
    if data is None:
        print("../shared/data is absent: nothing to evaluate")
        return 0
    rows = [r for r in csv.DictReader(open(data / "labels.csv")) if r["file"].startswith("videos/")]
    request = AnalysisRequest(models=tuple(args.models.split(",")) if args.models else None, frames=args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[paths.DATA_DIR_ENV] = str(Path(tmp) / "userdata")  # never the analyst's own data folder
        db = Database(Path(tmp) / "eval.sqlite")
        results = {r["file"]: {**analyse(db, data / r["file"], request), "label": r["label"],
                               "pair_of": r["pair_of"], "method": r["method"]} for r in rows}
    report(results)
    return 0


def report(results: dict) -> None:
    detectors = sorted({name for r in results.values() for name in r["scores"]})
    print("clip".ljust(28) + "label ".ljust(7) + "".join(d[:18].ljust(19) for d in detectors) + "fused   verdict")
    for clip, r in results.items():
        cells = "".join((f"{r['scores'][d]:.3f}" if d in r["scores"] else "-").ljust(19) for d in detectors)
        fused = f"{r['fused']:.3f}" if r["fused"] is not None else "-"
        print(Path(clip).stem.ljust(28) + r["label"].ljust(7) + cells + fused.ljust(8) + r["verdict"])
    print("\npairs (fake scored higher than its original?)")
    for clip, r in results.items():
        if r["pair_of"]:
            real = results[r["pair_of"]]
            checks = [f"{d}: {'yes' if r['scores'][d] > real['scores'][d] else 'NO'}" for d in detectors
                      if d in r["scores"] and d in real["scores"]]
            print(f"  {Path(clip).stem} ({r['method']}) vs {Path(r['pair_of']).stem}: " + "; ".join(checks))
    print("\nvideo-level AUC (fake = positive)")
    labels = [1 if r["label"] == "fake" else 0 for r in results.values()]
    for name in detectors + ["fused"]:
        scores = [r["fused"] if name == "fused" else r["scores"].get(name) for r in results.values()]
        kept = [(y, s) for y, s in zip(labels, scores) if s is not None]
        try:
            auc = roc_auc([y for y, _ in kept], [s for _, s in kept])
            print(f"  {name:<28} {auc:.3f}  ({sum(y for y, _ in kept)} fake, {sum(1 - y for y, _ in kept)} real)")
        except MetricError as exc:
            print(f"  {name:<28} n/a ({exc})")


if __name__ == "__main__":
    sys.exit(main())
