"""Verdicts on the labelled clips of ../shared/data, read in place and never copied.

1. ``dfdesk train --stacking`` on the 25 whole-scene clips with the four MesoNets: the ensemble is never below its
   best member on the same folds, no clip gets a wrong categorical verdict out of sample, every LR stays inside the
   bounds 25 videos support, and the file records each clip's SHA-256.
2. A manipulated clip the models miss (FaceForensics++ 634_660, FaceSwap, which MesoNet does not detect), analysed
   by the real CLI with an ensemble that calls it "no manipulation": the JSON's human fields, the PDF (pdftotext) and
   the analysis page never call it real or authentic.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dfdesk import paths
from dfdesk.core.fusion import STACKING_FILE
from dfdesk.core.probe import sha256_file
from dfdesk.services.models import list_installed
from dfdesk.store.database import Database
from tests.services.evidence_fixtures import OVERCLAIM
from trainer.config import StackingConfig
from trainer.stacking import default_config, stacking_events, write_stacking

pytestmark = [pytest.mark.real, pytest.mark.slow]
MESONETS = ("meso4_df", "meso4_f2f", "mesoinception4_df", "mesoinception4_f2f")
MISSED_FAKE = Path("videos/ffpp/634_660.mp4")  # FaceSwap: MesoNet misses it (DETECTORS.md)


@pytest.fixture(scope="module")
def fitted(shared_data: Path, tmp_path_factory) -> tuple[dict, dict]:
    """The done event and the stacking file of one fit on the shared clips (crops and scores in a temporary cache)."""
    folder = tmp_path_factory.mktemp("fit")
    patch = pytest.MonkeyPatch()
    patch.setenv(paths.DATA_DIR_ENV, str(folder / "userdata"))
    try:
        config = replace(default_config(), device="cpu", cache_dir=str(folder / "cache" / "crops"),
                         stacking=StackingConfig(models=MESONETS))
        done = list(stacking_events(config))[-1]
        doc = json.loads((paths.user_models_dir() / STACKING_FILE).read_text())
    finally:
        patch.undo()
    return done, doc


def test_the_fitted_ensemble_ranks_at_least_as_well_as_its_best_member_on_the_same_folds(fitted):
    _done, doc = fitted
    metrics = doc["metrics"]
    best = max(metrics["member_auc_leave_pair_out"].values())
    assert metrics["ensemble_auc_leave_pair_out"] >= best - 1e-12, metrics


def test_no_labelled_clip_gets_a_wrong_verdict_out_of_sample(fitted):
    _done, doc = fitted
    clips = doc["validation"]["clips"]
    wrong = [c["name"] for c in clips if (c["label"], c["verdict_oos"]) in (("fake", "real"), ("real", "fake"))]
    assert not wrong
    assert doc["coverage"]["real_called_fake"] == 0


def test_every_lr_stays_inside_what_25_videos_support(fitted):
    _done, doc = fitted
    clips, lr = doc["validation"]["clips"], doc["likelihood_ratio"]
    n_fake = sum(c["label"] == "fake" for c in clips)
    n_real = len(clips) - n_fake
    assert -np.log10(n_fake + 1) - 1e-9 <= lr["lower_log10"] <= 0 <= lr["upper_log10"] <= np.log10(n_real + 1) + 1e-9
    assert all(lr["lower_log10"] - 1e-9 <= c["log10_lr_oos"] <= lr["upper_log10"] + 1e-9 for c in clips)


def test_the_file_records_what_it_was_fitted_on(fitted, shared_data: Path):
    _done, doc = fitted
    validation = doc["validation"]
    assert validation["n_videos"] + len(validation["skipped"]) == 25
    for clip in validation["clips"][:3]:  # hashing every clip again adds nothing
        assert clip["sha256"] == sha256_file(shared_data / clip["name"])
    hashes = {c.name: c.weights_sha256 for c in list_installed()}
    assert {m["name"]: m["weights_sha256"] for m in doc["models"]} == {n: hashes[n] for n in MESONETS}
    pair = {c["name"]: c["group"] for c in validation["clips"]}
    assert pair["videos/ffpp/634_660.mp4"] == pair["videos/ffpp/634.mp4"]  # left out together


# --- a missed fake, end to end --------------------------------------------------------------------------------


def no_manipulation_ensemble() -> None:
    """An ensemble that reads meso4_df's score as strong support for "not manipulated" (bounded at 1/7.9), so that
    the missed fake gets the categorical verdict "real": the worst case for wording."""
    hashes = {c.name: c.weights_sha256 for c in list_installed() if c.name in ("meso4_df", "mesoinception4_df")}
    clips = [{"name": f"v{i}.mp4", "sha256": f"{i:064x}", "label": "fake" if i < 15 else "real"} for i in range(25)]
    write_stacking({"format": 2, "weights": {"meso4_df": 0.1, "mesoinception4_df": 0.0}, "bias": -12.0,
                    "models": [{"name": n, "weights_sha256": h} for n, h in hashes.items()],
                    "likelihood_ratio": {"slope": 1.0, "intercept": 0.0, "lower_log10": -0.9, "upper_log10": 0.8},
                    "coverage": {"validated": [{"family": "face_swap", "fakes": 6, "detected": 0},
                                               {"family": "talking_head", "fakes": 9, "detected": 0}],
                                 "real_clips": 10, "real_called_fake": 0},
                    "validation": {"n_videos": 25, "n_fake": 15, "clips": clips}})


@pytest.fixture(scope="module")
def missed_fake(shared_data: Path, tmp_path_factory) -> dict:
    clip = shared_data / MISSED_FAKE
    if not clip.is_file():
        pytest.skip(f"{MISSED_FAKE} is not in the shared data")
    folder = tmp_path_factory.mktemp("missed")
    patch = pytest.MonkeyPatch()
    patch.setenv(paths.DATA_DIR_ENV, str(folder / "userdata"))
    try:
        no_manipulation_ensemble()
        command = [sys.executable, "-m", "dfdesk", "analyze", str(clip), "--models", "meso4_df,mesoinception4_df",
                   "--fusion", "stacking", "--device", "cpu", "--json", str(folder / "out.json"),
                   "--report", str(folder / "out.pdf"), "--db", str(folder / "cases.sqlite")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=folder)
        assert done.returncode == 0, done.stderr
        pdf = subprocess.run(["pdftotext", "-layout", str(folder / "out.pdf"), "-"], check=True,
                             capture_output=True, text=True).stdout
    finally:
        patch.undo()
    return {"json": json.loads((folder / "out.json").read_text()), "stdout": done.stdout, "pdf": pdf,
            "db": folder / "cases.sqlite", "userdata": folder / "userdata"}


HUMAN_FIELDS = ("verdict_text", "explanation", "agreement", "verbal", "warnings")


def test_the_json_keeps_the_scripts_value_and_its_human_fields_never_overclaim(missed_fake):
    document = missed_fake["json"]
    assert document["verdict"] == "real"  # the categorical value scripts read
    assert document["verdict_text"] == "no manipulation detected by these models"
    assert document["log10_lr"] == pytest.approx(-0.9) and document["lr_bounds"] == pytest.approx([10 ** -0.9,
                                                                                                    10 ** 0.8])
    assert "not manipulated" in document["verbal"] and document["evidence"]["at_bound"]
    human = [json.dumps(document[k]) for k in HUMAN_FIELDS] + [document["coverage"]["statement"],
                                                               document["evidence"]["summary"]]
    assert not [text for text in human if OVERCLAIM.search(text)]


def test_the_pdf_never_calls_the_missed_fake_real_or_authentic(missed_fake):
    text = re.sub(r"\s+", " ", missed_fake["pdf"])
    body, _, audit = text.partition("Audit trail of this evidence")
    assert "no manipulation detected by these models" in body and "LR = 1/7.9" in body
    assert not OVERCLAIM.findall(body)
    # the audit trail quotes the log's machine record verbatim: its only "real" is the scripts' verdict value
    assert not OVERCLAIM.findall(re.sub(r'"verdict": "real"', "", audit))


def test_the_cli_summary_line_never_calls_the_missed_fake_real(missed_fake):
    assert missed_fake["json"]["verdict"] == "real"  # what the line must not repeat
    assert ": no manipulation detected by these models" in missed_fake["stdout"].splitlines()[0]
    assert not OVERCLAIM.findall(missed_fake["stdout"])


@pytest.fixture
def gui(qtbot, tmp_path: Path):
    """App settings on a temporary ini file and a job queue that must stop within 10 s."""
    from PySide6.QtCore import QSettings

    from dfdesk.gui.jobs import JobQueue
    from dfdesk.gui.settings import AppSettings

    queue = JobQueue()
    yield AppSettings(QSettings(str(tmp_path / "dfdesk.ini"), QSettings.Format.IniFormat)), queue
    assert queue.shutdown(10_000)


def test_the_analysis_page_never_calls_the_missed_fake_real_or_authentic(missed_fake, qtbot, gui, monkeypatch):
    from dfdesk.gui.views.analysis_view import AnalysisPage
    from tests.gui.test_verdict_wording import widget_texts

    monkeypatch.setenv(paths.DATA_DIR_ENV, str(missed_fake["userdata"]))
    settings, jobs = gui
    db = Database(missed_fake["db"])
    page = AnalysisPage(db, jobs, settings, lambda: "erin", missed_fake["json"]["analysis_id"])
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.crop_job.state == "done", timeout=60_000)
    try:
        texts = widget_texts(page) + [label.text for _sample, label in page.timeline.legend.items]
        assert page.verdict.headline.text() == "No manipulation detected by these models"
        assert not [t for t in texts if OVERCLAIM.search(t)]
    finally:
        page.shutdown()
        db.close()
