"""Detectors side by side on the labelled clips of ../shared/data, per manipulation family and per pair.

    .venv/bin/python bench/eval_detector.py [--models sbi_effnet_lite,meso4_df,...] [--frames N] [--resamples 2000]

Every installed trained frame-level model (or those named) scores the main face track of the 25 whole-scene
labelled clips (videos/ffpp, videos/real, videos/val) exactly as an analysis does (trainer/video_scorer.py: the
analysis's sampling plan, faces, crops and calibrated frame probabilities).  None of these clips was used to
train, tune or choose anything.  Printed per model:

* video AUC with a 95 % percentile bootstrap interval (fakes and reals resampled apart), for all 15 fakes and for
  each family's fakes (face swap, reenactment, talking-head synthesis) against all 10 reals;
* the same under each video aggregation of the frame probabilities: the mean probability (the product's rule,
  chosen before any of these clips were scored: it is what the SBI paper does with its 32 frames), the mean
  logit, the mean of the top quarter of frames, and the "confident" frame rule;
* each FF++ original against its own fake (and the LRNet FF++ pair): the fake's score, the original's, and
  whether the fake is above.

The frame probabilities are cached in out/frame_units (keyed like trainer/score_cache.py), so a re-run after
adding a model scores only with the new one.  Nothing is written to the analyst's own data folder.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from eval_real import bench_config  # the sibling script: bench/ is sys.path[0] when run as a script

from dfdesk import paths
from dfdesk.core.fusion import aggregate_frames
from dfdesk.core.probe import sha256_file
from dfdesk.detectors.scoring import is_frame_level
from trainer.labelled_clips import LabelledClip
from trainer.metrics import bootstrap_ci, roc_auc
from trainer.score_cache import scoring_digest
from trainer.stacking import labelled_videos
from trainer.video_scorer import Scorer, make_scorer

REPO = Path(__file__).resolve().parents[1]
FAMILIES = ("face_swap", "reenactment", "talking_head")
EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


AGGREGATIONS = {  # name -> video score from the frame probabilities of the main track
    "mean probability (product)": lambda p: float(np.mean(p)),
    "mean logit": lambda p: float(np.mean(_logit(p))),
    "top quarter": lambda p: float(np.mean(np.sort(p)[-max(1, len(p) // 4):])),
    "confident frames": lambda p: aggregate_frames(p, "confident"),
}


class UnitCache:
    """Frame probabilities of a (clip, model) in out/frame_units, one JSON file each."""

    def __init__(self, folder: Path, settings: dict):
        self.folder, self.settings = folder, settings

    def path(self, sha256: str, card) -> Path:
        return self.folder / f"{sha256[:24]}-{card.weights_sha256[:24]}-{scoring_digest(card, self.settings)}.json"

    def get(self, sha256: str, card) -> list[float] | None | bool:
        try:
            return json.loads(self.path(sha256, card).read_text(encoding="utf-8"))["units"]
        except (OSError, ValueError, KeyError):
            return False

    def put(self, sha256: str, card, units: list[float] | None, clip: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path(sha256, card).write_text(json.dumps({"clip": clip, "model": card.name, "units": units}))


def score_all(scorer: Scorer, clips: list[LabelledClip], cache: UnitCache) -> dict[str, dict[str, list[float]]]:
    """{model: {clip name: frame probabilities}} (a clip a model could not score is left out)."""
    out: dict[str, dict[str, list[float]]] = {c.name: {} for c in scorer.cards}
    for number, clip in enumerate(clips, 1):
        print(f"\rscoring {number}/{len(clips)} {clip.name:<40}", end="", file=sys.stderr)
        sha = sha256_file(clip.path)
        found = {card.name: cache.get(sha, card) for card in scorer.cards}
        missing = [name for name, units in found.items() if units is False]
        if missing:
            fresh = scorer.only(missing).units(clip.path)
            for card in scorer.cards:
                if card.name in missing:
                    found[card.name] = fresh.get(card.name)
                    cache.put(sha, card, found[card.name], clip.name)
        for name, units in found.items():
            if units:
                out[name][clip.name] = units
    print(file=sys.stderr)
    return out


def auc_row(clips: list[LabelledClip], scores: dict[str, float], family: str | None, resamples: int) -> str:
    chosen = [c for c in clips if c.name in scores and (c.target == 0 or family is None or c.family == family)]
    labels = [c.target for c in chosen]
    if len(set(labels)) < 2:
        return "n/a"
    values = [scores[c.name] for c in chosen]
    ci = bootstrap_ci(roc_auc, labels, values, n_resamples=resamples)
    return f"{ci.estimate:.3f} [{ci.low:.2f}, {ci.high:.2f}] ({sum(labels)}/{len(labels) - sum(labels)})"


def report(clips: list[LabelledClip], units: dict[str, dict[str, list[float]]], resamples: int) -> None:
    header = "| model | aggregation | all fakes | face swap | reenactment | talking head |"
    print("Video AUC [95 % bootstrap interval] (fakes/reals), out of sample:\n")
    print(header + "\n" + "|---" * 6 + "|")
    for model, by_clip in units.items():
        for name, rule in AGGREGATIONS.items():
            scores = {clip: rule(np.asarray(p)) for clip, p in by_clip.items()}
            cells = [auc_row(clips, scores, family, resamples) for family in (None, *FAMILIES)]
            print(f"| {model} | {name} | " + " | ".join(cells) + " |")
    print("\nEach fake against its own original (mean probability; the product's rule):\n")
    pairs = [(c, next((r for r in clips if r.name == c.group), None)) for c in clips if c.target and c.group != c.name]
    pairs = [(fake, real) for fake, real in pairs if real is not None]
    print("| model | " + " | ".join(f"{Path(f.name).stem} vs {Path(r.name).stem}" for f, r in pairs) + " |")
    print("|---" * (len(pairs) + 1) + "|")
    for model, by_clip in units.items():
        cells = []
        for fake, real in pairs:
            if fake.name in by_clip and real.name in by_clip:
                f, r = float(np.mean(by_clip[fake.name])), float(np.mean(by_clip[real.name]))
                cells.append(f"{f:.3f} / {r:.3f} {'above' if f > r else '**below**'}")
            else:
                cells.append("no face")
        print(f"| {model} | " + " | ".join(cells) + " |")
    print("\nEvery clip's video score (mean probability):\n")
    print("| clip | label | family | " + " | ".join(units) + " |")
    print("|---" * (len(units) + 3) + "|")
    for clip in clips:
        cells = [f"{np.mean(units[m][clip.name]):.3f}" if clip.name in units[m] else "-" for m in units]
        label = "fake" if clip.target else "real"
        print(f"| {clip.name} | {label} | {clip.family or ''} | " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated installed models (default: every trained "
                                                     "frame-level one)")
    parser.add_argument("--frames", type=int, default=0, help="frames per model (default: each card's)")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    if paths.shared_data_dir() is None:
        print("../shared/data is absent: nothing to evaluate")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(tmp, args.models, args.frames)
        _, clips = labelled_videos(config)
        scorer = make_scorer(config)
        frame_level = [c.name for c in scorer.cards if is_frame_level(c)]
        scorer = scorer.only(frame_level)
        cache = UnitCache(REPO / "out" / "frame_units", scorer.settings())
        units = score_all(scorer, clips, cache)
    print(f"{len(clips)} clips: {sum(c.target for c in clips)} fake, {sum(1 - c.target for c in clips)} real; "
          f"models: {', '.join(units)}; settings digest "
          f"{hashlib.sha256(json.dumps(scorer.settings(), sort_keys=True).encode()).hexdigest()[:12]}\n")
    report(clips, units, args.resamples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
