"""The JSON document of an analysis, as the command-line contract in DESIGN.md defines it."""
from __future__ import annotations

from dataclasses import asdict

from dfdesk import __version__
from dfdesk.core.likelihood import EvidenceStrength
from dfdesk.services.results import AnalysisView
from dfdesk.services.verdicts import headline


def analysis_document(view: AnalysisView) -> dict:
    evidence, video, verdict = view.evidence, view.evidence.video, view.verdict
    return {
        "dfdesk_version": __version__,
        "analysis_id": view.id,
        "status": view.status,
        "case": {"id": evidence.case_id, "name": evidence.case_name},
        "video": {"path": evidence.path, "sha256": evidence.sha256, "width": video.width, "height": video.height,
                  "fps": video.fps, "frames": video.frame_count, "duration_s": video.duration_s,
                  "rotation": video.rotation, "vfr": video.is_vfr, "size_bytes": video.size_bytes,
                  "container": video.container, "codec": video.codec, "pixel_format": video.pixel_format,
                  "bit_depth": video.bit_depth, "audio": video.has_audio},
        "verdict": verdict.label if verdict else None,  # for scripts: "real" means no manipulation detected
        "verdict_text": headline(verdict.label if verdict else None),
        "fake_probability": verdict.fake_probability if verdict else None,
        "uncertainty_band": list(verdict.band) if verdict and verdict.band else None,
        "thresholds": {"fake": verdict.fake_threshold, "real": verdict.real_threshold} if verdict else None,
        "agreement": verdict.agreement if verdict else None,
        "explanation": verdict.explanation if verdict else None,
        "fusion": verdict.fusion if verdict else None,
        **evidence_fields(verdict.evidence if verdict else None),
        "coverage": verdict.coverage.to_dict() if verdict and verdict.coverage else None,
        "seed": view.seed,
        "settings": view.settings,
        "detectors": [_detector(run, view) for run in view.detectors],
        "faces": {"tracks": len(view.tracks), "frames_with_face": view.frames_with_face,
                  "frames_sampled": view.frames_sampled,
                  "track_list": [{"track": t.track_index, "main": t.is_main, "frames": len(t.frame_indices),
                                  "fake_probability": t.fake_probability} for t in view.tracks]},
        "heatmaps": [asdict(h) for h in view.heatmaps],
        "warnings": list(view.warnings),
        "timings_s": view.timings_s,
    }


def evidence_fields(evidence: EvidenceStrength | None) -> dict:
    """The likelihood ratio, bounded by the validation data, and its ENFSI verbal equivalent (None without a fitted
    ensemble)."""
    if evidence is None:
        return {"likelihood_ratio": None, "log10_lr": None, "lr_bounds": None, "verbal": None, "evidence": None}
    return {"likelihood_ratio": evidence.likelihood_ratio, "log10_lr": round(evidence.log10_lr, 4),
            "lr_bounds": list(evidence.lr_bounds), "verbal": evidence.verbal,
            "evidence": {"favours": evidence.favours, "at_bound": evidence.at_bound,
                         "validation_videos": evidence.validation_videos,
                         "validation_fakes": evidence.validation_fakes, "members": list(evidence.members),
                         "in_validation": evidence.in_validation, "summary": evidence.summary()}}


def _detector(run, view: AnalysisView) -> dict:
    return {"name": run.name, "version": run.version, "architecture": run.architecture,
            "weights_sha256": run.weights_sha256, "status": run.status, "note": run.note,
            "threshold": run.threshold, "fake_probability": run.fake_probability,
            "track_probabilities": {str(k): v for k, v in run.track_probabilities.items()},
            "frames": [{"index": p.frame_index, "time_s": round(p.time_s, 4), "track": p.track_index,
                        "fake_probability": p.fake_probability, "attention": p.attention}
                       for p in view.points.get(run.name, ())]}
