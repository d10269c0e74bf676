"""The generators the GUI runs as background jobs.  Plain Python (no Qt): each yields Progress and
returns its result; the job queue runs them in worker threads.  Each opens its own units of work."""
from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dfdesk.core.probe import VideoError
from dfdesk.core.types import Progress
from dfdesk.gui.settings import MODEL_DEFAULT
from dfdesk.gui.workers import JobCancelled, JobContext
from dfdesk.services import analysis, report
from dfdesk.services.ingest import ingest_video
from dfdesk.services.progress_plan import progress_plan_for
from dfdesk.store.database import Database


@dataclass
class IngestSummary:
    added: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, one-line reason)

    def refusal_text(self) -> str:
        lines = [f"• {name}: {reason}" for name, reason in self.refused]
        return f"{len(self.refused)} file(s) were not added; nothing was recorded for them.\n\n" + "\n".join(lines)


def ingest_files(db: Database, case_name: str, files: Sequence[Path], actor: str,
                 context: JobContext) -> Generator[Progress, None, IngestSummary]:
    """Probe, hash and record each file; a refused file is listed in the summary, never half-recorded."""
    summary = IngestSummary()
    for number, path in enumerate(files):
        yield Progress("ingest", number, len(files), f"hashing {path.name}")
        size = max(_size(path), 1)
        hashed = [0]

        def on_block(count: int, hashed=hashed, size=size, name=path.name) -> None:
            context.check()  # a cancel stops the hash before anything is written
            hashed[0] += count
            context.report(Progress("hash", hashed[0], size, f"hashing {name}"))

        try:
            result = ingest_video(db, case_name, path, actor, hash_progress=on_block)
        except VideoError as exc:
            summary.refused.append((path.name, _without_path(str(exc), path)))
            continue
        (summary.added if result.created else summary.already_there).append(path.name)
    yield Progress("ingest", len(files), len(files), "done")
    return summary


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _without_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def analysis_request(models: tuple[str, ...] | None, frames: int, sampling: str, device: str):
    """The request the CLI makes with the same choices: 0 frames and the "model" sampling leave each model its
    card's own, as `dfdesk analyze` does without --frames and --sampling."""
    return analysis.AnalysisRequest(models=models, frames=frames or None,
                                    sampling=None if sampling == MODEL_DEFAULT else sampling, device=device)


def run_analysis(db: Database, evidence_id: int, request, actor: str, context: JobContext) -> Generator:
    """The analysis service's generator, with the job's cancel flag handed down.  It first yields the analysis'
    ProgressPlan, so the job shows progress and time left over every stage."""
    yield progress_plan_for(db, evidence_id, request)
    return (yield from analysis.run_analysis(db, evidence_id, request, actor, cancel=context.is_cancelled))


def resume_analysis(db: Database, analysis_id: int, actor: str, context: JobContext) -> Generator:
    """The service's resume generator: the analysis finishes in place with the settings it was started with."""
    return (yield from analysis.resume_analysis(db, analysis_id, actor, cancel=context.is_cancelled))


def export_report(db: Database, analysis_id: int, out_path: Path, actor: str, context: JobContext) -> Generator:
    """Writes the PDF report (the service re-verifies the evidence hash first); returns its ReportResult."""
    yield Progress("report", 0, 1, f"writing {out_path.name}")
    if context.is_cancelled():
        raise JobCancelled()
    result = report.export_report(db, analysis_id, out_path, actor, overwrite=True)  # the save dialog asked
    yield Progress("report", 1, 1, "done")
    return result


def report_message(result) -> str:
    text = f"The report was saved to {result.path}.\nSHA-256 of the PDF: {result.sha256}"
    if not getattr(result, "evidence_hash_ok", True):
        text += "\n\nWarning: the evidence file no longer matches its recorded SHA-256; the report says so."
    return text
