"""The report's verdict, evidence strength and limitations, read back from the PDF (pypdf and poppler's pdftotext):
the LR with its bounds, verbal scale and validation set size; the coverage; and no word calling a missed fake real
or authentic."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dfdesk.services.report import export_report
from tests.report.conftest import pdf_text
from tests.services.evidence_fixtures import OVERCLAIM, lr_verdict, make_lr_analysis


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def missed_fake_report(db, clip_dir: Path, tmp_path: Path) -> Path:
    clip = tmp_path / "evidence" / "face.mp4"
    clip.parent.mkdir()
    shutil.copyfile(clip_dir / "face.mp4", clip)
    analysis_id = make_lr_analysis(db, clip)
    return export_report(db, analysis_id, tmp_path / "report.pdf", "bob").path


def test_the_report_states_the_lr_its_bounds_the_verbal_scale_and_the_validation_set(missed_fake_report: Path):
    text = flat(" ".join(pdf_text(missed_fake_report)))
    expected = [
        "Verdict: no manipulation detected by these models", "does not establish that the video is unaltered",
        "Likelihood ratio LR = 1/7.9 (log10 LR = -0.90)", "It reached a bound",
        "Bounds 1/7.9 to 6.3", "Verbal scale (ENFSI 2015)",
        "weak support for the proposition that the face in this video was not manipulated",
        "Validation set 25 labelled videos (15 manipulated, 10 not)", "fake at even prior odds, P(fake) =",
        "Rule: stacking, the ensemble fitted on 25 labelled validation videos",
        # limitations: what "no manipulation detected" covers
        "Coverage (25 labelled validation videos, out of sample): Validated out of sample on: face swap: 2 of 6",
        "talking-head synthesis: 1 of 9", "Not known to be detected: fully synthetic video",
    ]
    missing = [phrase for phrase in expected if phrase not in text]
    assert not missing, missing


@pytest.mark.parametrize("reader", ["pypdf", "pdftotext"])
def test_a_missed_fake_is_never_called_real_or_authentic_in_the_report(missed_fake_report: Path, reader: str):
    if reader == "pypdf":
        text = " ".join(pdf_text(missed_fake_report))
    else:
        text = subprocess.run(["pdftotext", "-layout", str(missed_fake_report), "-"], check=True,
                              capture_output=True, text=True).stdout
    assert "no manipulation detected by these models" in flat(text)
    assert not OVERCLAIM.findall(text)


def test_a_detected_fake_reads_as_manipulation_detected(db, clip_dir: Path, tmp_path: Path):
    analysis_id = make_lr_analysis(db, clip_dir / "face.mp4", lr_verdict(6.0))
    text = flat(" ".join(pdf_text(export_report(db, analysis_id, tmp_path / "fake.pdf", "bob").path)))
    assert "Verdict: fake (manipulation detected)" in text and "LR = 6.3" in text
    assert "weak support for the proposition that the face in this video was manipulated" in text
    assert not OVERCLAIM.findall(text)
