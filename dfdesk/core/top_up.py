"""Which frames to detect near sampled frames that lack the main face, and which of them to keep.

A face is missing from a sampled frame for a moment more often than for good: a blink of motion blur, a turn of
the head, a flash.  Rather than score fewer frames, the face pipeline detects faces on up to two frames near each
such frame (sampling.nearby_frames: one after, one before) and keeps the first that shows the main face, with that
face only, so each track still has at most one face per sampled frame and the analysis scores as many frames as
its plan asked for.  Only sampled frames inside the main track's shot are topped up: a frame after a cut to other
people is not the main face's absence.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from dfdesk.core.sampling import nearby_frames
from dfdesk.core.types import FaceDetection, FaceTrack, FrameFaces


@dataclass(frozen=True)
class AddedFace:
    """The main face found on ``frame``, tried instead of sampled frame ``instead_of``; ``number`` is its position
    among the faces detected on ``frame``."""

    instead_of: int
    frame: int
    number: int
    face: FaceDetection


def frames_to_try(indices: Sequence[int], frame_count: int, detected: Sequence[FrameFaces],
                  tracks: Sequence[FaceTrack], shot_starts: Collection[int]) -> dict[int, tuple[int, ...]]:
    """Sampled frame -> frames to detect near it, for each decoded sampled frame of the main track's shot that lacks
    the main face; empty when there is no main track."""
    main = next((t for t in tracks if t.is_main), None)
    if main is None:
        return {}
    start, end = shot_span(main.frame_indices[0], shot_starts)
    present = set(main.frame_indices)
    decoded = {f.index for f in detected}
    wanted = [i for i in indices if i in decoded and i not in present and start <= i < end]
    return nearby_frames(indices, frame_count, wanted)


def shot_span(frame: int, shot_starts: Collection[int]) -> tuple[int, float]:
    """[first frame, end) of the shot that holds ``frame``."""
    start = max((s for s in shot_starts if s <= frame), default=0)
    end = min((s for s in shot_starts if s > frame), default=float("inf"))
    return start, end


def choose_added(tries: Mapping[int, Sequence[int]], detected: Sequence[FrameFaces],
                 tracks: Sequence[FaceTrack]) -> list[AddedFace]:
    """For each sampled frame, the first of its tried frames on which the main track has a face."""
    main = next((t for t in tracks if t.is_main), None)
    if main is None:
        return []
    main_faces = dict(zip(main.frame_indices, main.detections))
    frames = {f.index: f for f in detected}
    added = []
    for sampled, tried in sorted(tries.items()):
        frame = next((c for c in tried if c in main_faces and c in frames), None)
        if frame is not None:
            face = main_faces[frame]
            number = next(n for n, d in enumerate(frames[frame].faces) if d is face)
            added.append(AddedFace(sampled, frame, number, face))
    return added
