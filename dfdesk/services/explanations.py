"""Heat maps of the most suspicious frames: native attention where the detector has it, Grad-CAM otherwise.

Each is saved as a PNG (the heat map over the face crop) in the folder the caller names (an analysis's own,
see ``artifact_folders``) and referenced from the database.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from dfdesk.core.explain import gradcam, last_conv, normalise_maps, overlay
from dfdesk.core.outcome import DETECTOR_USED, DetectorRun, Heatmap
from dfdesk.core.pipeline import FaceExtraction
from dfdesk.detectors.base import crops_to_tensor
from dfdesk.detectors.cards import fake_logit
from dfdesk.detectors.scoring import ClipScore


def render_heatmaps(folder: Path, runs: list[DetectorRun], scores: dict, extraction: FaceExtraction,
                    specs: dict, device: str, per_detector: int) -> list[Heatmap]:
    """Render the most suspicious frames' heat maps of every used detector into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    main = extraction.main_track.track_id
    heatmaps: list[Heatmap] = []
    for run in runs:
        if run.status != DETECTOR_USED:
            continue
        card, clip_scores, model = scores[run.name]
        crops = dict(extraction.track_crops(specs[run.name], main))
        for point in _most_suspicious(run, main, per_detector):
            clip = _clip_of(clip_scores, main, point.frame_index)
            heat, kind = _heat(card, model, clip, point.frame_index, crops, device)
            if heat is not None:
                heatmaps.append(_save(folder, run.name, main, point.frame_index, point.fake_probability,
                                      overlay(crops[point.frame_index], heat), kind))
    return heatmaps


def _most_suspicious(run: DetectorRun, track: int, count: int):
    points = [p for p in run.points if p.track_index == track]
    return sorted(points, key=lambda p: (-p.fake_probability, p.frame_index))[:count]


def _clip_of(clip_scores: list[ClipScore], track: int, frame: int) -> ClipScore:
    return next(s for s in clip_scores if s.track_id == track and frame in s.frames)


def _heat(card, model, clip: ClipScore, frame: int, crops: dict, device: str):
    position = clip.frames.index(frame)
    if clip.spatial_maps is not None:
        return normalise_maps(clip.spatial_maps[position : position + 1])[0], "attention"
    layer = last_conv(model)
    if layer is None:
        return None, ""
    frames = (frame,) if clip.frame_probabilities is not None else clip.frames
    tensor = crops_to_tensor([crops[f] for f in frames], card.input)[None].to(device)
    maps = gradcam(model, tensor, lambda out: fake_logit(card, out.clip_logits), layer)
    return maps[0 if len(frames) == 1 else position], "gradcam"


def _save(folder: Path, name: str, track: int, frame: int, probability: float, image: np.ndarray,
          kind: str) -> Heatmap:
    path = folder / f"{name}_t{track}_f{frame:06d}.png"
    Image.fromarray(image).save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Heatmap(name, track, frame, probability, str(path), digest, kind)
