"""The report as one document: the order of its sections, the page template and the header on every page."""
from __future__ import annotations

from functools import partial
from typing import BinaryIO

from reportlab.lib.pagesizes import A4
from reportlab.platypus import SimpleDocTemplate

from dfdesk.services import report_front as front
from dfdesk.services import report_layout as layout
from dfdesk.services.report_text import NAME_CHARS, clip


def build_pdf(content: layout.ReportContent, stream: BinaryIO) -> None:
    """Write the whole report to ``stream``."""
    layout.register_fonts()
    evidence = content.analysis.evidence
    case = clip(evidence.case_name, NAME_CHARS)
    doc = SimpleDocTemplate(stream, pagesize=A4, leftMargin=layout.MARGIN, rightMargin=layout.MARGIN,
                            topMargin=layout.MARGIN + 6, bottomMargin=layout.MARGIN + 4,
                            title=f"dfdesk report {content.report_uid}", author=clip(content.examiner, NAME_CHARS),
                            subject=f"{case}: {clip(evidence.file_name, NAME_CHARS)}",
                            creator=f"dfdesk {content.dfdesk_version}")
    number = f" ({clip(evidence.case_number, NAME_CHARS)})" if evidence.case_number else ""
    canvasmaker = partial(layout.DecoratedCanvas, header=f"Case: {case}{number}", report_uid=content.report_uid,
                          version=content.dfdesk_version)
    doc.build(story(content), canvasmaker=canvasmaker)


def story(content: layout.ReportContent) -> list:
    """Page 1: the title, any evidence-integrity alert and the executive summary; then the sections in order."""
    return [layout.para("Forensic video analysis report", "title"), *layout.integrity_alert(content.hash_check),
            *front.executive_summary(content), *layout.title_block(content),
            *layout.evidence_section(content), *front.streams_block(content),
            *layout.method_section(content), *front.environment_block(content),
            *layout.results_section(content), *front.heat_map_note(),
            *layout.conclusion_section(content), *layout.limitations_section(content),
            *layout.audit_section(content), *layout.records_section(content.trust),
            *front.attestation_section(content)]
