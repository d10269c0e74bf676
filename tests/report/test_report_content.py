"""What the report says: every field the issue asks for, read back from the PDF with pypdf."""
from __future__ import annotations

import re
from pathlib import Path

from pypdf import PdfReader

from dfdesk import __version__
from dfdesk.services.report import export_report
from tests.report.conftest import CASE_NAME, CASE_NUMBER, NOTE_TEXT, Saved, pdf_text

LOCAL_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(UTC[+-]\d\d:\d\d\)"


def flat(pages: list[str]) -> str:
    return re.sub(r"\s+", " ", " ".join(pages))


def test_report_holds_every_field(saved: Saved, tmp_path: Path) -> None:
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob", examiner="Dr. Ženja Ivanova")
    pages = pdf_text(result.path)
    text = flat(pages)
    expected = [
        # title block
        CASE_NAME, CASE_NUMBER, "face.mp4", "Examiner Dr. Ženja Ivanova", f"dfdesk version {__version__}",
        result.report_uid,
        # evidence
        str(saved.clip), "bytes", f"SHA-256 at intake {result.sha256 and _intake(saved)}", "SHA-256 at export",
        "MATCH", "Container mov", "Codec h264", "320 x 240 pixels", "25.000 fps", "Frame count 20",
        "Duration 0.800 s", "Rotation 0° clockwise", "Audio present no", "by alice",
        # method
        "Sampling mode uniform", "Seed 0", "Face detection", "Architecture mesonet4",
        "MesoNet authors' Deepfake data set", "ab" * 32, "Validation metrics", "Decision threshold 0.500",
        "Calibration none", "Licence Apache-2.0", "Fusion rule", "Rule: mean",
        # results
        "Verdict: fake", "P(fake) = 0.71 (71 %)", "Uncertainty band: 0.62 to 0.79",
        "lipforensics_ta 0 excluded: needs training 0.50 — (no score)", "time (s)", "fused (verdict)",
        "Face tracks", "frames 0–18", "Key frames", "model meso4_df",
        # conclusion, limitations, audit trail
        NOTE_TEXT, "conclusion: agree", "Limitations", "trained on: MesoNet authors'",
        "Excluded from the verdict: lipforensics_ta, because it needs training", "Compression",
        "evidence.ingest", "verdict.analyst",
    ]
    missing = [field for field in expected if field not in text]
    assert not missing, missing
    assert re.search(f"Report date {LOCAL_TIME}", text)
    assert re.search(f"Ingested {LOCAL_TIME} by alice", text)


def _intake(saved: Saved) -> str:
    from dfdesk.core.probe import sha256_file

    return sha256_file(saved.clip)


def test_every_page_has_header_and_footer(saved: Saved, tmp_path: Path) -> None:
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    pages = pdf_text(result.path)
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in page
        assert f"Case: {CASE_NAME} ({CASE_NUMBER})" in page
        assert f"Report {result.report_uid}" in page


def test_unicode_case_name_round_trips_in_an_embedded_font(saved: Saved, tmp_path: Path) -> None:
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    first = pdf_text(result.path)[0]
    assert first.count(CASE_NAME) == 2  # the header and the title block
    fonts = _fonts(PdfReader(result.path))
    assert any("DejaVuSans" in name for name in fonts)
    assert any("DroidSansFallback" in name for name in fonts)  # the Chinese characters, which DejaVu lacks
    assert any("NanumGothic" in name for name in fonts)  # the Korean ones
    assert all(embedded for embedded in fonts.values()), fonts


def test_characters_dejavu_lacks_are_set_in_a_fallback_font() -> None:
    from dfdesk.services.report_layout import FALLBACKS, SANS, font_runs, plain

    chinese, korean = FALLBACKS
    assert font_runs("Case 深度 – 사건 Ελλ") == [(SANS, "Case "), (chinese, "深度"), (SANS, " – "), (korean, "사건"),
                                                 (SANS, " Ελλ")]
    assert plain("a<深>") == f'a&lt;<font face="{chinese}">深</font>&gt;'
    assert font_runs("\U0001F600") == [(SANS, "\U0001F600")]  # in no font: left to DejaVu's missing-glyph box


def _fonts(reader: PdfReader) -> dict[str, bool]:
    """Base font name -> whether the font program is embedded, over every page."""
    found = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant.get("/FontDescriptor")
            found[str(font["/BaseFont"])] = descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    return found


def test_timeline_is_vector_and_key_frames_are_images(saved: Saved, tmp_path: Path) -> None:
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    images = [image for page in PdfReader(result.path).pages for image in page.images]
    assert len(images) == 3  # one key frame: the full frame, the face crop and its heat map; the chart adds none
    sizes = sorted(image.image.size for image in images)
    assert sizes[0] == (96, 96)  # the heat-map PNG as saved by the analysis
    assert (320, 240) in sizes  # the whole 320 x 240 frame (small enough not to be scaled down)


def test_model_metrics_are_printed_in_words():
    from dfdesk.services.report import metrics_text

    assert metrics_text({"labelled_pairs": 4, "labelled_face_swap_video_auc": 0.85}) == (
        "video AUC (labelled clips, face swaps vs reals): 0.85; labelled fake–original pairs: 4")
