"""The face tracks of an analysis, each with the share of the sampled frames that show its face.

A verdict resting on few frames must show it: when the main face is missing from many sampled frames (dark,
grainy, turned or small faces), the analyst sees how many frames the scores rest on, track by track.
"""
from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from dfdesk.services.results import AnalysisView


def track_lines(view: AnalysisView) -> list[str]:
    """One line per face track, main first: its share of the sampled frames (frame count when none was recorded)."""
    lines = []
    for track in view.tracks:
        name = f"Track {track.track_index}" + (" (main face)" if track.is_main else "")
        presence = view.face_presence.get(track.track_index)
        found = presence.words() if presence else f"{len(track.frame_indices)} frames"
        lines.append(f"{name}: face in {found}")
    return lines or ["No face track was found."]


class FaceTracksBox(QGroupBox):
    """Lists the analysis's face tracks with their share of the sampled frames."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Face tracks", parent)
        self.lines = QLabel()
        self.lines.setObjectName("faceTrackLines")
        self.lines.setWordWrap(True)
        self.lines.setToolTip("How many of the sampled frames show each face; a frame found near a sampled frame "
                              "that lacked the main face counts for it. Scores rest on these frames only.")
        QVBoxLayout(self).addWidget(self.lines)

    def show_analysis(self, view: AnalysisView) -> None:
        self.lines.setText("\n".join(track_lines(view)))
