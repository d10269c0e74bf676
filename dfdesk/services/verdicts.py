"""From detector runs to the fused timeline, per-track scores and the verdict (an AnalysisOutcome)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from dfdesk import paths
from dfdesk.core.coverage import NO_MANIPULATION_DETECTED
from dfdesk.core.fusion import (
    FUSION_RULES,
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
from dfdesk.core.likelihood import (
    DECISION_LOG10_LR,
    EvidenceStrength,
    LrModel,
    decide_from_lr,
    even_odds_probability,
    evidence_strength,
    format_lr,
    log10_lr_of,
    no_member_words,
)
from dfdesk.core.outcome import (
    DETECTOR_FAILED,
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

AUTO = "auto"
FUSION_CHOICES = (AUTO, *FUSION_RULES)  # the choices of every front end (dfdesk analyze --fusion imports them)
VALIDATED_RULE = "stacking"  # the only rule fitted and validated on labelled videos
NO_VALIDATED_FUSION = "no validated fusion is installed for these models"
RULE_WORDS = {  # what each rule does, in the words the CLI and the report print beside the rule applied
    AUTO: "the ensemble fitted on labelled validation videos when one is installed for exactly the models that "
          "produced scores, else the plain mean, which cannot decide the verdict",
    "mean": "the plain mean of the calibrated P(fake) of the models that produced a score",
    "weighted": "the mean of the models' calibrated P(fake) weighted by their validation AUC above chance "
                "(AUC - 0.5)",
    VALIDATED_RULE: "the ensemble fitted on labelled validation videos by dfdesk train --stacking",
}
HEADLINES = {"fake": "likely manipulated", "real": NO_MANIPULATION_DETECTED, "inconclusive": "inconclusive",
             "no_face": "no face found"}
SHORT_HEADLINES = {**HEADLINES, "real": "no manipulation detected"}  # for a table column


def headline(label: str | None) -> str:
    """The words every screen, report and summary line shows for a categorical verdict: "real" is a value for
    scripts, never shown; it reads "no manipulation detected by these models"."""
    return HEADLINES.get(label or "", "no verdict")


def short_headline(label: str | None) -> str:
    """The headline in a few words for a narrow column ("no manipulation detected"); never "real"."""
    return SHORT_HEADLINES.get(label or "", "no verdict")


def fell_back(requested: str | None, applied: str | None) -> bool:
    """Did the analysis ask for the validated ensemble (``auto`` or ``stacking``) but get the plain mean?  Its
    score is then shown, but it never decides "fake" or "no manipulation detected": the verdict is inconclusive."""
    return requested in (AUTO, VALIDATED_RULE) and applied == "mean"


def fusion_rule_text(requested: str | None, applied: str | None, validation_videos: int = 0) -> str:
    """The fusion rule of an analysis in words: the one applied (saved verdict), the one asked for (saved settings)
    when it differs and, after a fall-back, why the verdict is inconclusive.  ``Fuser`` and ``build_outcome``
    apply these rules; ``validation_videos``: the size of the fitted ensemble's validation set, when known."""
    words = RULE_WORDS.get(applied or "", "")
    if applied == VALIDATED_RULE and validation_videos:
        words = f"the ensemble fitted on {validation_videos} labelled validation videos"
    asked = f" (requested: {requested})" if requested and applied and requested != applied else ""
    text = f"{applied or requested or 'not recorded'}{asked}" + (f", {words}" if words else "")
    if fell_back(requested, applied):
        text += (f", because {NO_VALIDATED_FUSION}; an uncalibrated mean cannot decide the verdict, which is "
                 "therefore inconclusive")
    return text


ENSEMBLE_STEPS = ("each model's calibrated P(fake) (its card's calibration) taken as a logit, the models that add "
                  "ranking power weighted by the logistic regression fitted on the validation videos (members with "
                  "weight: {members}), and the fused logit turned into a likelihood ratio by a calibration fitted out "
                  "of sample and bounded by ELUB (Vergeer et al. 2016); P(fake) is that LR read at even prior odds")


def ensemble_text(members: tuple[str, ...]) -> str:
    """How the fitted ensemble (``Stacking.probability`` and ``Fuser.evidence``) turns scores into the LR."""
    return ENSEMBLE_STEPS.format(members=", ".join(members) or "none: no model ranked them better than chance")


def decision_text(with_lr: bool, rule: VerdictRule | None = None) -> str:
    """The verdict rule in words, with the numbers the deciding code applies: ``decide_from_lr``'s
    ``DECISION_LOG10_LR`` when the analysis has a likelihood ratio, else ``decide`` with ``rule`` (the thresholds
    saved with the verdict, which ``verdict_rule`` gave; its defaults when not given)."""
    if with_lr:
        needed = format_lr(10 ** DECISION_LOG10_LR)
        return (f"manipulation detected when the LR is at least {needed}; no manipulation detected by these models "
                f"when it is at most 1/{needed}; both with the whole uncertainty band on that side of LR 1; "
                "inconclusive otherwise")
    rule = rule or VerdictRule()
    return (f"manipulation detected when P(fake) is at or above {rule.fake_threshold:.2f} and the whole uncertainty "
            f"band at or above {rule.decision:.2f}; no manipulation detected by these models when P(fake) is at or "
            f"below {rule.real_threshold:.2f} and the whole band at or below {rule.decision:.2f}; inconclusive "
            "otherwise")


def stacking_files() -> list[Path]:
    """Where a fitted ensemble is looked for: the user's models folder (``dfdesk train --stacking`` writes there),
    then the one shipped with dfdesk."""
    return [paths.user_models_dir() / STACKING_FILE, paths.bundled_models_dir() / STACKING_FILE]


def load_stacking() -> Stacking | None:
    """The fitted ensemble (None when there is none); FusionError when the file found is unreadable or bad."""
    path = next((p for p in stacking_files() if p.is_file()), None)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FusionError(f"{path} cannot be read ({exc})") from None
    return Stacking.from_dict(data)


class Fuser:
    """The fusion rule of one analysis, applied to any subset of detectors.

    ``auto`` uses the fitted ensemble when there is one for exactly these models (same weights) and falls back to
    the plain mean otherwise, saying why in ``reason`` and ``note``; ``lenient`` treats ``stacking`` the same way
    (after the detectors ran: a member that failed must not fail the analysis), else a stacking fit that does not
    fit these models raises FusionError (before any work).
    """

    def __init__(self, rule: str, cards: dict, *, lenient: bool = False):
        if rule not in FUSION_CHOICES:
            raise FusionError(f"unknown fusion rule {rule!r}; choose {', '.join(FUSION_CHOICES)}")
        self.requested, self.reason, self.note = rule, "", ""
        self.weights = {name: validation_weight(card.metrics) for name, card in cards.items()}
        hashes = {name: card.weights_sha256 for name, card in cards.items()}
        if rule == AUTO or (rule == VALIDATED_RULE and lenient):
            self.rule, self.stacking = self._auto(hashes)
        else:
            self.rule, self.stacking = rule, self._fitted(rule, hashes)

    @staticmethod
    def _fitted(rule: str, hashes: dict[str, str]) -> Stacking | None:
        if rule != VALIDATED_RULE:
            return None
        stacking = load_stacking()
        if stacking is None:
            raise FusionError("no fitted ensemble is installed: an administrator fits one with dfdesk train "
                              "--stacking")
        stacking.check_models(hashes)  # weights fitted on other models (or other weights) are refused
        return stacking

    def _auto(self, hashes: dict[str, str]) -> tuple[str, Stacking | None]:
        try:
            stacking = self._fitted(VALIDATED_RULE, hashes)
        except FusionError as exc:
            self.reason = str(exc)
            self.note = (f"{NO_VALIDATED_FUSION} ({exc}): the plain mean of their calibrated P(fake) is shown, "
                         "without a likelihood ratio, and the verdict is inconclusive")
            return "mean", None
        return VALIDATED_RULE, stacking

    @property
    def fell_back(self) -> bool:
        return fell_back(self.requested, self.rule)

    @property
    def likelihood(self) -> LrModel | None:
        return self.stacking.likelihood if self.stacking is not None else None

    def __call__(self, probabilities: dict[str, float]) -> float | None:
        """The fused P(fake); None when a member of the fitted ensemble did not score (a frame only some saw)."""
        if self.stacking is not None and not set(self.stacking.members) <= set(probabilities):
            return None
        return fuse(probabilities, self.rule, weights=self.weights, stacking=self.stacking)

    def evidence(self, probabilities: dict[str, float], sha256: str = "") -> EvidenceStrength | None:
        """The bounded likelihood ratio of the video's scores (None without a fitted LR calibration)."""
        if self.likelihood is None:
            return None
        s = self.stacking
        return evidence_strength(s.likelihood, s.fused_logit(probabilities), validation_videos=s.validation_videos,
                                 validation_fakes=s.validation_fakes, members=s.members,
                                 in_validation=bool(sha256) and sha256 in s.validation_sha256)


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
                  timings, request, sha256: str = "") -> AnalysisOutcome:
    """``sha256``: the evidence's hash, to say when the video is one the fitted ensemble was validated on."""
    used = [r for r in runs if r.status == DETECTOR_USED]
    cards = {name: card for name, (card, _clips, _model) in scores.items()}
    fuser = Fuser(request.fusion, {r.name: cards[r.name] for r in used}, lenient=True)  # only models that scored
    probabilities = {r.name: r.fake_probability for r in used}
    p = fuser(probabilities) if used else None
    if p is None:
        absent = ", ".join(sorted(set(fuser.stacking.members) - set(probabilities))) if used else ""
        why = (f"a member of the fitted ensemble ({absent}) produced no score" if used else
               "no detector could score the faces of this video")
        verdict = Verdict("inconclusive", None, None, VerdictRule().fake_threshold, VerdictRule().real_threshold,
                          agreement(probabilities, {r.name: r.threshold for r in used}), why, fuser.rule,
                          coverage=_coverage(fuser))
        return _outcome(extraction, runs, verdict, (), heatmaps, timings, fuser, request)
    main = extraction.main_track.track_id
    units = {r.name: units_of(scores[r.name][1], main) for r in used}
    band = _band(units, {r.name: r.frame_level for r in used}, fuser, request)
    evidence = fuser.evidence(probabilities, sha256)
    rule = verdict_rule(evidence)
    label, explanation = _decide(p, band, rule, evidence)
    if fuser.fell_back:
        label, explanation = "inconclusive", _unvalidated(p, band, fuser.reason)
    problem = evidence_problem(len(extraction.frames), frames_wanted, units)
    if problem:
        label, explanation = "inconclusive", f"{problem}; {explanation}"
    verdict = Verdict(label, p, band, rule.fake_threshold, rule.real_threshold,
                      agreement(probabilities, {r.name: r.threshold for r in used}), explanation, fuser.rule,
                      evidence, _coverage(fuser))
    return _outcome(extraction, runs, verdict, _fused_points(used, fuser), heatmaps, timings, fuser, request)


def _band(units: dict[str, list[float]], frame_level: dict[str, bool], fuser: Fuser, request) -> tuple[float, float]:
    """90% bootstrap band of the fused P(fake) over each detector's scored frames (or clips)."""
    def reduce(name, values):
        return aggregate_frames(values, request.frame_aggregation) if frame_level[name] else float(values.mean())

    return bootstrap_band(units, fuser, reduce=reduce, seed=request.seed)


def _unvalidated(p: float, band: tuple[float, float], reason: str) -> str:
    """Why a fall-back to the plain mean gives no fake / no-manipulation verdict, whatever the score."""
    return (f"{NO_VALIDATED_FUSION} ({reason}), so the plain mean of their calibrated P(fake), {p:.2f} "
            f"(band [{band[0]:.2f}, {band[1]:.2f}]), is shown but cannot decide whether the video was manipulated")


def verdict_rule(evidence: EvidenceStrength | None) -> VerdictRule:
    """The thresholds ``build_outcome`` decides with: with a likelihood ratio, the P(fake) thresholds are the
    decision LRs read at even prior odds; without one, :class:`VerdictRule`'s defaults."""
    if evidence is None:
        return VerdictRule()
    fake = even_odds_probability(DECISION_LOG10_LR)
    return VerdictRule(0.5, fake, 1.0 - fake)


def _decide(p: float, band: tuple[float, float], rule: VerdictRule, evidence: EvidenceStrength | None):
    if evidence is None:
        return decide(p, band, rule)
    if not evidence.carries_evidence:
        return "inconclusive", no_member_words(evidence.validation_videos)
    return decide_from_lr(evidence.log10_lr, (log10_lr_of(band[0]), log10_lr_of(band[1])))


def _coverage(fuser: Fuser):
    return fuser.stacking.coverage if fuser.stacking is not None else None


def _fused_points(used: list[DetectorRun], fuser: Fuser) -> tuple[FramePoint, ...]:
    by_frame: dict[tuple[int, int], dict[str, FramePoint]] = defaultdict(dict)
    for run in used:
        for point in run.points:
            by_frame[(point.track_index, point.frame_index)][run.name] = point
    fused = []
    for (track, frame), points in sorted(by_frame.items()):
        value = fuser({n: pt.fake_probability for n, pt in points.items()})
        if value is not None:  # a frame that a member of the fitted ensemble did not score has no fused value
            fused.append(FramePoint("fused", track, frame, next(iter(points.values())).time_s, value))
    return tuple(fused)


def _outcome(extraction, runs, verdict, fused_points, heatmaps, timings, fuser, request) -> AnalysisOutcome:
    used = [r for r in runs if r.status == DETECTOR_USED]
    tracks = tuple(_track(t, used, fuser) for t in extraction.tracks)
    warnings = (list(extraction.warnings) + _failure_warnings(runs) + _other_track_warnings(tracks, verdict)
                + _fusion_warnings(fuser, verdict))
    return AnalysisOutcome(verdict, tuple(runs), tracks, fused_points, tuple(heatmaps), len(extraction.frames),
                           sum(1 for f in extraction.frames if f.faces), dict(timings), tuple(warnings))


def _track(track, used: list[DetectorRun], fuser: Fuser) -> TrackOutcome:
    probabilities = {r.name: r.track_probabilities[track.track_id] for r in used
                     if track.track_id in r.track_probabilities}
    return TrackOutcome(track.track_id, track.is_main, tuple(track.frame_indices),
                        {f: tuple(round(v, 2) for v in d.box) for f, d in zip(track.frame_indices, track.detections)},
                        fuser(probabilities) if probabilities else None)


def _failure_warnings(runs: list[DetectorRun]) -> list[str]:
    return [f"{r.name} failed and was left out of the fusion and the verdict: {r.note}" for r in runs
            if r.status == DETECTOR_FAILED]


def _fusion_warnings(fuser: Fuser, verdict: Verdict) -> list[str]:
    notes = [fuser.note] if fuser.note else []
    if verdict.evidence is not None and verdict.evidence.in_validation:
        notes.append("this video is one of the validation videos the ensemble was fitted on: its likelihood ratio "
                      "is not out of sample")
    return notes


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
