"""From detector runs to the fused timeline, per-track scores and the verdict (an AnalysisOutcome)."""
from __future__ import annotations

import json
from collections import defaultdict

from dfdesk import paths
from dfdesk.core.fusion import (
    STACKING_FILE,
    FusionError,
    Stacking,
    VerdictRule,
    aggregate_frames,
    agreement,
    bootstrap_band,
    decide,
    fuse,
    validation_weight,
)
from dfdesk.core.outcome import (
    DETECTOR_NO_INPUT,
    DETECTOR_USED,
    AnalysisOutcome,
    DetectorRun,
    FramePoint,
    TrackOutcome,
    Verdict,
)
from dfdesk.core.pipeline import FaceExtraction
from dfdesk.detectors.scoring import units_of


def load_stacking() -> Stacking | None:
    """The stacking fitted by ``dfdesk train --stacking`` (None when there is none); FusionError when unreadable."""
    path = paths.user_models_dir() / STACKING_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FusionError(f"{path} cannot be read ({exc})") from None
    return Stacking.from_dict(data)


class Fuser:
    """The fusion rule of one analysis, applied to any subset of detectors."""

    def __init__(self, rule: str, cards: dict):
        self.rule = rule
        self.weights = {name: validation_weight(card.metrics) for name, card in cards.items()}
        self.stacking = load_stacking() if rule == "stacking" else None
        if rule == "stacking" and self.stacking is None:
            raise FusionError("stacking fusion needs weights fitted by the trainer (none installed)")
        if self.stacking is not None:  # weights fitted on other models (or other weights) are refused
            self.stacking.check_models({name: card.weights_sha256 for name, card in cards.items()})

    def __call__(self, probabilities: dict[str, float]) -> float:
        rule = self.rule
        if rule == "stacking" and not set(probabilities) <= set(self.stacking.weights):
            rule = "mean"  # a frame seen by only some detectors
        return fuse(probabilities, rule, weights=self.weights, stacking=self.stacking)


MIN_SCORED_UNITS = 3  # fewer scored frames (or clips) per detector than this cannot carry a verdict
MIN_DECODED_SHARE = 0.5  # nor can a file of which fewer than half the sampled frames could be decoded


def evidence_problem(decoded: int, wanted: int, units: dict[str, list[float]]) -> str | None:
    """Why the scores, whatever they are, are too thin for a fake/real verdict (None when they are not)."""
    if wanted and decoded < MIN_DECODED_SHARE * wanted:
        return f"the file is damaged: only {decoded} of the {wanted} sampled frames could be decoded"
    if max((len(u) for u in units.values()), default=0) < MIN_SCORED_UNITS:
        return f"fewer than {MIN_SCORED_UNITS} frames with the main face could be scored"
    return None


def build_outcome(extraction: FaceExtraction, runs: list[DetectorRun], scores: dict, heatmaps, frames_wanted: int,
                  timings, request) -> AnalysisOutcome:
    used = [r for r in runs if r.status == DETECTOR_USED]
    cards = {name: card for name, (card, _clips, _model) in scores.items()}
    fuser = Fuser(request.fusion, {r.name: cards[r.name] for r in used})
    main = extraction.main_track.track_id
    if not used:
        verdict = Verdict("inconclusive", None, None, VerdictRule().fake_threshold, VerdictRule().real_threshold,
                          "no detector produced a score", "no detector could score the faces of this video",
                          request.fusion)
        return _outcome(extraction, runs, verdict, (), heatmaps, timings, fuser, request)
    probabilities = {r.name: r.fake_probability for r in used}
    p = fuser(probabilities)
    units = {r.name: units_of(scores[r.name][1], main) for r in used}
    frame_level = {r.name: r.frame_level for r in used}

    def reduce(name, values):
        return aggregate_frames(values, request.frame_aggregation) if frame_level[name] else float(values.mean())

    band = bootstrap_band(units, fuser, reduce=reduce, seed=request.seed)
    rule = VerdictRule()
    label, explanation = decide(p, band, rule)
    problem = evidence_problem(len(extraction.frames), frames_wanted, units)
    if problem:
        label, explanation = "inconclusive", f"{problem}; {explanation}"
    verdict = Verdict(label, p, band, rule.fake_threshold, rule.real_threshold,
                      agreement(probabilities, {r.name: r.threshold for r in used}), explanation, request.fusion)
    return _outcome(extraction, runs, verdict, _fused_points(used, fuser), heatmaps, timings, fuser, request)


def _fused_points(used: list[DetectorRun], fuser: Fuser) -> tuple[FramePoint, ...]:
    by_frame: dict[tuple[int, int], dict[str, FramePoint]] = defaultdict(dict)
    for run in used:
        for point in run.points:
            by_frame[(point.track_index, point.frame_index)][run.name] = point
    fused = []
    for (track, frame), points in sorted(by_frame.items()):
        time_s = next(iter(points.values())).time_s
        fused.append(FramePoint("fused", track, frame, time_s,
                                fuser({n: pt.fake_probability for n, pt in points.items()})))
    return tuple(fused)


def _outcome(extraction, runs, verdict, fused_points, heatmaps, timings, fuser, request) -> AnalysisOutcome:
    used = [r for r in runs if r.status == DETECTOR_USED]
    tracks = tuple(_track(t, used, fuser) for t in extraction.tracks)
    warnings = list(extraction.warnings) + _other_track_warnings(tracks, verdict)
    return AnalysisOutcome(verdict, tuple(runs), tracks, fused_points, tuple(heatmaps), len(extraction.frames),
                           sum(1 for f in extraction.frames if f.faces), dict(timings), tuple(warnings))


def _track(track, used: list[DetectorRun], fuser: Fuser) -> TrackOutcome:
    probabilities = {r.name: r.track_probabilities[track.track_id] for r in used
                     if track.track_id in r.track_probabilities}
    return TrackOutcome(track.track_id, track.is_main, tuple(track.frame_indices),
                        {f: tuple(round(v, 2) for v in d.box) for f, d in zip(track.frame_indices, track.detections)},
                        fuser(probabilities) if probabilities else None)


def _other_track_warnings(tracks, verdict: Verdict) -> list[str]:
    return [f"face track {t.track_index} (not the main face) scores P(fake) {t.fake_probability:.2f}"
            for t in tracks if not t.is_main and t.fake_probability is not None
            and t.fake_probability >= verdict.fake_threshold]


def no_face_outcome(extraction: FaceExtraction, excluded: list[DetectorRun], plans, frames_wanted: int, timings,
                    request, have_models: bool) -> AnalysisOutcome:
    rule = VerdictRule()
    if not have_models:
        verdict = Verdict("inconclusive", None, None, rule.fake_threshold, rule.real_threshold,
                          "no detector produced a score",
                          "no installed detector has trained weights, so no verdict can be given", request.fusion)
    elif (problem := evidence_problem(len(extraction.frames), frames_wanted, {})) and "damaged" in problem:
        verdict = Verdict("inconclusive", None, None, rule.fake_threshold, rule.real_threshold,
                          "no detector was run", f"{problem}, and none of them shows a face", request.fusion)
    else:
        verdict = Verdict("no_face", None, None, rule.fake_threshold, rule.real_threshold,
                          "no detector was run", f"no face was found in the {len(extraction.frames)} sampled frames",
                          request.fusion)
    runs = [DetectorRun(name, "", "", "", DETECTOR_NO_INPUT, "no face found") for name in plans] + excluded
    return AnalysisOutcome(verdict, tuple(runs), (), (), (), len(extraction.frames),
                           sum(1 for f in extraction.frames if f.faces), dict(timings), tuple(extraction.warnings))
