"""Random access on every clip of ../shared/data equals a plain sequential decode, pixel for pixel.

This is the test that would have caught the defect of issue 15: FF++ 519_515 (H.264 High 4:4:4 from an old x264
build) decoded wrong pixels whenever decoding began with a seek, because the decoder had not read the encoder's
build number in the stream's first access unit.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.random_access import mismatches

pytestmark = [pytest.mark.real, pytest.mark.slow]


def shared_clips() -> list[str]:
    from dfdesk import paths

    folder = paths.shared_data_dir()
    if folder is None:
        return []
    return sorted(str(p.relative_to(folder)) for p in (folder / "videos").rglob("*.mp4"))


@pytest.mark.parametrize("clip", shared_clips() or ["(no shared data)"])
def test_random_access_equals_sequential_decode(clip: str, shared_data: Path) -> None:
    assert mismatches(shared_data / clip, seed=sum(map(ord, clip)), draws=6) == []
