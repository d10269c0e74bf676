"""How many sampled frames show a face, per track, and why the main face is missing where it is.

A frame added near a sampled frame that lacked the main face (sampling.nearby_frames) stands for that sampled frame:
it is always nearer to it than to any other sampled frame, so its sampled frame is the nearest one.  These
counts are what the report and the GUI show per track, so an analysis never rests on few frames silently.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dfdesk.core.types import FaceTrack, FrameFaces

NOT_DECODED = "could not be decoded"
NO_FACE = "showed no face MTCNN could find"
WEAK_ONLY = "showed only low-score detections that continue no face track"
OTHERS_ONLY = "showed only other faces"


@dataclass(frozen=True)
class TrackPresence:
    """Of ``sampled`` frames, ``with_face`` show the track's face, ``added`` of them through a frame added nearby."""

    sampled: int
    with_face: int
    added: int = 0

    @property
    def share(self) -> float:
        return self.with_face / self.sampled if self.sampled else 0.0

    def words(self) -> str:
        """E.g. '13 of 16 sampled frames (81 %; 2 through a frame nearby)'."""
        nearby = f"; {self.added} through a frame nearby" if self.added else ""
        return f"{self.with_face} of {self.sampled} sampled frames ({round(100 * self.share)} %{nearby})"


@dataclass(frozen=True)
class FacePresence:
    """The main face over the sampled frames, and why it is missing from the others (reason, frames)."""

    main: TrackPresence
    missing: tuple[tuple[str, int], ...] = ()

    def sentence(self) -> str | None:
        """One line for the analysis's warnings; None when the main face is on every sampled frame itself."""
        if self.main.with_face == self.main.sampled and not self.main.added:
            return None
        why = "; ".join(f"{count} {reason}" for reason, count in self.missing)
        return f"the main face was found in {self.main.words()}" + (f"; {why}" if why else "")


def sampled_frame_of(sampled: Sequence[int], frame: int) -> int:
    """The sampled frame that ``frame`` stands for: itself, or the nearest sampled frame (the earlier on a tie)."""
    position = bisect_left(sampled, frame)
    if position < len(sampled) and sampled[position] == frame:
        return frame
    neighbours = sampled[max(0, position - 1) : position + 1]
    return min(neighbours, key=lambda s: (abs(s - frame), s))


def track_presence(sampled: Sequence[int], frames: Iterable[int]) -> TrackPresence:
    """How many of the ``sampled`` frames a track with faces on ``frames`` covers (``sampled`` sorted)."""
    sampled = sorted(set(sampled))
    if not sampled:
        return TrackPresence(0, 0)
    own = set(frames)
    stands_for = {sampled_frame_of(sampled, f) for f in own}
    return TrackPresence(len(sampled), len(stands_for), len(stands_for - own))


def main_face_presence(sampled: Sequence[int], detected: Sequence[FrameFaces], tracks: Sequence[FaceTrack]
                       ) -> FacePresence:
    """The main track's presence and, for each sampled frame without it, the reason.

    ``detected``: the sampled frames as detected, weak faces included (before tracking dropped any).
    """
    ordered = sorted(set(sampled))
    main = next((t for t in tracks if t.is_main), None)
    main_frames = main.frame_indices if main else ()
    covered = {sampled_frame_of(ordered, f) for f in main_frames} if ordered else set()
    kept = {f for t in tracks for f in t.frame_indices}
    faces = {f.index: f for f in detected}
    reasons = Counter(_why_missing(faces.get(i), i in kept) for i in ordered if i not in covered)
    return FacePresence(track_presence(ordered, main_frames), tuple(reasons.most_common()))


def _why_missing(frame: FrameFaces | None, has_other_faces: bool) -> str:
    if frame is None:
        return NOT_DECODED
    if has_other_faces:
        return OTHERS_ONLY
    return WEAK_ONLY if frame.faces else NO_FACE
