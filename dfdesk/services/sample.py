"""A demonstration clip for a first start: a real (unmanipulated) face moving across the frame."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

from dfdesk import paths


def write_sample_clip(out: Path, seconds: float = 4.0, fps: int = 25, size: tuple[int, int] = (640, 360)) -> Path:
    width, height = size
    portrait = Image.open(paths.resource("sample", "astronaut.jpg")).convert("RGB")
    face = np.asarray(portrait.resize((height, height)))
    side = face.shape[0]
    n_frames = int(seconds * fps)
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(n_frames):
            frame = np.full((height, width, 3), (40, 70, 100), np.uint8)
            x = int((width - side) * (0.5 + 0.5 * np.sin(2 * np.pi * i / n_frames)))
            frame[:, x : x + side] = face[:height]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out
