"""`dfdesk models enable|disable`: an admin on a machine without the desktop decides which installed models the
default analysis uses, after the model's validation figures are printed; the change is audited."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from dfdesk import paths
from dfdesk.services import models

WEIGHTS = paths.bundled_models_dir() / "meso4_df" / "model.safetensors"


def _import(name: str) -> None:
    models.import_model(WEIGHTS, "mesonet4", name, options={"hidden_activation": "leaky_relu",
                                                            "clip_pool": "logit_mean"},
                        sigmoid_means="real", metrics={"val_video_auc": 0.0})


def _state(dfdesk, name: str) -> str:
    listing = dfdesk("models", "list", db=None)
    assert listing.code == 0, listing.stderr
    return next(line.split("\t")[3] for line in listing.stdout.splitlines() if line.startswith(name + "\t"))


def test_an_imported_model_is_disabled_until_enabled_with_its_figures_shown(dfdesk, tmp_path: Path):
    _import("meso_copy")
    assert _state(dfdesk, "meso_copy") == "disabled"
    assert _state(dfdesk, "meso4_df") == "enabled"  # shipped

    refused = dfdesk("models", "enable", "meso_copy")  # no terminal to ask, no --yes
    assert refused.code == 2 and "not enabled" in refused.stderr
    assert "val_video_auc\t0" in refused.stdout and "at or below chance" in refused.stdout
    assert _state(dfdesk, "meso_copy") == "disabled"

    enabled = dfdesk("models", "enable", "meso_copy", "--yes")
    assert enabled.code == 0, enabled.stderr
    assert _state(dfdesk, "meso_copy") == "enabled"
    assert dfdesk("models", "disable", "meso_copy").code == 0
    assert _state(dfdesk, "meso_copy") == "disabled"

    with sqlite3.connect(tmp_path / "cli.sqlite") as connection:
        actions = [row[0] for row in connection.execute("SELECT action FROM audit_events ORDER BY id")]
    assert [a for a in actions if a.startswith("model.")] == ["model.enable", "model.disable"]


def test_an_unknown_model_is_one_line_and_exit_2(dfdesk):
    result = dfdesk("models", "enable", "no_such_model", "--yes")
    assert result.code == 2 and len(result.stderr.strip().splitlines()) == 1
