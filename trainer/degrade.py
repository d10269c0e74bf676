"""Evidence-like degradations for training crops: what happens to a face between the camera and the analyst.

Applied to real faces and pseudo-fakes alike (the same draw to both members of a pair), so that the detector
cannot learn compression or resolution as a class cue and sees blending traces through the losses it will meet:

* downscaling: the face was small in the frame (shrunk with area averaging, enlarged back bilinearly);
* H.264 at a constant rate factor of 23-40 (libx264 through PyAV, 4:2:0 chroma, one intra-coded frame):
  the video codec of nearly all evidence;
* JPEG at quality 40-100 (OpenCV): stills and screenshots.

Every draw comes from the numpy Generator passed in; the codecs run single-threaded and are deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

import av
import cv2
import numpy as np

X264_PRESET = "medium"  # libx264's default: what most encoders hand over


@dataclass(frozen=True)
class DegradeConfig:
    """Chances and ranges of each degradation (applied in this order: downscale, H.264, JPEG)."""

    downscale_p: float = 0.3
    downscale: tuple[float, float] = (0.35, 0.9)  # kept fraction of the side
    h264_p: float = 0.5
    h264_crf: tuple[int, int] = (23, 40)  # inclusive
    jpeg_p: float = 0.3
    jpeg_quality: tuple[int, int] = (40, 100)  # inclusive
    flip_p: float = 0.5  # horizontal flip (not a degradation, but drawn with them: the paper flips too)


@dataclass(frozen=True)
class DegradeParams:
    downscale: float  # 1.0: not applied
    h264_crf: int  # 0: not applied
    jpeg_quality: int  # 0: not applied
    flip: bool


NONE = DegradeParams(downscale=1.0, h264_crf=0, jpeg_quality=0, flip=False)


def sample_degrade(rng: np.random.Generator, config: DegradeConfig = DegradeConfig()) -> DegradeParams:
    """Draw one set of degradations (each uniform in its range when drawn)."""
    c = config
    downscale = float(rng.uniform(*c.downscale)) if rng.random() < c.downscale_p else 1.0
    crf = int(rng.integers(c.h264_crf[0], c.h264_crf[1] + 1)) if rng.random() < c.h264_p else 0
    quality = int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1)) if rng.random() < c.jpeg_p else 0
    return DegradeParams(downscale, crf, quality, bool(rng.random() < c.flip_p))


def downscale_roundtrip(image: np.ndarray, keep: float) -> np.ndarray:
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(round(width * keep), 1), max(round(height * keep), 1)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def h264_roundtrip(image: np.ndarray, crf: int, preset: str = X264_PRESET) -> np.ndarray:
    """Encode one RGB frame with libx264 at ``crf`` (4:2:0) and decode it back.  Odd sides are padded by one
    replicated row/column for the encoder and cut off again."""
    height, width = image.shape[:2]
    padded = cv2.copyMakeBorder(image, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = padded.shape[1], padded.shape[0]
    encoder.pix_fmt = "yuv420p"
    encoder.thread_count = 1
    encoder.options = {"crf": str(crf), "preset": preset}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24").reformat(format="yuv420p")
    packets = list(encoder.encode(frame)) + list(encoder.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    decoder.thread_count = 1
    decoded = [f for packet in packets for f in decoder.decode(packet)] + list(decoder.decode(None))
    return decoded[0].to_ndarray(format="rgb24")[:height, :width]


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 RGB image
        raise ValueError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def degrade(image: np.ndarray, params: DegradeParams) -> np.ndarray:
    """uint8 RGB (H, W, 3) through the drawn degradations."""
    out = image
    if params.downscale < 1.0:
        out = downscale_roundtrip(out, params.downscale)
    if params.h264_crf:
        out = h264_roundtrip(out, params.h264_crf)
    if params.jpeg_quality:
        out = jpeg_roundtrip(out, params.jpeg_quality)
    if params.flip:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)
