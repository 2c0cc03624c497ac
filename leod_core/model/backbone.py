"""RVT recurrent backbone: 4 stages of (overlapping conv downsample + LN, MaxViT pair, ConvLSTM).

Input (B, 20, Hp, Wp) event histograms; output features {1: stride 4, 2: 8, 3: 16, 4: 32}, each
(B, C_i, H/s, W/s) (NCHW shape, channels-last memory), and the new LSTM states. Names mirror RVT's
``RNNDetector`` (``stages.i.downsample_cf2cl``, ``att_blocks``, ``lstm``, ``mask_token``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from leod_core.model.lstm import ConvLSTMCell, LstmState
from leod_core.model.maxvit import MaxVitAttentionPair

__all__ = ["BackboneSpec", "RecurrentBackbone", "BackboneFeatures", "LstmStates"]

BackboneFeatures = dict[int, torch.Tensor]
LstmStates = list[LstmState | None]


@dataclass(frozen=True)
class BackboneSpec:
    """Backbone hyper-parameters (RVT ``config/model/maxvit_yolox/default.yaml``)."""

    embed_dim: int  # stage dims are embed_dim * (1, 2, 4, 8)
    dim_head: int
    partition_hw: tuple[int, int]  # window = grid size, from camera.partition_hw
    in_channels: int = 20
    patch_size: int = 4  # stem downsample factor
    enable_masking: bool = False  # RVT default False: no mask token parameter
    dim_multiplier: tuple[int, ...] = (1, 2, 4, 8)


class _DownsampleCf2Cl(nn.Module):
    """Overlapping strided conv (kernel 2(f-1)+1, no bias), then LayerNorm over channels; NCHW -> NHWC."""

    def __init__(self, dim_in: int, dim_out: int, factor: int) -> None:
        super().__init__()
        kernel = 2 * (factor - 1) + 1
        self.conv = nn.Conv2d(dim_in, dim_out, kernel_size=kernel, stride=factor, padding=kernel // 2, bias=False)
        self.norm = nn.LayerNorm(dim_out, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last input makes the conv output channels-last, so the NHWC permute is a free view
        return self.norm(self.conv(x).permute(0, 2, 3, 1))


class _Stage(nn.Module):
    def __init__(self, dim_in: int, dim: int, factor: int, spec: BackboneSpec, masking: bool) -> None:
        super().__init__()
        self.downsample_cf2cl = _DownsampleCf2Cl(dim_in, dim, factor)
        # the downsample output is already normed: RVT skips the first LN of the first block
        self.att_blocks = nn.ModuleList([MaxVitAttentionPair(dim, spec.dim_head, spec.partition_hw,
                                                             skip_first_norm=True)])
        self.lstm = ConvLSTMCell(dim)
        self.mask_token = nn.Parameter(torch.empty(1, 1, 1, dim).normal_(std=0.02)) if masking else None

    def forward(self, x: torch.Tensor, state: LstmState | None,
                token_mask: torch.Tensor | None) -> tuple[torch.Tensor, LstmState]:
        x = self.downsample_cf2cl(x)  # (B, H, W, C)
        if token_mask is not None:
            if self.mask_token is None:
                raise ValueError("token_mask given but this backbone has no mask token (enable_masking=False)")
            # RVT: x[token_mask] = mask_token; torch.where keeps autograd out-of-place
            x = torch.where(token_mask[..., None], self.mask_token.to(x.dtype), x)
        for blk in self.att_blocks:
            x = blk(x)
        h, c = self.lstm(x, state)
        return h, (h, c)


class RecurrentBackbone(nn.Module):
    """Four recurrent MaxViT stages with strides 4, 8, 16, 32."""

    def __init__(self, spec: BackboneSpec) -> None:
        super().__init__()
        self.spec = spec
        self.stage_dims = tuple(spec.embed_dim * m for m in spec.dim_multiplier)
        self.stages = nn.ModuleList()
        strides, stride, dim_in = [], 1, spec.in_channels
        for i, dim in enumerate(self.stage_dims):
            factor = spec.patch_size if i == 0 else 2
            self.stages.append(_Stage(dim_in, dim, factor, spec, masking=spec.enable_masking and i == 0))
            stride *= factor
            strides.append(stride)
            dim_in = dim
        self.strides = tuple(strides)

    def get_stage_dims(self, stages: tuple[int, ...]) -> tuple[int, ...]:
        """Channels of 1-based stages (RVT API)."""
        return tuple(self.stage_dims[s - 1] for s in stages)

    def get_strides(self, stages: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(self.strides[s - 1] for s in stages)

    def forward(self, x: torch.Tensor, states: LstmStates | None = None,
                token_mask: torch.Tensor | None = None) -> tuple[BackboneFeatures, list[LstmState]]:
        """x (B, C_in, H, W); states: 4 x (h, c) or None (zeros); token_mask (B, H/4, W/4) bool or None."""
        if states is None:
            states = [None] * len(self.stages)
        if len(states) != len(self.stages):
            raise ValueError(f"expected {len(self.stages)} LSTM states, got {len(states)}")
        x = x.contiguous(memory_format=torch.channels_last)
        features: BackboneFeatures = {}
        new_states: list[LstmState] = []
        for i, stage in enumerate(self.stages):
            x, state = stage(x, states[i], token_mask if i == 0 else None)
            features[i + 1] = x
            new_states.append(state)
        return features, new_states
