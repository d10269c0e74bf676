"""The product's own analysis (``run_analysis``, default request, every shipped model) on the FaceForensics++
face-swap pairs of ../shared/data, checked against facts that come from outside the code: the labels and pairings
of ../shared/data/labels.csv, and the per-pair orderings measured by bench/eval_detector.py and bench/eval_real.py
(bench/RESULTS.md) for the two detectors that find face swaps.  No pipeline is assembled in the test: a change
anywhere in decode, faces, crops, scoring, fusion or saving that breaks these facts fails here.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.analysis_json import analysis_document
from dfdesk.services.ingest import ingest_video
from dfdesk.services.models import list_installed
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database

pytestmark = [pytest.mark.real, pytest.mark.slow]
SWAP_PAIRS = ("videos/ffpp/519_515.mp4", "videos/ffpp/634_660.mp4", "videos/val/lrnet_ff_fake.mp4")
# face-swap detectors whose fake-above-original ordering on each of these pairs bench/RESULTS.md reports
SWAP_DETECTORS = ("sbi_effnet_lite", "lrnet_ffpp")


def _labels(shared: Path) -> dict[str, dict]:
    with open(shared / "labels.csv", newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def documents(shared_data: Path, tmp_path_factory) -> dict[str, dict]:
    """The --json document of one default analysis of each clip of the three pairs, in one case database."""
    labels = _labels(shared_data)
    db = Database(tmp_path_factory.mktemp("regression") / "cases.sqlite")
    out = {}
    for fake in SWAP_PAIRS:
        for clip in (fake, labels[fake]["pair_of"]):
            intake = ingest_video(db, "Regression", shared_data / clip, "ci")
            analysis_id = run_to_end(run_analysis(db, intake.evidence_id, AnalysisRequest(), "ci"))
            with db.unit_of_work() as session:
                out[clip] = analysis_document(load_analysis(session, analysis_id))
    return out


def _probability(document: dict, model: str) -> float:
    return next(d["fake_probability"] for d in document["detectors"] if d["name"] == model)


def test_the_pairs_are_what_labels_csv_says(shared_data: Path):
    labels = _labels(shared_data)
    for fake in SWAP_PAIRS:
        assert labels[fake]["label"] == "fake" and "swap" in (labels[fake]["method"] + labels[fake]["notes"]).lower()
        assert labels[labels[fake]["pair_of"]]["label"] == "real"


def test_no_face_swap_is_called_real(documents: dict, shared_data: Path):
    assert all(documents[fake]["verdict"] != "real" for fake in SWAP_PAIRS)


@pytest.mark.parametrize("model", SWAP_DETECTORS)
def test_each_swap_scores_above_its_own_original(documents: dict, shared_data: Path, model: str):
    labels = _labels(shared_data)
    for fake in SWAP_PAIRS:
        original = labels[fake]["pair_of"]
        assert _probability(documents[fake], model) > _probability(documents[original], model), (model, fake)


def test_every_result_names_the_weights_it_used(documents: dict):
    installed = {card.name: card.weights_sha256 for card in list_installed() if card.trained}
    for document in documents.values():
        used = [d for d in document["detectors"] if d["fake_probability"] is not None]
        assert {d["name"] for d in used} == set(installed)
        assert all(d["weights_sha256"] == installed[d["name"]] for d in used)
