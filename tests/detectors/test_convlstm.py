"""The ConvLSTM's whole-clip forward (input convolution for all frames at once) equals stepping its cell."""
from __future__ import annotations

import torch

from dfdesk.detectors.convlstm import ConvLSTM


def stepped(lstm: ConvLSTM, x: torch.Tensor, state=None):
    """The textbook recurrence: one convolution of [x_t, h_{t-1}] per frame."""
    h, c = state if state is not None else lstm.cell.zero_state(x[:, 0])
    hidden = []
    for t in range(x.shape[1]):
        h, c = lstm.cell(x[:, t], (h, c))
        hidden.append(h)
    return torch.stack(hidden, dim=1), (h, c)


def test_clip_forward_equals_the_step_by_step_recurrence() -> None:
    torch.manual_seed(0)
    lstm = ConvLSTM(6, 5, kernel=3)
    x = torch.randn(2, 7, 6, 9, 8)
    start = (torch.randn(2, 5, 9, 8), torch.randn(2, 5, 9, 8))
    for state in (None, start):
        hidden, (h, c) = lstm(x, state)
        expected, (h_ref, c_ref) = stepped(lstm, x, state)
        assert hidden.shape == (2, 7, 5, 9, 8)
        torch.testing.assert_close(hidden, expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close((h, c), (h_ref, c_ref), atol=1e-5, rtol=1e-5)


def test_gradients_reach_the_input_and_both_halves_of_the_gate_weights() -> None:
    torch.manual_seed(1)
    lstm = ConvLSTM(3, 4)
    x = torch.randn(1, 5, 3, 6, 6, requires_grad=True)
    hidden, _ = lstm(x)
    hidden.sum().backward()
    grad = lstm.cell.gates.weight.grad
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert grad[:, :3].abs().sum() > 0 and grad[:, 3:].abs().sum() > 0  # input and hidden parts both learn
