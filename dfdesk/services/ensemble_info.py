"""What the model manager shows about the fitted ensemble: its members, what it was validated on, how it did out
of sample (AUC, Cllr, coverage) and its ECE and Tippett plots, read from the stacking file ``dfdesk train
--stacking`` wrote."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dfdesk.core.coverage import Coverage
from dfdesk.core.fusion import STACKING_FIGURES, FusionError, Stacking
from dfdesk.services.verdicts import stacking_files


@dataclass(frozen=True)
class EnsembleInfo:
    path: Path
    created_at: str
    members: tuple[str, ...]  # models with weight
    weights: dict[str, float]
    models: tuple[str, ...]  # every model the fit considered
    validation_videos: int
    validation_fakes: int
    protocol: str
    metrics: dict
    coverage: Coverage | None
    lr_bounds: tuple[float, float] | None  # LR values
    figures: dict[str, Path]  # kind -> PNG that exists
    problem: str = ""  # why the file cannot be used, when it cannot


def ensemble_info() -> EnsembleInfo | None:
    """The fitted ensemble the analysis would use (None when none is installed)."""
    path = next((p for p in stacking_files() if p.is_file()), None)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        stacking = Stacking.from_dict(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, FusionError) as exc:
        return EnsembleInfo(path, "", (), {}, (), 0, 0, "", {}, None, None, {}, problem=str(exc))
    validation = data.get("validation", {})
    lr = stacking.likelihood
    return EnsembleInfo(
        path=path, created_at=str(data.get("created_at", "")), members=stacking.members,
        weights=dict(stacking.weights), models=tuple(m["name"] for m in data["models"]),
        validation_videos=stacking.validation_videos, validation_fakes=stacking.validation_fakes,
        protocol=str(validation.get("protocol", "")), metrics=dict(data.get("metrics", {})),
        coverage=stacking.coverage, lr_bounds=(10 ** lr.lower, 10 ** lr.upper) if lr else None,
        figures={k: path.parent / f for k, f in STACKING_FIGURES.items() if (path.parent / f).is_file()},
        problem="" if lr else "fitted before likelihood ratios existed: fit it again with dfdesk train --stacking")
