"""Convolutional LSTM cell of RVT (``DWSConvLSTM2d`` with ``dws_conv: False``), channels-last.

With the depthwise conv disabled the cell is a 1x1 convolution over ``concat(x_t, h_{t-1})``, i.e. a
per-pixel linear map. We run it as ``F.linear`` on NHWC tensors (the layout the attention blocks
produce), while keeping RVT's parameter ``conv1x1.weight`` of shape (4C, 2C, 1, 1) so checkpoints load.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvLSTMCell", "LstmState"]

#: (h, c), each (B, C, H, W); our tensors are NCHW views of channels-last memory.
LstmState = tuple[torch.Tensor, torch.Tensor]


class ConvLSTMCell(nn.Module):
    """gates = conv1x1([x, h]); f, i, o = sigmoid(gates[:3C]); g = tanh(gates[3C:]).

    c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t). A missing state means zeros (RVT), which lets us skip
    the hidden half of the matmul on the first step.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.conv1x1 = nn.Conv2d(2 * dim, 4 * dim, kernel_size=1)

    def forward(self, x_nhwc: torch.Tensor, state: LstmState | None = None) -> LstmState:
        """x_nhwc (B, H, W, C) -> new (h, c), both (B, C, H, W) logical shape, channels-last memory."""
        c_dim = self.dim
        weight = self.conv1x1.weight.view(4 * c_dim, 2 * c_dim)
        if state is None:
            mix = F.linear(x_nhwc, weight[:, :c_dim], self.conv1x1.bias)
            c_prev = None
        else:
            h_prev = state[0].permute(0, 2, 3, 1)  # a free view for our own (channels-last) states
            c_prev = state[1].permute(0, 2, 3, 1)
            mix = F.linear(torch.cat((x_nhwc, h_prev), dim=-1), weight, self.conv1x1.bias)
        gates = torch.sigmoid(mix[..., : 3 * c_dim])
        forget_gate, input_gate, output_gate = gates.chunk(3, dim=-1)
        cell_input = torch.tanh(mix[..., 3 * c_dim:])
        c_t = input_gate * cell_input if c_prev is None else forget_gate * c_prev + input_gate * cell_input
        h_t = output_gate * torch.tanh(c_t)
        return h_t.permute(0, 3, 1, 2), c_t.permute(0, 3, 1, 2)
