"""The likelihood-ratio stage, fitted and judged with ``lir`` (the Netherlands Forensic Institute's LR toolkit).

The ensemble's fused logit is a score, not yet evidence strength.  lir's logistic calibrator (class-balanced, so
the share of fakes among the validation videos does not leak in as a prior) turns it into log10 LR, and ELUB
(Vergeer et al., Science and Justice 56, 2016) bounds what so few validation videos can support: with n videos of
each kind no LR beyond about n, or below about 1/n, is reported.  Cllr and Cllr-min (Brümmer and du Preez 2006) and
the ECE and Tippett plots judge the LRs the way that field does; the plots are PNG files drawn by lir on
matplotlib figures (no GUI backend).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lir.algorithms.bayeserror import elub
from lir.algorithms.logistic_regression import LogitCalibrator
from lir.data.models import LLRData
from lir.metrics import cllr, cllr_min
from lir.plotting import tippett
from lir.plotting.expected_calibration_error import plot_ece
from matplotlib.figure import Figure


@dataclass(frozen=True)
class LrCalibration:
    """``log10 LR = slope * fused logit + intercept``, then bounded to [lower, upper] (log10, ELUB)."""

    slope: float
    intercept: float
    lower: float
    upper: float

    def log10_lr(self, fused_logits: np.ndarray) -> np.ndarray:
        raw = self.slope * np.asarray(fused_logits, dtype=np.float64) + self.intercept
        return np.clip(raw, self.lower, self.upper)

    def to_dict(self) -> dict:
        return {"slope": self.slope, "intercept": self.intercept, "lower_log10": self.lower,
                "upper_log10": self.upper}


def fit_lr_calibration(fused_logits: Sequence[float], labels: Sequence[int]) -> LrCalibration:
    """lir's LogitCalibrator on out-of-sample fused logits, then lir's ELUB bounds on the calibrated LLRs."""
    z = np.asarray(fused_logits, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    calibrator = LogitCalibrator().fit(z, y)
    at_zero, at_one = calibrator.transform(np.array([0.0, 1.0]))
    slope, intercept = float(at_one - at_zero), float(at_zero)
    lower, upper = elub(slope * z + intercept, y.astype(np.float64))  # elub overwrites extremes in its argument
    return LrCalibration(slope, intercept, float(lower), float(upper))


@dataclass(frozen=True)
class LrMetrics:
    cllr: float  # log-likelihood-ratio cost: 0 perfect, 1 an LR of 1 for every video
    cllr_min: float  # after the best monotone recalibration (PAV): the discrimination alone
    n_fake: int
    n_real: int

    def to_dict(self) -> dict:
        return {"cllr": round(self.cllr, 4), "cllr_min": round(self.cllr_min, 4), "n_fake": self.n_fake,
                "n_real": self.n_real}


def lr_metrics(llrs: Sequence[float], labels: Sequence[int]) -> LrMetrics:
    data = _llr_data(llrs, labels)
    y = np.asarray(labels, dtype=int)
    return LrMetrics(float(cllr(data)), float(cllr_min(data)), int(y.sum()), int(len(y) - y.sum()))


def write_plots(llrs: Sequence[float], labels: Sequence[int], ece: Path, tippett_plot: Path) -> None:
    """The ECE plot and the Tippett plot of out-of-sample LLRs, as PNG files (each written atomically)."""
    data = _llr_data(llrs, labels)
    y = np.asarray(labels)
    counts = f"{int(y.sum())} manipulated, {int(len(y) - y.sum())} not"
    _save(lambda ax: plot_ece(data, ax=ax), f"Empirical cross-entropy, out of sample ({counts})", ece)
    _save(lambda ax: _tippett(data, ax), f"Tippett plot, out of sample: H1 manipulated, H2 not ({counts})",
          tippett_plot)


def _tippett(data: LLRData, ax) -> None:
    """lir's Tippett plot on axes wide enough to read, saying so when every LR is 1 (then the curves are points)."""
    tippett(data, ax=ax)
    low, high = float(np.min(data.llrs)), float(np.max(data.llrs))
    ax.set_xlim(min(-1.0, low - 0.2), max(1.0, high + 0.2))
    ax.set_ylim(0, 105)
    if high - low < 1e-9:
        ax.text(0.5, 0.5, f"every LR is {10 ** low:.3g}: no model ranks these videos better than chance",
                transform=ax.transAxes, ha="center", fontsize=9)


def _llr_data(llrs: Sequence[float], labels: Sequence[int]) -> LLRData:
    return LLRData(features=np.asarray(llrs, dtype=np.float64), labels=np.asarray(labels, dtype=int))


def _save(draw, title: str, path: Path) -> None:
    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = figure.add_subplot()
    draw(ax)
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    figure.savefig(temporary, format="png")
    os.replace(temporary, path)
