"""`dfdesk analyze VIDEO --json OUT.json`: headless analysis with the installed ensemble."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from dfdesk.cli import arguments
from dfdesk.cli.case_selection import add_case_options, selected_case_name
from dfdesk.cli.common import EXIT_FAILURE, EXIT_OK, CliError, add_db_option, open_database, progress_bar
from dfdesk.core.fusion import FUSION_RULES

# PyTorch, PyAV and SQLAlchemy load in the handlers, after the arguments parsed: a typing error is answered at once.
AUTO_FUSION = "auto"  # dfdesk.services.verdicts.AUTO, the default of AnalysisRequest.fusion
FUSION_CHOICES = (AUTO_FUSION, *FUSION_RULES)  # as dfdesk.services.verdicts.FUSION_CHOICES
DEFAULT_CASE = "Ad hoc analyses"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("analyze", help="analyse a video with the installed detectors")
    parser.add_argument("video", metavar="VIDEO")
    parser.add_argument("--json", type=arguments.output_file, metavar="OUT.json", help="write the result as JSON")
    parser.add_argument("--models", help="comma-separated model names (default: every trained model)")
    parser.add_argument("--frames", type=arguments.frame_count,
                        help=f"frames to sample (frame-level detectors; 1 to {arguments.MAX_FRAMES})")
    parser.add_argument("--sampling", choices=("random", "uniform", "all", "every"))
    parser.add_argument("--seed", type=arguments.seed, default=0, help=f"0 to {arguments.MAX_SEED}")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--fusion", choices=FUSION_CHOICES, default=AUTO_FUSION,
                        help="auto (default): the ensemble validated by dfdesk train --stacking for these models, "
                             "else the plain mean, shown but never deciding the verdict")
    parser.add_argument("--aggregation", choices=("mean", "confident"), default="mean",
                        help="how frame-level detectors turn frame scores into a video score")
    parser.add_argument("--stream", type=arguments.stream_index, metavar="N",
                        help="container index of the video stream to analyse (default: the one marked default)")
    add_case_options(parser, required=False, default=DEFAULT_CASE,
                     name_help=f"name of the case to file the video in, created if needed (default: {DEFAULT_CASE!r})")
    parser.add_argument("--report", type=arguments.output_file, metavar="OUT.pdf", help="also export the PDF report")
    add_db_option(parser)
    parser.set_defaults(handler=analyze)
    resume = commands.add_parser("resume", help="finish an interrupted, failed or cancelled analysis in place")
    resume.add_argument("analysis_id", type=arguments.record_id, metavar="ANALYSIS_ID")
    resume.add_argument("--json", type=arguments.output_file, metavar="OUT.json", help="write the result as JSON")
    add_db_option(resume)
    resume.set_defaults(handler=resume_command)


def resume_command(args: argparse.Namespace) -> int:
    from dfdesk.services.analysis import resume_analysis
    from dfdesk.services.analysis_json import analysis_document
    from dfdesk.services.identity import current_analyst
    from dfdesk.services.recovery import mark_interrupted
    from dfdesk.services.results import load_analysis

    _check_outputs(args.json, None)
    db = open_database(args.db)
    mark_interrupted(db)
    _check_resumable(db, args.analysis_id)
    analysis_id = _drive(resume_analysis(db, args.analysis_id, current_analyst()))
    with db.unit_of_work() as session:
        document = analysis_document(load_analysis(session, analysis_id))
    if args.json:
        _write_json(args.json, document)
    _print_summary(document)
    return EXIT_OK


def _check_resumable(db, analysis_id: int) -> None:
    """An unknown analysis, or one that finished or is running, is bad input (exit 2), refused before any work."""
    from dfdesk.services.recovery import RESUMABLE
    from dfdesk.store.tables import Analysis

    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        status = None if analysis is None else analysis.status
    if status is None:
        raise CliError(f"no analysis with id {analysis_id}")
    if status not in RESUMABLE:
        raise CliError(f"analysis {analysis_id} is {status}; only {', '.join(RESUMABLE)} analyses can be resumed")


def analyze(args: argparse.Namespace) -> int:
    from dfdesk.core.probe import VideoError
    from dfdesk.services.analysis import AnalysisRequest, run_analysis
    from dfdesk.services.analysis_json import analysis_document
    from dfdesk.services.identity import current_analyst
    from dfdesk.services.ingest import ingest_video
    from dfdesk.services.recovery import mark_interrupted
    from dfdesk.services.results import load_analysis

    request = AnalysisRequest(models=tuple(args.models.split(",")) if args.models else None, frames=args.frames,
                              sampling=args.sampling, seed=args.seed, device=args.device, fusion=args.fusion,
                              frame_aggregation=args.aggregation, stream=args.stream)
    _check_before_work(request, args)
    _check_stream(args)
    db = open_database(args.db)
    mark_interrupted(db)
    actor = current_analyst()
    try:
        intake = ingest_video(db, selected_case_name(db, args), args.video, actor)
    except VideoError as exc:  # also EvidenceChanged and CaseClosed
        raise CliError(str(exc)) from None
    analysis_id = _drive(run_analysis(db, intake.evidence_id, request, actor))
    with db.unit_of_work() as session:
        document = analysis_document(load_analysis(session, analysis_id))
    if args.json:
        _write_json(args.json, document)
    _print_summary(document)
    if args.report:
        return _export_report(db, analysis_id, args.report, actor)
    return EXIT_OK


def _check_before_work(request, args: argparse.Namespace) -> None:
    """Bad models, fusion, device or output paths end here, with one line and exit 2, before any row is
    written or any frame decoded."""
    from dfdesk.services.analysis import AnalysisError, check_request

    try:
        check_request(request)
    except AnalysisError as exc:
        raise CliError(str(exc)) from None
    _check_outputs(args.json, args.report)
    if args.report is not None and args.report.exists():
        raise CliError(f"--report {args.report} already exists; choose another name (dfdesk report --force "
                       "replaces a report)")


def _check_stream(args: argparse.Namespace) -> None:
    """--stream must name a video stream of the file (exit 2); a file with several video streams is warned about."""
    from dfdesk.services.analysis import AnalysisError, check_stream

    try:
        warning = check_stream(args.video, args.stream)
    except AnalysisError as exc:
        raise CliError(str(exc)) from None
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


def _check_outputs(json_path: Path | None, report_path: Path | None) -> None:
    """The output files once more just before the work (they were checked at parse time; a folder may have gone)."""
    for option, path in (("--json", json_path), ("--report", report_path)):
        if path is not None:
            try:
                arguments.output_file(str(path))
            except argparse.ArgumentTypeError as exc:
                raise CliError(f"{option}: {exc}") from None


def _export_report(db, analysis_id: int, out: Path, actor: str) -> int:
    from dfdesk.services.report import ReportError, export_report

    try:
        result = export_report(db, analysis_id, out, actor)
    except ReportError as exc:
        raise CliError(f"analysis {analysis_id} saved, but the report was not written: {exc}") from None
    print(f"report: {result.path} (sha256 {result.sha256})")
    if not result.evidence_hash_ok:
        raise CliError("the evidence file no longer matches its intake SHA-256 (see the report)", EXIT_FAILURE)
    return EXIT_OK


def _drive(steps) -> int:
    from dfdesk.core.types import Progress
    from dfdesk.services.analysis import AnalysisCancelled, AnalysisError

    with progress_bar(0, "analysing") as bar:
        try:
            while True:
                event = next(steps)
                if isinstance(event, Progress):
                    bar.set_description_str(f"{event.stage}: {event.done}/{event.total}")
        except StopIteration as done:
            return done.value
        except AnalysisCancelled:
            raise CliError("the analysis was cancelled", EXIT_FAILURE) from None
        except AnalysisError as exc:
            raise CliError(str(exc), EXIT_FAILURE) from None


def _write_json(path: Path, document: dict) -> None:
    """Written to a temporary file beside the target, then renamed: never a half-written file.  A failure (disk
    full, the folder gone) removes the temporary file and ends the command with exit 1: the analysis is saved."""
    path = path.absolute()
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, ensure_ascii=False)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise CliError(f"analysis {document['analysis_id']} saved, but the JSON {path} was not written: "
                       f"{exc.strerror or exc}", EXIT_FAILURE) from None


def _print_summary(document: dict) -> None:
    """The verdict in the product's words (never "real": the JSON's ``verdict`` value is for scripts), the fusion
    rule applied, each model's score and the analysis's warnings."""
    from dfdesk.core.likelihood import record_carries_evidence, same_for_every_video
    from dfdesk.services.verdicts import fusion_rule_text, headline

    p = document["fake_probability"]
    band = document["uncertainty_band"]
    probability = f"P(fake) {p:.3f}" + (f" [{band[0]:.3f}, {band[1]:.3f}]" if band else "") if p is not None else ""
    if p is not None and not record_carries_evidence(document["evidence"]):
        probability = same_for_every_video(f"P(fake) {p:.3f}")
    print(f"analysis {document['analysis_id']}: {headline(document['verdict'])} {probability}".rstrip())
    validation_videos = (document["evidence"] or {}).get("validation_videos", 0)
    print(f"  fusion: {fusion_rule_text(document['settings'].get('fusion'), document['fusion'], validation_videos)}")
    for detector in document["detectors"]:
        score = detector["fake_probability"]
        shown = f"{score:.3f}" if score is not None else ": ".join(filter(None, (detector["status"], detector["note"])))
        print(f"  {detector['name']:<28} {shown}")
    for warning in document["warnings"]:
        print(f"  warning: {warning}")
