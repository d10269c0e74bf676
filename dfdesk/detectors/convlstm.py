"""A convolutional LSTM (Shi et al. 2015) over clips shaped (B, T, C, H, W).

One convolution computes the four gates from ``[x_t, h_{t-1}]``; the state is
zero at t = 0 unless an initial ``(h, c)`` is given.  Frames are processed in
their given (temporal) order.  Over a whole clip, the input's share of that
convolution is computed for all frames at once (it does not depend on the
state) and only the hidden state's share step by step: the same result, and on
a CPU several times faster for one clip (bench/RESULTS.md).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvLSTMCell(nn.Module):
    """One step: ``(x_t, (h, c)) -> (h', c')`` with 'same' padding."""

    def __init__(self, in_ch: int, hidden_ch: int, kernel: int = 3, bias: bool = True) -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"ConvLSTM kernel must be odd to keep the map size, got {kernel}")
        self.hidden_ch = hidden_ch
        self.gates = nn.Conv2d(in_ch + hidden_ch, 4 * hidden_ch, kernel, padding=kernel // 2, bias=bias)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        return self.update(self.gates(torch.cat([x, h], dim=1)), c)

    @staticmethod
    def update(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h', c')`` from the four stacked gate pre-activations and the previous cell state."""
        i, f, o, g = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def zero_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero ``(h, c)`` matching a frame batch ``x`` of shape (B, C, H, W)."""
        b, _, hh, ww = x.shape
        zeros = x.new_zeros(b, self.hidden_ch, hh, ww)
        return zeros, zeros


class ConvLSTM(nn.Module):
    """A single-layer ConvLSTM over time.

    ``forward(x, state=None)`` takes (B, T, C, H, W) and returns
    ``(hidden_states (B, T, hidden_ch, H, W), (h_last, c_last))``.
    """

    def __init__(self, in_ch: int, hidden_ch: int, kernel: int = 3, bias: bool = True) -> None:
        super().__init__()
        self.cell = ConvLSTMCell(in_ch, hidden_ch, kernel, bias)

    @property
    def hidden_ch(self) -> int:
        return self.cell.hidden_ch

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if x.dim() != 5:
            raise ValueError(f"ConvLSTM expects (B, T, C, H, W), got shape {tuple(x.shape)}")
        h, c = state if state is not None else self.cell.zero_state(x[:, 0])
        conv, in_ch = self.cell.gates, x.shape[2]
        from_input = F.conv2d(x.flatten(0, 1), conv.weight[:, :in_ch], conv.bias, padding=conv.padding)
        from_input = from_input.unflatten(0, x.shape[:2])
        hidden = []
        for t in range(x.shape[1]):
            gates = from_input[:, t] + F.conv2d(h, conv.weight[:, in_ch:], padding=conv.padding)
            h, c = self.cell.update(gates, c)
            hidden.append(h)
        return torch.stack(hidden, dim=1), (h, c)
