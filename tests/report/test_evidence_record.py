"""One evidence record from intake to report: the probe's facts are stored by one field list (Evidence.from_probe)
and read back by one (Evidence.video_info); the analysis view, the JSON document and the PDF all show them, the
pixel format and bit depth included (a real clip probed by PyAV, a real database and PDF)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dfdesk.core.probe import probe_video
from dfdesk.services.analysis_json import analysis_document
from dfdesk.services.report import export_report
from dfdesk.services.results import load_analysis
from dfdesk.store.tables import Evidence
from tests.report.conftest import Saved, pdf_text


def test_what_the_probe_read_is_what_every_reader_gets(saved: Saved) -> None:
    probed = probe_video(saved.clip)
    with saved.db.unit_of_work() as session:
        row = session.get(Evidence, 1)
        view = load_analysis(session, saved.analysis_id)
    assert row.video_info() == replace(probed, path=row.path)
    assert view.evidence.video == row.video_info()
    video = analysis_document(view)["video"]
    assert (video["pixel_format"], video["bit_depth"], video["codec"]) == (probed.pixel_format, probed.bit_depth,
                                                                            probed.codec)


def test_the_report_prints_the_pixel_format_and_bit_depth(saved: Saved, tmp_path: Path) -> None:
    probed = probe_video(saved.clip)
    export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    text = " ".join(pdf_text(tmp_path / "report.pdf"))
    assert f"Pixel format {probed.pixel_format} ({probed.bit_depth} bit)" in " ".join(text.split())
