"""Honest evaluation: calibration and threshold chosen on validation, metrics reported on test.

Scores are logits of P(fake) (:func:`dfdesk.detectors.cards.fake_logit`, so a model's polarity never matters).
A video's logit is the mean of its clips' logits.  Frame-level detectors are also scored per frame
(``frame_auc``); the others per clip (``clip_auc``).  Calibration (temperature or Platt) is fitted on validation
video logits; the decision threshold is then picked on the calibrated validation probabilities (EER point or
Youden's J) and applied unchanged to test.  Test metrics carry stratified bootstrap confidence intervals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import special

from dfdesk.detectors.cards import Calibration, ModelCard, fake_logit
from trainer import metrics as m
from trainer.clips import ClipSamples


@dataclass(frozen=True)
class Predictions:
    videos: list[str]  # per clip
    targets: np.ndarray  # per clip, 1 = fake
    clip_logits: np.ndarray  # per clip, logit of P(fake)
    frame_videos: list[str]
    frame_targets: np.ndarray
    frame_logits: np.ndarray | None  # per frame, when the detector scores frames

    def video_scores(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        return m.video_level(self.videos, self.targets, self.clip_logits, "mean")


@torch.no_grad()
def predict(model: torch.nn.Module, card: ModelCard, data: ClipSamples, device: torch.device,
            batch_size: int = 8) -> Predictions:
    """Fake logits of every sample of ``data`` (model in eval mode, no augmentation)."""
    was_training = model.training
    model.eval()
    clip_out, frame_out = [], []
    for start in range(0, len(data), batch_size):
        clips = torch.stack([data[i][0] for i in range(start, min(start + batch_size, len(data)))]).to(device)
        output = model(clips)
        clip_out.append(fake_logit(card, output.clip_logits.float()).cpu())
        if getattr(model, "frame_level", False) and output.frame_logits is not None:
            frame_out.append(fake_logit(card, output.frame_logits.float()).cpu())
    model.train(was_training)
    videos, targets = data.videos(), np.asarray(data.targets())
    frames = torch.cat(frame_out).numpy() if frame_out else None
    t = frames.shape[1] if frames is not None else 1
    return Predictions(videos, targets, torch.cat(clip_out).numpy().astype(np.float64),
                       [v for v in videos for _ in range(t)], np.repeat(targets, t),
                       frames.reshape(-1).astype(np.float64) if frames is not None else None)


def video_auc(predictions: Predictions) -> float:
    _, y, s = predictions.video_scores()
    return m.roc_auc(y, s)


def fit_calibration(logits: np.ndarray, labels: np.ndarray, method: str) -> Calibration:
    if method == "temperature":
        return Calibration("temperature", temperature=m.fit_temperature(logits, labels))
    if method == "platt":
        params = m.fit_platt(logits, labels)
        return Calibration("platt", a=params.a, b=params.b)
    return Calibration("none")


def calibrated(calibration: Calibration, logits: np.ndarray) -> np.ndarray:
    return special.expit(calibration.apply(torch.as_tensor(logits, dtype=torch.float64)).numpy())


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, Any]
    threshold: float
    calibration: Calibration


def evaluate(val: Predictions, test: Predictions, *, calibration: str = "temperature", threshold: str = "eer",
             bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0) -> Evaluation:
    """Fit calibration and threshold on ``val``; measure ``test`` with them."""
    _, val_y, val_z = val.video_scores()
    cal = fit_calibration(val_z, val_y, calibration)
    chosen = m.select_threshold(val_y, calibrated(cal, val_z), threshold)
    _, test_y, test_z = test.video_scores()
    test_p = calibrated(cal, test_z)
    out: dict[str, Any] = {"val_video_auc": m.roc_auc(val_y, val_z)}
    out.update(_frame_metrics("val", val))
    out.update(_frame_metrics("test", test))
    ci = {"bootstrap": bootstrap, "confidence": confidence, "seed": seed}
    scored = {
        "test_video_auc": (m.roc_auc, test_z),
        "test_eer": (lambda y, s: m.equal_error_rate(y, s)[0], test_z),
        "test_ap": (m.average_precision, test_z),
        "test_accuracy": (lambda y, s: m.accuracy_at(y, s, chosen), test_p),
    }
    for name, (metric, scores) in scored.items():
        interval = m.bootstrap_ci(metric, test_y, scores, n_resamples=bootstrap, confidence=confidence, seed=seed)
        out[name] = interval.estimate
        out[f"{name}_ci"] = [interval.low, interval.high]
    out["test_ece"] = m.expected_calibration_error(test_y, test_p)
    out["val_ece"] = m.expected_calibration_error(val_y, calibrated(cal, val_z))
    out.update(threshold=chosen, threshold_method=threshold, calibration=cal.method, ci_confidence=confidence,
               ci_resamples=ci["bootstrap"], n_val_videos=len(val_y), n_test_videos=len(test_y),
               n_test_fake_videos=int(test_y.sum()))
    return Evaluation(_rounded(out), float(chosen), cal)


def _frame_metrics(split: str, predictions: Predictions) -> dict[str, float]:
    if predictions.frame_logits is not None:
        return {f"{split}_frame_auc": m.roc_auc(predictions.frame_targets, predictions.frame_logits)}
    return {f"{split}_clip_auc": m.roc_auc(predictions.targets, predictions.clip_logits)}


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    def r(v):
        if isinstance(v, float):
            return round(v, 6)
        return [r(x) for x in v] if isinstance(v, list) else v

    return {k: r(v) for k, v in values.items()}
