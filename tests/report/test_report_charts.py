"""The timeline chart's pieces: line breaks where the face is absent, tick steps, vector output."""
from __future__ import annotations

import pytest
from reportlab.graphics.shapes import PolyLine, String

from dfdesk.core.outcome import FramePoint
from dfdesk.services.report_charts import TimelineSpec, nice_step, split_at_gaps, timeline_drawing


def points(frames: list[int], fps: float = 25.0, name: str = "m") -> list[FramePoint]:
    return [FramePoint(name, 0, f, f / fps, 0.5) for f in frames]


def test_lines_break_where_frames_have_no_face() -> None:
    runs = split_at_gaps(points([0, 2, 4, 6, 40, 42, 44]))
    assert [[p.frame_index for p in run] for run in runs] == [[0, 2, 4, 6], [40, 42, 44]]
    assert split_at_gaps(points([6, 0, 2])) == [points([0, 2, 6])]
    assert split_at_gaps([]) == []


@pytest.mark.parametrize(("span", "step"), [(0.8, 0.1), (60.0, 10.0), (7.0, 1.0), (300.0, 50.0)])
def test_tick_steps_are_round_numbers(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)


def test_each_detector_and_the_fused_score_are_vector_lines_with_a_legend() -> None:
    spec = TimelineSpec({"fused": points(list(range(0, 50, 2)), name="fused"),
                         "meso4_df": points(list(range(0, 50, 2)), name="meso4_df")}, 2.0, 0.6, 0.4, 0)
    drawing = timeline_drawing(spec, 400, 180)
    lines = [s for s in drawing.contents if isinstance(s, PolyLine)]
    labels = {s.text for s in drawing.contents if isinstance(s, String)}
    assert len(lines) == 2 and all(len(line.points) == 50 for line in lines)
    assert {"fused (verdict)", "meso4_df", "fake threshold 0.60", "lower threshold 0.40", "time (s)"} <= labels
