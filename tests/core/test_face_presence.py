"""The main face's share of the sampled frames, and why it is missing where it is."""
from __future__ import annotations

from dfdesk.core.face_presence import (
    NO_FACE,
    NOT_DECODED,
    OTHERS_ONLY,
    WEAK_ONLY,
    FacePresence,
    TrackPresence,
    main_face_presence,
    sampled_frame_of,
    track_presence,
)
from dfdesk.core.types import FaceDetection, FaceTrack, FrameFaces

FACE = FaceDetection((0, 0, 80, 80), 0.99, ((0, 0),) * 5)
WEAK = FaceDetection((300, 0, 380, 80), 0.8, ((0, 0),) * 5)


def test_an_added_frame_stands_for_the_nearest_sampled_frame() -> None:
    sampled = [0, 20, 40]
    assert [sampled_frame_of(sampled, f) for f in (0, 4, 16, 20, 29, 30, 31, 45)] == [0, 0, 20, 20, 20, 20, 40, 40]
    presence = track_presence(sampled, [0, 24, 40])  # 24: added for 20
    assert presence == TrackPresence(3, 3, 1) and presence.share == 1.0
    assert presence.words() == "3 of 3 sampled frames (100 %; 1 through a frame nearby)"
    assert track_presence(sampled, [40]).words() == "1 of 3 sampled frames (33 %)"
    assert track_presence([], [1]) == TrackPresence(0, 0)


def test_every_missing_sampled_frame_gets_its_reason() -> None:
    sampled = [0, 10, 20, 30, 40, 50]
    detected = [FrameFaces(0, 0.0, (FACE,)), FrameFaces(10, 0.4, (FACE,)), FrameFaces(20, 0.8, ()),
                FrameFaces(30, 1.2, (WEAK,)), FrameFaces(40, 1.6, (WEAK,))]  # 50 could not be decoded
    main = FaceTrack(0, (0, 10, 43), (FACE, FACE, FACE), is_main=True)  # 43: a frame added for 40
    other = FaceTrack(1, (40,), (WEAK,))
    presence = main_face_presence(sampled, detected, [main, other])
    assert presence.main == TrackPresence(6, 3, 1)
    assert dict(presence.missing) == {NO_FACE: 1, WEAK_ONLY: 1, NOT_DECODED: 1}
    alone = main_face_presence(sampled, detected, [main, FaceTrack(1, (30,), (WEAK,))])
    assert dict(alone.missing) == {NO_FACE: 1, OTHERS_ONLY: 1, NOT_DECODED: 1}  # 30 now shows another face
    assert presence.sentence().startswith("the main face was found in 3 of 6 sampled frames (50 %; 1 through")
    assert f"1 {NO_FACE}" in presence.sentence() and f"1 {WEAK_ONLY}" in presence.sentence()


def test_a_face_on_every_sampled_frame_needs_no_sentence() -> None:
    assert FacePresence(TrackPresence(4, 4)).sentence() is None
    assert FacePresence(TrackPresence(4, 4, 1)).sentence() is not None  # a frame was replaced: say so
    nothing = main_face_presence([0, 5], [FrameFaces(0, 0.0, ()), FrameFaces(5, 0.2, ())], [])
    assert nothing.main == TrackPresence(2, 0) and dict(nothing.missing) == {NO_FACE: 2}
