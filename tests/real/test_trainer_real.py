"""Fine-tuning MesoNet (from its published weights) on pseudo-fakes made from real clips in ../shared/data.

Face clips go through dfdesk's own pipeline (sampling, MTCNN, tracks, crops, cache); every real clip also gives a
video-level self-blended pseudo-fake.  After a few optimizer steps the loss over a fixed batch has fallen.
"""
from __future__ import annotations

import numpy as np
import torch

from dfdesk.core.crop_cache import CropCache
from dfdesk.core.faces import FaceSettings
from dfdesk.detectors.registry import create_detector
from trainer.clips import ClipSamples, FaceClip, build_samples, extract_clips
from trainer.config import TrainParams
from trainer.datasets import VideoRecord
from trainer.install import find_installed_card
from trainer.loop import Trainer, detector_loss

VIDEOS = ("obama_speaking.mp4", "lp_d0.mp4", "lp_d3.mp4")
STEPS = 8


def real_clips(shared_data, cache_dir) -> list[FaceClip]:
    card = find_installed_card("meso4_df")
    card.input.frames_per_clip = 2
    records = [VideoRecord(shared_data / "videos" / "real" / name, "real", "shared", split="train") for name in VIDEOS]
    problems: list = []
    items = extract_clips(records, card.input, max_clips=2, settings=FaceSettings(device="cpu"),
                          cache=CropCache(cache_dir), problems=problems)
    clips = [c for c in items if isinstance(c, FaceClip)]
    assert not problems, problems
    return clips


@torch.no_grad()
def fixed_batch_loss(trainer: Trainer, data: ClipSamples) -> float:
    """Mean loss over every sample with the evaluation draws of the pseudo-fakes (dropout off)."""
    trainer.model.eval()
    data.set_epoch(-1)
    clips = torch.stack([data[i][0] for i in range(len(data))])
    targets = torch.tensor(data.targets())
    output = trainer.model(clips)
    return float(detector_loss("mesonet4", trainer.card, output, clips, targets, frame_level=True))


def test_fine_tuning_mesonet_on_pseudo_fakes_lowers_the_loss(shared_data, tmp_path):
    clips = real_clips(shared_data, tmp_path / "cache")
    assert len({c.video for c in clips}) == len(VIDEOS) and all(c.frames.shape == (2, 256, 256, 3) for c in clips)
    card = find_installed_card("meso4_df")
    card.input.frames_per_clip = 2
    data = ClipSamples(clips, build_samples(clips, "video_blend"), card.input, pseudo_fakes="video_blend", seed=0)
    assert sorted(data.targets()) == [0] * len(clips) + [1] * len(clips)
    model = create_detector(card).train()
    params = TrainParams(optimizer="adam", learning_rate=1e-3, weight_decay=0.0, batch_size=len(data),
                         epochs=STEPS, scheduler="constant")
    trainer = Trainer(model, card, data, params, device=torch.device("cpu"), seed=0)
    trainer.epoch_batches = lambda epoch: [list(range(len(data)))]  # every clip in every step (new blend draws)
    before = fixed_batch_loss(trainer, data)
    losses = []
    while not trainer.finished:
        losses += [r.loss for r in trainer.steps()]
    after = fixed_batch_loss(trainer, data)
    assert len(losses) == STEPS and np.all(np.isfinite(losses))
    assert after < 0.8 * before, (before, after, losses)
