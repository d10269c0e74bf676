"""Out-of-sample evaluation on the labelled clips of ../shared/data: what ``dfdesk train --stacking`` fits, measured
the way the product reports it.

    .venv/bin/python bench/eval_real.py [--models a,b] [--frames N] [--figures bench/figures]

It runs the stacking fit on the 25 whole-scene clips (videos/ffpp, videos/real, videos/val; an FF++ original and its
fake always left out together) and prints, out of sample: every model's and the ensemble's video AUC, each clip's
LR with its ENFSI verbal strength and verdict, the verdict table, Cllr and the coverage per manipulation family.
The ECE and Tippett plots go to --figures.  Scores are cached in out/scores (crops in out/crops), keyed by clip and
model weights, so a re-run after adding a model scores only with the new one.  Nothing is written to the analyst's
own data folder.  A couple of dozen clips is no benchmark: read the figures with their counts.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from dfdesk import paths
from dfdesk.core.fusion import STACKING_FIGURES
from dfdesk.core.likelihood import ENFSI_SCALE, format_lr
from trainer.config import StackingConfig, TrainConfig
from trainer.metrics import roc_auc
from trainer.stacking import default_config, stacking_events

REPO = Path(__file__).resolve().parents[1]


def bench_config(tmp: str, models: str, frames: int) -> TrainConfig:
    """The labelled clips of ../shared/data with the crop cache in out/crops; the user data folder is pointed into
    ``tmp``, never at the analyst's own."""
    os.environ[paths.DATA_DIR_ENV] = str(Path(tmp) / "userdata")
    return replace(default_config(), cache_dir=str(REPO / "out" / "crops"),
                   stacking=StackingConfig(models=tuple(filter(None, models.split(","))), frames=frames))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated installed models (default: every trained one)")
    parser.add_argument("--frames", type=int, default=0, help="frames per model (default: each card's)")
    parser.add_argument("--figures", type=Path, default=REPO / "bench" / "figures")
    parser.add_argument("--save", type=Path, help="also write the fitted stacking.json here (models/stacking.json "
                                                  "ships it)")
    args = parser.parse_args()
    if paths.shared_data_dir() is None:
        print("../shared/data is absent: nothing to evaluate")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(tmp, args.models, args.frames)
        done = {}
        for event in stacking_events(config):
            if event["event"] == "score":
                print(f"\rscoring {event['done']}/{event['total']} {event['video']:<40}", end="", file=sys.stderr)
            done = event
        print(file=sys.stderr)
        doc = json.loads(Path(done["stacking"]).read_text(encoding="utf-8"))
        if args.save:
            shutil.copy(Path(done["stacking"]), args.save)
        args.figures.mkdir(parents=True, exist_ok=True)
        for kind, name in STACKING_FIGURES.items():
            shutil.copy(Path(done["figures"][kind]), args.figures / name)
    report(doc, args.figures)
    return 0


def short_verbal(log10_lr: float) -> str:
    for floor, words in ENFSI_SCALE:
        if abs(log10_lr) >= floor - 1e-9:
            return f"{words.replace(' support', '')} for {'manipulated' if log10_lr > 0 else 'not manipulated'}"
    return "neither (LR ~ 1)"


def report(doc: dict, figures: Path) -> None:
    clips = doc["validation"]["clips"]
    names = [m["name"] for m in doc["models"]]
    print(f"{len(clips)} clips ({sum(c['label'] == 'fake' for c in clips)} fake), models: {', '.join(names)}; "
          f"members with weight: {', '.join(doc['members']) or 'none'}")
    for skipped in doc["validation"]["skipped"]:
        print(f"  skipped {skipped['video']}: {skipped['reason']}")
    clip_table(clips, names)
    pair_table(clips, names)
    auc_table(doc, clips, names)
    verdict_table(clips)
    lr = doc["likelihood_ratio"]
    m = doc["metrics"]
    print(f"\nLR system (out of sample): Cllr {m['cllr']:.3f}, Cllr-min {m['cllr_min']:.3f}; ELUB bounds "
          f"[{format_lr(10 ** lr['lower_log10'])}, {format_lr(10 ** lr['upper_log10'])}]")
    print(f"coverage: {doc['coverage']['statement']}")
    print(f"figures: {', '.join(str(figures / n) for n in STACKING_FIGURES.values())}")


def clip_table(clips: list[dict], names: list[str]) -> None:
    print("\nclip".ljust(27) + "label family        " + "".join(n[:14].ljust(15) for n in names)
          + "LR (out of sample)  strength                          verdict")
    for c in clips:
        cells = "".join(f"{c['scores'][n]:.3f}".ljust(15) for n in names)
        lr = f"{format_lr(10 ** c['log10_lr_oos'])} ({c['log10_lr_oos']:+.2f})"
        print(Path(c["name"]).stem[:25].ljust(26) + c["label"].ljust(6) + (c["family"] or "-").ljust(14) + cells
              + lr.ljust(20) + short_verbal(c["log10_lr_oos"]).ljust(34) + c["verdict_oos"])


def pair_table(clips: list[dict], names: list[str]) -> None:
    by_group: dict[str, list[dict]] = {}
    for c in clips:
        by_group.setdefault(c["group"], []).append(c)
    pairs = [(f, r) for group in by_group.values() for f in group for r in group
             if f["label"] == "fake" and r["label"] == "real"]
    print("\npairs (does each model score the fake above its own original?)")
    for fake, real in pairs:
        checks = "; ".join(f"{n}: {'yes' if fake['scores'][n] > real['scores'][n] else 'NO'}" for n in names)
        print(f"  {Path(fake['name']).stem} ({fake['method']}) vs {Path(real['name']).stem}: {checks}")


def auc_table(doc: dict, clips: list[dict], names: list[str]) -> None:
    m = doc["metrics"]
    labels = [int(c["label"] == "fake") for c in clips]
    mean = [float(np.mean([c["scores"][n] for n in names])) for c in clips]
    print("\nvideo AUC (fake = positive)          own score   leave-pair-out (same folds as the ensemble)")
    for n in names:
        print(f"  {n:<34} {m['member_auc'][n]:.3f}       {m['member_auc_leave_pair_out'][n]:.3f}")
    print(f"  {'plain mean of the models':<34} {roc_auc(labels, mean):.3f}       (no fitting)")
    print(f"  {'fitted ensemble':<34} {'':<11} {m['ensemble_auc_leave_pair_out']:.3f}  (pooled over folds: "
          f"{m['ensemble_auc_pooled']:.3f})")
    family_auc_table(clips, names)


def family_auc_table(clips: list[dict], names: list[str]) -> None:
    """Each model's own AUC on one family's fakes against every real clip: where a model's power lies."""
    reals = [c for c in clips if c["label"] == "real"]
    families = sorted({c["family"] for c in clips if c["label"] == "fake"}, key=str)
    header = f"own-score AUC per family (fakes vs all {len(reals)} reals)"
    print(f"\n{header:<53}" + "".join(n[:14].ljust(15) for n in names))
    for family in families:
        fakes = [c for c in clips if c["label"] == "fake" and c["family"] == family]
        labels = [1] * len(fakes) + [0] * len(reals)
        cells = "".join(f"{roc_auc(labels, [c['scores'][n] for c in fakes + reals]):.3f}".ljust(15) for n in names)
        print(f"  {str(family) + f' ({len(fakes)} fakes)':<51}" + cells)


def verdict_table(clips: list[dict]) -> None:
    print("\nverdicts out of sample   fake  inconclusive  real(no manipulation detected)")
    for label in ("fake", "real"):
        row = [sum(c["label"] == label and c["verdict_oos"] == v for c in clips) for v in
               ("fake", "inconclusive", "real")]
        print(f"  {label + ' clips':<22} {row[0]:>4}  {row[1]:>12}  {row[2]:>4}")
    wrong = [c["name"] for c in clips if (c["label"], c["verdict_oos"]) in (("fake", "real"), ("real", "fake"))]
    print(f"  wrong categorical verdicts: {', '.join(wrong) if wrong else 'none'}")


if __name__ == "__main__":
    sys.exit(main())
