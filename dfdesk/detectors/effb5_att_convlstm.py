"""EfficientNet-B5 + attention-based ConvLSTM encoder-decoder (Su, Xia, Liang, Nie 2021).

Per frame, EfficientNet-B5 gives a 7x7x2048 map (224x224 input).  A ConvLSTM
encoder runs over the frames; a soft attention scores every frame,
``e_t = W_m tanh(W_va v_t + W_ha h_{t-1} + b)`` with ``alpha = softmax_t(e)``,
and weights it, ``v~_t = alpha_t v_t``; a ConvLSTM decoder runs over the weighted
sequence; its hidden states are max-pooled over time and a fully connected
layer gives two logits (softmax, index 1 = fake), trained with cross-entropy.

Here ``v_t`` is the encoder's output at frame t and ``h_{t-1}`` its hidden state
one frame earlier (zero before the first frame); the 1x1 convolutions ``W_va``,
``W_ha`` and ``W_m`` act at every position and ``e_t`` is the spatial mean of the
resulting map, so that ``alpha`` is one weight per frame.
"""
from __future__ import annotations

from typing import Any

import timm
import torch
from torch import nn

from dfdesk.detectors.base import Detector, DetectorOutput, InputSpec, normalise_maps
from dfdesk.detectors.convlstm import ConvLSTM
from dfdesk.detectors.registry import register_detector


class FrameSoftAttention(nn.Module):
    """Soft attention over frames: one softmax weight per frame from ``v_t`` and ``h_{t-1}``."""

    def __init__(self, channels: int, attention_ch: int) -> None:
        super().__init__()
        self.w_va = nn.Conv2d(channels, attention_ch, 1, bias=False)
        self.w_ha = nn.Conv2d(channels, attention_ch, 1, bias=True)  # its bias is b
        self.w_m = nn.Conv2d(attention_ch, 1, 1, bias=False)

    def scores(self, v: torch.Tensor) -> torch.Tensor:
        """Unnormalised scores ``e`` (B, T) for encoder outputs ``v`` (B, T, C, H, W)."""
        b, t = v.shape[:2]
        h_prev = torch.cat([torch.zeros_like(v[:, :1]), v[:, :-1]], dim=1)
        flat_v, flat_h = v.flatten(0, 1), h_prev.flatten(0, 1)
        e = self.w_m(torch.tanh(self.w_va(flat_v) + self.w_ha(flat_h)))
        return e.mean(dim=(1, 2, 3)).view(b, t)

    def forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(alpha_t v_t, alpha)`` with alpha (B, T) summing to 1 over T."""
        alpha = torch.softmax(self.scores(v), dim=1)
        return v * alpha[:, :, None, None, None], alpha


@register_detector("effb5_att_convlstm")
class EffB5AttConvLSTM(Detector):
    """Su et al. 2021: EfficientNet-B5 features, ConvLSTM encoder, soft frame attention, ConvLSTM decoder."""

    # Su et al. 2021: Adam 1e-4
    training_defaults = {"optimizer": "adam", "learning_rate": 1e-4, "weight_decay": 0.0, "batch_size": 8, "epochs": 20}
    backbone_prefixes = ("backbone.",)

    frame_level = False
    output_kind = "softmax"
    default_fake_index = 1

    def __init__(
        self,
        backbone: str = "efficientnet_b5",
        encoder_ch: int = 256,
        decoder_ch: int = 256,
        attention_ch: int = 128,
        kernel: int = 3,
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        self.backbone = timm.create_model(backbone, pretrained=False, num_classes=0, global_pool="")
        self.encoder = ConvLSTM(self.backbone.num_features, encoder_ch, kernel)
        self.attention = FrameSoftAttention(encoder_ch, attention_ch)
        self.decoder = ConvLSTM(encoder_ch, decoder_ch, kernel)
        self.fc = nn.Linear(decoder_ch, num_classes)

    @classmethod
    def default_input(cls) -> InputSpec:
        return InputSpec(crop="face", size=224, margin=0.3, colour="rgb",
                         mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                         frames_per_clip=15, sampling="random")

    @classmethod
    def small_options(cls) -> dict[str, Any]:
        return {"backbone": "test_efficientnet", "encoder_ch": 8, "decoder_ch": 8, "attention_ch": 4}

    @classmethod
    def small_input(cls) -> InputSpec:
        spec = cls.default_input()
        spec.size, spec.frames_per_clip = 64, 3
        return spec

    def frame_features(self, clip: torch.Tensor) -> torch.Tensor:
        """Backbone feature maps (B, T, C, h, w) of every frame."""
        b, t = clip.shape[:2]
        features = self.backbone.forward_features(clip.flatten(0, 1))
        return features.view(b, t, *features.shape[1:])

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        return self.classify_features(self.frame_features(clip))

    def classify_features(self, features: torch.Tensor) -> DetectorOutput:
        """Encoder, frame attention, decoder, max over time and the classifier on (B, T, C, h, w) features."""
        encoded, _ = self.encoder(features)
        weighted, alpha = self.attention(encoded)
        decoded, _ = self.decoder(weighted)
        pooled = decoded.amax(dim=1).mean(dim=(2, 3))  # max over time, then spatial mean
        maps = normalise_maps(decoded.abs().mean(dim=2))
        return DetectorOutput(clip_logits=self.fc(pooled), spatial_maps=maps, temporal_weights=alpha)
