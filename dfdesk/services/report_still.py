"""The full frame of a key frame, scaled down to fit the page, with the scored face's box drawn on it.

The caller passes pixels that :mod:`dfdesk.services.key_frames` decoded and checked (the same pixels the face crop is
cut from), so the still shows exactly the frame the analysis scored; only the scaling and the box are added.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

STILL_MAX_SIDE = 800  # pixels: ~300 dpi at the width the report prints it
BOX_COLOUR = (230, 0, 0)
JPEG_QUALITY = 88


def frame_still(image: np.ndarray, box: tuple[float, float, float, float]) -> bytes:
    """JPEG of ``image`` (H, W, 3 RGB) scaled so its longer side is at most STILL_MAX_SIDE, the face ``box``
    (x1, y1, x2, y2 in the frame's pixels) outlined on it."""
    still = Image.fromarray(np.ascontiguousarray(image[..., :3]))
    scale = min(1.0, STILL_MAX_SIDE / max(still.size))
    if scale < 1.0:
        still = still.resize((max(1, round(still.width * scale)), max(1, round(still.height * scale))),
                             Image.Resampling.LANCZOS)
    x1, y1, x2, y2 = (value * scale for value in box)
    width = max(2, round(max(still.size) / 250))
    ImageDraw.Draw(still).rectangle((x1, y1, x2, y2), outline=BOX_COLOUR, width=width)
    buffer = io.BytesIO()
    still.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)  # 4:4:4: the thin box keeps its colour
    return buffer.getvalue()
