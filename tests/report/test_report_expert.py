"""Issue 20 point 5: a report that reads like an expert's.  Real PDFs of a saved analysis (real intake, real clip,
synthetic scores), read back with pypdf; pages rendered by poppler where the layout is what is tested."""
from __future__ import annotations

import dataclasses
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from dfdesk.core.fusion import decide
from dfdesk.core.likelihood import DECISION_LOG10_LR, decide_from_lr, format_lr
from dfdesk.services import audit, cases, training_provenance
from dfdesk.services.report import export_report
from dfdesk.services.report_environment import AT_ANALYSIS, AT_EXPORT, LIBRARIES, collect_environment
from dfdesk.services.report_front import EXAMINER_SOURCES, HEAT_MAP_NOTE
from dfdesk.services.verdicts import verdict_rule
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis
from tests.fixtures.analyses import make_saved_analysis
from tests.report.conftest import NOTE_TEXT, Saved, pdf_text, render_pages
from tests.services.evidence_fixtures import lr_verdict, make_lr_analysis, memberless_verdict


def flat(pages: list[str]) -> str:
    return re.sub(r"\s+", " ", " ".join(pages))


def export(saved: Saved, tmp_path: Path, **kwargs) -> list[str]:
    return pdf_text(export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob", **kwargs).path)


def edit_summary(db: Database, analysis_id: int, **values) -> None:
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        analysis.summary = {**analysis.summary, **values}


# --- 1. executive summary on page 1 ------------------------------------------------------------------

def test_page_one_summarises_evidence_hash_check_finding_conclusion_and_examiner(saved: Saved, tmp_path: Path):
    first = flat(export(saved, tmp_path, examiner="Dr. Ženja Ivanova")[:1])
    from dfdesk.core.probe import sha256_file

    expected = ["Executive summary", "Evidence face.mp4", f"SHA-256 at intake {sha256_file(saved.clip)}", "bytes",
                "Hash check at export MATCH", "Finding fake (manipulation detected)",
                "Fusion rule mean, the plain mean of the calibrated P(fake)",
                "alice agrees with the automatic verdict", NOTE_TEXT,
                f"Examiner Dr. Ženja Ivanova ({EXAMINER_SOURCES['given']})", "Audit log verified at export"]
    missing = [phrase for phrase in expected if phrase not in first]
    assert not missing, missing


def test_the_examiner_is_the_one_given_else_the_case_record_else_the_exporter(saved: Saved, tmp_path: Path):
    assert f"Examiner bob ({EXAMINER_SOURCES['actor']})" in flat(export(saved, tmp_path)[:1])
    with saved.db.unit_of_work() as session:
        cases.list_cases(session)[0].examiner = "Insp. Olga Berg"
    out = tmp_path / "second"
    out.mkdir()
    assert f"Examiner Insp. Olga Berg ({EXAMINER_SOURCES['case']})" in flat(export(saved, out)[:1])
    given = tmp_path / "third"
    given.mkdir()
    assert "Examiner Dr. Given" in flat(export(saved, given, examiner="Dr. Given")[:1])


# --- 2. every rule and threshold from the code that applies it ---------------------------------------

def test_the_printed_mean_rule_decides_as_the_verdict_code_does(saved: Saved, tmp_path: Path):
    text = flat(export(saved, tmp_path))
    found = re.search(r"manipulation detected when P\(fake\) is at or above ([\d.]+) and the whole uncertainty band "
                      r"at or above ([\d.]+); no manipulation detected by these models when P\(fake\) is at or below "
                      r"([\d.]+) and the whole band at or below ([\d.]+)", text)
    assert found, "the fusion paragraph states the thresholds"
    fake, decision, real, decision_again = map(float, found.groups())
    rule = verdict_rule(None)  # what build_outcome decides with when there is no likelihood ratio
    assert (fake, real, decision, decision_again) == (rule.fake_threshold, rule.real_threshold, rule.decision,
                                                      rule.decision)
    assert decide(fake, (decision, fake), rule)[0] == "fake"  # the printed numbers, applied by the code
    assert decide(fake - 0.01, (decision, fake), rule)[0] == "inconclusive"
    assert decide(real, (real, decision), rule)[0] == "real"
    assert decide(real + 0.01, (real, decision), rule)[0] == "inconclusive"


def test_the_printed_likelihood_ratio_rule_decides_as_the_verdict_code_does(db, clip_dir: Path, tmp_path: Path):
    analysis_id = make_lr_analysis(db, clip_dir / "face.mp4", lr_verdict(6.0))
    text = flat(pdf_text(export_report(db, analysis_id, tmp_path / "lr.pdf", "bob").path))
    found = re.search(r"manipulation detected when the LR is at least ([\d.]+); no manipulation detected by these "
                      r"models when it is at most 1/([\d.]+); both with the whole uncertainty band on that side of "
                      r"LR 1", text)
    assert found, "the fusion paragraph states the LR thresholds"
    assert found.group(1) == found.group(2) == format_lr(10 ** DECISION_LOG10_LR)
    printed = math.log10(float(found.group(1)))
    assert decide_from_lr(printed, (0.01, printed))[0] == "fake"
    assert decide_from_lr(-printed, (-printed, -0.01))[0] == "real"
    below = math.log10(float(found.group(1)) - 0.1)  # just under the printed LR: the code does not decide
    assert decide_from_lr(below, (0.01, below))[0] == "inconclusive"
    assert "ensemble fitted on 25 labelled validation videos" in text


def test_an_ensemble_without_members_is_printed_as_no_evidence(db, clip_dir: Path, tmp_path: Path):
    """No 50 % with a band "between 50 % and 50 %": the report says no detector carries weight, and why."""
    analysis_id = make_lr_analysis(db, clip_dir / "face.mp4", memberless_verdict())
    text = flat(pdf_text(export_report(db, analysis_id, tmp_path / "none.pdf", "bob").path))
    assert "LR 1 for every video: no detector carries weight in the fitted ensemble" in text  # page 1's strength row
    assert "Why: on its 25 validation videos no detector told manipulated from unmanipulated videos apart" in text
    assert "Uncertainty band" not in text and "P(fake) = 50" not in text
    assert "FITTED ON THIS EVIDENCE" not in text  # not a validation video


def test_a_validation_video_is_warned_about_once(db, clip_dir: Path, tmp_path: Path):
    """Once among the results (the evidence block printed a second copy in other words), and on page 1."""
    from types import SimpleNamespace

    from dfdesk.services.verdicts import _fusion_warnings

    verdict = lr_verdict(2.0)
    verdict = dataclasses.replace(verdict, evidence=dataclasses.replace(verdict.evidence, in_validation=True))
    analysis_id = make_lr_analysis(db, clip_dir / "face.mp4", verdict)
    edit_summary(db, analysis_id, warnings=_fusion_warnings(SimpleNamespace(note=""), verdict))
    text = flat(pdf_text(export_report(db, analysis_id, tmp_path / "val.pdf", "bob").path))
    results = text[text.index("3. Results"):]
    assert text.count("one of the validation videos") == results.count("one of the validation videos") == 1
    page_one = flat(pdf_text(tmp_path / "val.pdf")[:1])
    assert "FITTED ON THIS EVIDENCE: this very file is one of the videos the ensemble was validated" in page_one


# --- 3. audit entries in words ---------------------------------------------------------------------

def test_audit_entries_are_words_not_json(saved: Saved, tmp_path: Path):
    text = flat(export(saved, tmp_path))
    audit_part = text[text.index("6. Audit trail"):text.index("7. Integrity")]
    for phrase in ["Evidence taken in (probed and hashed)", "evidence.ingest", "Analyst's conclusion recorded",
                   "conclusion: agree", "size bytes: 8,", "evidence 1, analysis 1"]:
        assert phrase in audit_part, phrase
    assert '{"' not in audit_part and '":' not in audit_part


# --- 4. processing environment -----------------------------------------------------------------------

def test_environment_is_printed_at_export_when_the_analysis_did_not_record_it(saved: Saved, tmp_path: Path):
    text = flat(export(saved, tmp_path))
    env = collect_environment()
    assert f"Facts {AT_EXPORT}" in text
    for library in LIBRARIES:
        assert f"{library} {env['libraries'][library]}" in text
    assert f"CPU count {env['cpu_count']}" in text and f"GPU {env['gpu']}" in text
    assert f"Python {env['python']}" in text


def test_an_environment_recorded_at_analysis_time_is_printed_as_recorded(saved: Saved, tmp_path: Path):
    recorded = {**collect_environment("cuda"), "gpu": "Recorded GPU X1", "python": "3.99.1"}
    edit_summary(saved.db, saved.analysis_id, environment=recorded)
    text = flat(export(saved, tmp_path))
    assert f"Facts {AT_ANALYSIS}" in text and "GPU Recorded GPU X1" in text and "Python 3.99.1" in text
    assert "Device used by the analysis cuda" in text and AT_EXPORT not in text


# --- 5. full-frame still with the face box -------------------------------------------------------------

def test_each_key_frame_prints_its_full_frame_with_the_face_box(saved: Saved, tmp_path: Path):
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    stills = [image.image for page in PdfReader(result.path).pages for image in page.images
              if image.image.size == (320, 240)]
    assert len(stills) == 1, "the one key frame's whole 320 x 240 frame"
    pixels = np.asarray(stills[0].convert("RGB")).astype(int)
    x1, y1, x2, y2 = 40, 30, 160, 150  # the fixture's face box on that frame
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    top_edge, right_edge = red[y1 - 1:y1 + 2, x1 + 5:x2 - 5].any(axis=0), red[y1 + 5:y2 - 5, x2 - 2:x2 + 2].any(axis=1)
    assert top_edge.mean() > 0.9 and right_edge.mean() > 0.9
    assert red[y1 + 10:y2 - 10, x1 + 10:x2 - 10].mean() < 0.05  # a box, not a filled patch


# --- 6. audit chain verification -------------------------------------------------------------------------

def test_the_audit_chain_result_is_printed_and_its_problems_listed(saved: Saved, tmp_path: Path):
    assert "Audit log verified at export: all" in flat(export(saved, tmp_path)[:1])
    with saved.db.engine.begin() as connection:  # an edited row (the triggers dropped, as an attacker would)
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
        connection.exec_driver_sql("UPDATE audit_events SET actor = 'mallory' WHERE action = 'note.add' OR "
                                   "action = 'case.create'")
    with saved.db.unit_of_work() as session:
        assert audit.verify(session), "the edit breaks the chain"
    again = tmp_path / "again"
    again.mkdir()
    text = flat(export(saved, again))
    assert re.search(r"Audit log \d+ PROBLEM\(S\) found by `dfdesk audit verify` at export", text)
    assert "Audit problem event 1: content does not match its hash (edited row)" in text


# --- 7, 8. attestation and heat-map note ----------------------------------------------------------------

def test_the_report_ends_with_an_attestation_and_explains_heat_maps(saved: Saved, tmp_path: Path):
    pages = export(saved, tmp_path, examiner="Dr. Ženja Ivanova")
    last = flat(pages[-1:])
    for phrase in ["8. Examiner's attestation", "I examined the evidence", "Examiner Dr. Ženja Ivanova",
                   "Role and organisation", "Place", "Date of signing", "Signature"]:
        assert phrase in last, phrase
    text = flat(pages)
    assert "How to read a heat map" in text and HEAT_MAP_NOTE[:80] in text and "not proof" in text


# --- 10. long values -------------------------------------------------------------------------------------

def test_100_kb_values_are_cut_visibly_and_every_page_renders(db: Database, clip_dir: Path, tmp_path: Path):
    long_name = "N" * 500 + ".mp4"
    clip = tmp_path / "evidence" / long_name[-250:]  # file systems stop at 255 bytes a name
    clip.parent.mkdir()
    shutil.copyfile(clip_dir / "face.mp4", clip)
    huge = "Z" * 100_000
    with db.unit_of_work() as session:
        case = cases.create_case(session, "Case L", "alice", "1" * 64)
        case.number, case.examiner = huge, huge  # past the services' limits, as an old or edited database may hold
    analysis_id = make_saved_analysis(db, clip, case="Case L", actor="alice")
    with db.unit_of_work() as session:
        from dfdesk.store.tables import Evidence, Note

        session.get(Evidence, 1).file_name = long_name
        session.add(Note(case_id=1, evidence_id=1, analysis_id=analysis_id, author="alice", text="word " * 20_000))
    result = export_report(db, analysis_id, tmp_path / "report.pdf", "bob")
    pages = pdf_text(result.path)
    text = flat(pages)
    assert "(100,000 characters, truncated)" in text  # case number and examiner
    assert "(504 characters, truncated)" in text  # the file name
    assert "(100,000 characters, truncated)" in flat(pages[:1])
    renders = tmp_path / "renders"
    renders.mkdir()
    images = render_pages(result.path, renders)
    assert len(images) == len(pages) < 40
    for image in images:  # nothing drawn past the right margin (text running off the page)
        assert (image[:, -image.shape[1] // 20:] < 128).mean() < 0.001


# --- 11. trained on this evidence, more than one video stream -----------------------------------------

def test_a_model_trained_on_this_evidence_is_warned_about_on_page_one(saved: Saved, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch):
    from dfdesk.core.probe import sha256_file

    digest = sha256_file(saved.clip)
    monkeypatch.setattr(training_provenance, "models_trained_on", lambda sha: ["meso4_df"] if sha == digest else [])
    first = flat(export(saved, tmp_path)[:1])
    assert "TRAINED ON THIS EVIDENCE: the training data of meso4_df included this very file" in first


def test_no_training_warning_when_no_model_saw_the_file(saved: Saved, tmp_path: Path):
    assert "TRAINED ON THIS EVIDENCE" not in flat(export(saved, tmp_path))


def test_several_video_streams_are_listed_with_a_warning(saved: Saved, tmp_path: Path):
    streams = [{"index": 0, "codec": "h264", "width": 320, "height": 240, "frames": 20, "default": False},
               {"index": 1, "codec": "hevc", "width": 640, "height": 480, "frames": 20, "default": True}]
    edit_summary(saved.db, saved.analysis_id, video_streams=streams, stream_index=1)
    pages = export(saved, tmp_path)
    assert "THE FILE HAS 2 VIDEO STREAMS; only stream 1 was analysed" in flat(pages[:1])
    text = flat(pages)
    assert "stream 0: h264, 320 x 240 pixels, 20 frames" in text
    assert "stream 1: hevc, 640 x 480 pixels, 20 frames (container default, ANALYSED)" in text


def test_one_video_stream_needs_no_stream_line(saved: Saved, tmp_path: Path):
    edit_summary(saved.db, saved.analysis_id, stream_index=0,
                 video_streams=[{"index": 0, "codec": "h264", "width": 320, "height": 240, "frames": 20,
                                 "default": True}])
    assert "VIDEO STREAMS" not in flat(export(saved, tmp_path))


