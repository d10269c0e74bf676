"""``dfdesk train --stacking``: fit the analysis's ensemble and its likelihood ratios on labelled videos.

The labelled videos are either a ``labels.csv`` (``[data] kind = "labels_csv"``, root the CSV; by default the
clips of ../shared/data/labels.csv under videos/) or the validation and test splits of any data set adapter.  Each
is scored by every chosen model exactly as the analysis scores it (:mod:`trainer.video_scorer`; scores are cached
per video and model, so a re-fit after adding a model only scores with the new one).  Then
(:mod:`trainer.ensemble_validation`): the ensemble is chosen and fitted, its likelihood-ratio calibration and ELUB
bounds are fitted on out-of-sample fused scores, and everything it reports about itself (AUC, each video's LR and
verdict, Cllr, the coverage per manipulation family, the ECE and Tippett plots) is measured out of sample with an
original and its fakes always left out together.

The result is written atomically to ``stacking.json`` in the user models folder, with the models' weights SHA-256,
every validation video's SHA-256 and label, and the figures, so that the analysis can check it at load.  The trainer
keeps no audit trail (no database); ``dfdesk train`` records ``model.stacking``.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from dfdesk import __version__, paths
from dfdesk.core.coverage import measure_coverage
from dfdesk.core.fusion import STACKING_FIGURES, STACKING_FILE, logit
from dfdesk.core.likelihood import DECISION_LOG10_LR, decide_from_lr
from dfdesk.core.probe import VideoError, sha256_file
from trainer.clips import DataError
from trainer.config import DataConfig, DetectorConfig, TrainConfig
from trainer.ensemble_validation import LrSystem, fit_and_validate
from trainer.labelled_clips import LabelledClip, clips_from_records, read_labelled_clips
from trainer.lr_system import lr_metrics, write_plots
from trainer.video_scorer import Scorer, cached_scores, make_scorer, score_cache_for

LABELS_CSV = "labels_csv"  # [data] kind: a labels.csv with file, label, method and pair_of columns
SPLITS = ("val", "test")  # the adapter splits whose videos are fitted and validated on
LR_CALIBRATOR = "lir {} LogitCalibrator (class-balanced logistic regression) on out-of-sample fused logits"
LR_BOUNDS = "ELUB (Vergeer et al., Science and Justice 56, 2016), lir.algorithms.bayeserror.elub"


def default_config() -> TrainConfig:
    """``dfdesk train --stacking`` with no settings file: the labelled clips of ../shared/data, CPU or GPU."""
    shared = paths.shared_data_dir()
    if shared is None:
        raise DataError("no labelled videos to fit on: ../shared/data is absent (name a data set with --config)")
    return TrainConfig(data=DataConfig(kind=LABELS_CSV, root=str(shared / "labels.csv")), detector=DetectorConfig())


# --- the labelled videos and their scores -----------------------------------------------------------------------


def labelled_videos(config: TrainConfig) -> tuple[dict, list[LabelledClip]]:
    """The ``dataset`` event and the videos to fit on."""
    data = config.data
    if data.kind == LABELS_CSV:
        folders = data.options.get("folders")
        clips = read_labelled_clips(data.root, **({"folders": tuple(folders)} if folders is not None else {}))
        event = {"event": "dataset", "kind": LABELS_CSV, "root": data.root, "videos": len(clips),
                 "counts_by_class": _counts(clips), "counts_by_split": {"cross-validated": _counts(clips)},
                 "official_splits": {}, "problems": []}
        return event, clips
    from trainer.cli import dataset_event  # the same adapters and leakage-free splits as training

    event, records = dataset_event(config)
    return event, clips_from_records([r for r in records if r.split in SPLITS])


def _counts(clips: Sequence[LabelledClip]) -> dict[str, int]:
    fakes = sum(c.target for c in clips)
    return {"real": len(clips) - fakes, "fake": fakes}


@dataclass
class Scored:
    clips: list[LabelledClip]
    sha256: list[str]
    probabilities: list[dict[str, float]]
    skipped: list[dict]

    def logits(self, names: Sequence[str]) -> np.ndarray:
        """(videos, models) logits of the calibrated P(fake), clipped as :func:`dfdesk.core.fusion.logit` clips."""
        return np.array([[logit(p[n]) for n in names] for p in self.probabilities],
                        dtype=np.float64).reshape(-1, len(names))


def score_videos(scorer: Scorer, config: TrainConfig, clips: Sequence[LabelledClip], scored: Scored,
                 cancel: Callable[[], bool] | None) -> Iterator[dict]:
    """``score`` events while every video is scored (or read from the cache) into ``scored``."""
    cache = score_cache_for(config, scorer)
    names = {c.name for c in scorer.cards}
    seen: dict[str, str] = {}
    for done, clip in enumerate(clips, start=1):
        try:
            sha = sha256_file(clip.path)
            if sha in seen:  # the same video listed twice would count twice
                raise _Duplicate(seen[sha])
            seen[sha] = clip.name
            probabilities, cached = cached_scores(scorer, cache, clip.path, sha, clip.name, cancel)
        except (VideoError, OSError, _Duplicate) as exc:
            reason = f"the same video as {exc}" if isinstance(exc, _Duplicate) else f"unreadable: {exc}"
            scored.skipped.append({"video": clip.name, "reason": reason})
            yield {"event": "score", "done": done, "total": len(clips), "video": clip.name, "cached": False}
            continue
        missing = sorted(n for n in names if probabilities.get(n) is None)
        if missing:
            scored.skipped.append({"video": clip.name, "reason": f"no face, or not scored by {', '.join(missing)}"})
        else:
            scored.clips.append(clip)
            scored.sha256.append(sha)
            scored.probabilities.append(probabilities)
        yield {"event": "score", "done": done, "total": len(clips), "video": clip.name, "cached": cached}


class _Duplicate(Exception):
    """A video whose content (SHA-256) was listed before, under the name in the message."""


def require_both_classes(clips: Sequence[LabelledClip], what: str) -> None:
    labels = {c.target for c in clips}
    if labels != {0, 1}:
        seen = "no videos" if not labels else f"only {'fake' if 1 in labels else 'real'} videos"
        raise DataError(f"the labelled videos {what} are {seen}: the ensemble is fitted on real and fake videos "
                        "(pseudo-fakes cannot be scored as videos)")
    if len({c.group for c in clips}) < 3:
        raise DataError(f"the labelled videos {what} form fewer than 3 groups: nothing to cross-validate")


# --- the command ------------------------------------------------------------------------------------------------


def stacking_events(config: TrainConfig, *, dry_run: bool = False,
                    cancel: Callable[[], bool] | None = None) -> Iterator[dict]:
    """``dataset``, ``score`` (progress), ``eval`` and ``done`` events; raises the CLI's expected errors."""
    event, clips = labelled_videos(config)
    yield event
    require_both_classes(clips, "listed")
    if dry_run:
        yield {"event": "done", "model": None, "dry_run": True}
        return
    scorer = make_scorer(config)
    names = [c.name for c in scorer.cards]
    scored = Scored([], [], [], [])
    yield from score_videos(scorer, config, clips, scored, cancel)
    require_both_classes(scored.clips, "that every model could score")
    system = fit_and_validate(scored.logits(names), [c.target for c in scored.clips],
                              [c.group for c in scored.clips], names, config.stacking.l2)
    doc = stacking_document(config, scorer, system, scored)
    yield {"event": "eval", "split": "leave-one-pair-out", "metrics": doc["metrics"]}
    path = write_stacking(doc)
    figures = write_figures(system, scored, path.parent)
    yield {"event": "done", "model": None, "stacking": str(path), "weights": doc["weights"], "bias": doc["bias"],
           "members": doc["members"], "models": doc["models"], "metrics": doc["metrics"],
           "coverage": doc["coverage"], "skipped": scored.skipped, "figures": {k: str(v) for k, v in figures.items()}}


def write_figures(system: LrSystem, scored: Scored, folder: Path) -> dict[str, Path]:
    """The out-of-sample ECE and Tippett plots beside the stacking file."""
    out = {kind: folder / name for kind, name in STACKING_FIGURES.items()}
    write_plots(system.validation.llrs, [c.target for c in scored.clips], out["ece"], out["tippett"])
    return out


# --- the file ---------------------------------------------------------------------------------------------------


def out_of_sample_verdicts(system: LrSystem) -> list[str]:
    return [decide_from_lr(float(llr), None)[0] for llr in system.validation.llrs]


def stacking_document(config: TrainConfig, scorer: Scorer, system: LrSystem, scored: Scored) -> dict:
    ensemble = system.ensemble
    labels = [c.target for c in scored.clips]
    verdicts = out_of_sample_verdicts(system)
    coverage = measure_coverage([c.family for c in scored.clips], labels, verdicts)
    return {
        "format": 2,
        "weights": {n: float(w) for n, w in zip(ensemble.names, ensemble.weights)},
        "bias": ensemble.bias,
        "members": list(ensemble.chosen),
        "models": [{"name": c.name, "version": c.version, "architecture": c.architecture,
                    "weights_sha256": c.weights_sha256} for c in scorer.cards],
        "calibration": {n: {"method": "platt", "a": float(a), "b": float(b)}
                        for n, (a, b) in zip(ensemble.names, ensemble.platt)},
        "likelihood_ratio": {**system.calibration.to_dict(), "calibrator": LR_CALIBRATOR.format(_lir_version()),
                             "bounds": LR_BOUNDS},
        "verdict_rule": {"decision_log10_lr": DECISION_LOG10_LR,
                         "fake": "LR >= 10^0.5 and the uncertainty band above LR 1",
                         "real": "LR <= 10^-0.5 and the band below LR 1 (shown as 'no manipulation detected by these "
                                 "models')"},
        "coverage": coverage.to_dict(),
        "validation": _validation_record(config, system, scored, verdicts),
        "metrics": _metrics(system, labels),
        "settings": scorer.settings(),
        "l2": config.stacking.l2,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dfdesk_version": __version__,
    }


def _validation_record(config: TrainConfig, system: LrSystem, scored: Scored, verdicts: list[str]) -> dict:
    v = system.validation
    clips = [{"name": c.name, "sha256": sha, "label": "fake" if c.target else "real", "method": c.method,
              "family": c.family, "group": c.group, "scores": {n: round(p, 6) for n, p in probs.items()},
              "fused_logit_oos": round(float(z), 6), "log10_lr_oos": round(float(llr), 4), "verdict_oos": verdict,
              "members_oos": list(chosen)}
             for c, sha, probs, z, llr, verdict, chosen in zip(scored.clips, scored.sha256, scored.probabilities,
                                                               v.fused_logits, v.llrs, verdicts, v.chosen)]
    source = Path(config.data.root)
    return {"protocol": "leave one group out (an original and its fakes together); AUC leave pair out; each "
                        "video's LR from a system fitted without its group (nested)",
            "source": str(source), "source_sha256": sha256_file(source) if source.is_file() else None,
            "n_videos": len(clips), "n_fake": sum(1 for c in clips if c["label"] == "fake"), "clips": clips,
            "skipped": scored.skipped}


def _metrics(system: LrSystem, labels: list[int]) -> dict:
    v = system.validation
    return {"ensemble_auc_leave_pair_out": round(v.ensemble_auc, 4),
            "ensemble_auc_pooled": round(v.pooled_auc, 4),
            "member_auc_leave_pair_out": {n: round(a, 4) for n, a in v.member_pair_auc.items()},
            "member_auc": {n: round(a, 4) for n, a in v.member_auc.items()},
            **lr_metrics(v.llrs, labels).to_dict()}


def _lir_version() -> str:
    try:
        return metadata.version("lir")
    except metadata.PackageNotFoundError:
        return "unknown"


def write_stacking(doc: dict) -> Path:
    """Write ``stacking.json`` into the user models folder through a temporary file and a rename."""
    folder = paths.user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / STACKING_FILE
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".stacking-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(doc, stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return final
