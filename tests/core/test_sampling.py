"""Frame samplers: counts, bounds, determinism, clip layout, recording."""
from __future__ import annotations

import json

import pytest

from dfdesk.core.sampling import (
    MAX_NEARBY_OFFSET,
    SamplingPlan,
    nearby_frames,
    plan_sampling,
    union_indices,
    with_added_frames,
)


@pytest.mark.parametrize("frame_count, frames", [(100, 16), (16, 16), (17, 16), (1000, 15), (5, 16)])
def test_uniform_gives_n_distinct_frames_in_bounds(frame_count: int, frames: int) -> None:
    plan = plan_sampling(frame_count, "uniform", frames=frames)
    assert len(plan.indices) == min(frames, frame_count)
    assert list(plan.indices) == sorted(set(plan.indices))
    assert 0 <= plan.indices[0] and plan.indices[-1] < frame_count


def test_uniform_is_evenly_spread() -> None:
    indices = plan_sampling(160, "uniform", frames=16).indices
    assert {b - a for a, b in zip(indices, indices[1:])} == {10}


def test_random_is_seeded_sorted_and_distinct() -> None:
    first = plan_sampling(500, "random", frames=15, seed=7)
    again = plan_sampling(500, "random", frames=15, seed=7)
    other = plan_sampling(500, "random", frames=15, seed=8)
    assert first == again and first.indices != other.indices
    assert len(set(first.indices)) == 15 and list(first.indices) == sorted(first.indices)
    assert all(0 <= i < 500 for i in first.indices)


@pytest.mark.parametrize("frame_count, clips, clip_len", [(300, 4, 25), (100, 4, 25), (90, 4, 25), (64, 8, 8)])
def test_clips_are_consecutive_non_overlapping_and_in_bounds(frame_count: int, clips: int, clip_len: int) -> None:
    plan = plan_sampling(frame_count, "clips", frames=clips, clip_len=clip_len)
    assert len(plan.clips) == min(clips, frame_count // clip_len)
    for clip in plan.clips:
        assert list(clip) == list(range(clip[0], clip[0] + clip_len))
    flat = [i for clip in plan.clips for i in clip]
    assert len(flat) == len(set(flat)) and min(flat) >= 0 and max(flat) < frame_count
    assert plan.indices == tuple(sorted(flat))


def test_clips_spread_over_the_whole_video() -> None:
    plan = plan_sampling(1000, "clips", frames=4, clip_len=25)
    assert plan.clips[0][0] < 250 <= plan.clips[1][0] and plan.clips[-1][0] >= 750


def test_video_shorter_than_a_clip_gives_no_clip() -> None:
    assert plan_sampling(20, "clips", frames=2, clip_len=25).clips == ()


def test_every_and_all() -> None:
    assert plan_sampling(10, "every", step=3).indices == (0, 3, 6, 9)
    assert plan_sampling(4, "all").indices == (0, 1, 2, 3)


def test_plan_round_trips_through_json() -> None:
    plan = plan_sampling(300, "clips", frames=3, clip_len=8, seed=3)
    assert SamplingPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_union_of_plans() -> None:
    a, b = plan_sampling(10, "every", step=4), plan_sampling(10, "every", step=3)
    assert union_indices([a, b]) == (0, 3, 4, 6, 8, 9)


@pytest.mark.parametrize("args", [(0, "uniform"), (10, "sideways"), (10, "every", {"step": 0})])
def test_bad_arguments_are_refused(args) -> None:
    frame_count, mode, *options = args
    with pytest.raises(ValueError):
        plan_sampling(frame_count, mode, **(options[0] if options else {}))


def test_nearby_frames_lie_nearer_their_own_sampled_frame_on_both_sides() -> None:
    indices = plan_sampling(300, "uniform", frames=16).indices  # about 19 frames apart
    tries = nearby_frames(indices, 300, [indices[3], indices[5]])
    for frame, tried in tries.items():
        assert len(tried) == 2 and tried[0] > frame > tried[1]
        for candidate in tried:
            others = [i for i in indices if i != frame]
            assert abs(candidate - frame) < min(abs(candidate - o) for o in others)
            assert 1 <= abs(candidate - frame) <= MAX_NEARBY_OFFSET
    assert set(tries) == {indices[3], indices[5]}
    assert nearby_frames(indices, 300, [indices[0]]) == {8: (16, 0)}  # 8 - 8 is the first frame


def test_nearby_frames_stay_in_the_video_and_skip_consecutive_clips() -> None:
    assert nearby_frames([0], 10, [0]) == {0: (9,)}  # nothing before frame 0; the offset stops at the last frame
    assert nearby_frames(range(20), 20, [5]) == {}  # every frame sampled: nothing near that is not sampled
    clips = plan_sampling(400, "clips", frames=4, clip_len=8)
    assert nearby_frames(clips.indices, 400, [clips.clips[1][3]]) == {}
    assert nearby_frames([10, 14], 100, [10, 14]) == {10: (11, 9), 14: (15, 13)}  # 11 and 13: not consecutive
    assert nearby_frames([10, 13], 100, [10]) == {}  # 11 and 12 would be


def test_with_added_frames_scores_the_added_frame_and_leaves_clips_alone() -> None:
    plan = plan_sampling(100, "uniform", frames=4)
    topped = with_added_frames(plan, {plan.indices[1]: plan.indices[1] + 3, 999: 1000})
    assert topped.indices == tuple(sorted(plan.indices + (plan.indices[1] + 3,)))
    assert topped.clips == tuple((i,) for i in topped.indices) and topped.mode == plan.mode
    assert with_added_frames(plan, {}) is plan
    clips = plan_sampling(400, "clips", frames=2, clip_len=8)
    assert with_added_frames(clips, {clips.indices[0]: 200}) is clips
