"""Decoupled anchor-free YOLOX head (RVT's ``YOLOXHead``), returning decoded boxes and raw logits.

Per level: 1x1 stem -> cls branch (2x 3x3 BaseConv) -> 1x1 to classes; reg branch (2x 3x3) -> 1x1 to
4 box values and 1x1 to objectness. hidden = int(256 * C_last / 1024). cls/obj bias = -log(99).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from leod_core.model.pafpn import BaseConv

__all__ = ["HeadOutput", "YOLOXHead"]


@dataclass
class HeadOutput:
    """Dense head output over all A anchors of all levels (stride 8 first, row-major within a level).

    ``preds`` (B, A, 5 + num_classes): cx, cy, w, h in input pixels (decoded), objectness logit,
    class logits. ``grid_xy`` (A, 2) anchor cell x, y; ``strides`` (A,) anchor stride.
    """

    preds: torch.Tensor
    grid_xy: torch.Tensor
    strides: torch.Tensor

    @property
    def anchor_centers(self) -> torch.Tensor:
        """(A, 2) pixel centers of the anchor cells, (g + 0.5) * stride (SimOTA's center prior)."""
        return (self.grid_xy + 0.5) * self.strides[:, None]


class YOLOXHead(nn.Module):
    def __init__(self, num_classes: int, in_channels: tuple[int, ...], strides: tuple[int, ...]) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.strides = tuple(strides)
        hidden = int(256 * in_channels[-1] / 1024)
        # registration order follows RVT (only cosmetic: state-dict keys are what must match)
        self.cls_convs = nn.ModuleList(nn.Sequential(BaseConv(hidden, hidden, 3), BaseConv(hidden, hidden, 3))
                                       for _ in in_channels)
        self.reg_convs = nn.ModuleList(nn.Sequential(BaseConv(hidden, hidden, 3), BaseConv(hidden, hidden, 3))
                                       for _ in in_channels)
        self.cls_preds = nn.ModuleList(nn.Conv2d(hidden, num_classes, 1) for _ in in_channels)
        self.reg_preds = nn.ModuleList(nn.Conv2d(hidden, 4, 1) for _ in in_channels)
        self.obj_preds = nn.ModuleList(nn.Conv2d(hidden, 1, 1) for _ in in_channels)
        self.stems = nn.ModuleList(BaseConv(c, hidden, 1) for c in in_channels)
        prior_bias = -math.log((1 - 0.01) / 0.01)  # focal-loss prior: initial p = 0.01
        with torch.no_grad():
            for conv in (*self.cls_preds, *self.obj_preds):
                conv.bias.fill_(prior_bias)

    def forward(self, fpn_features: tuple[torch.Tensor, ...]) -> HeadOutput:
        outputs, grids, strides = [], [], []
        for k, x in enumerate(fpn_features):
            x = self.stems[k](x)
            reg_feat = self.reg_convs[k](x)
            out = torch.cat((self.reg_preds[k](reg_feat), self.obj_preds[k](reg_feat),
                             self.cls_preds[k](self.cls_convs[k](x))), dim=1)
            b, n_ch, h, w = out.shape
            outputs.append(out.reshape(b, n_ch, h * w))
            grids.append(_grid(h, w, out.device, out.dtype))
            strides.append(torch.full((h * w,), float(self.strides[k]), device=out.device, dtype=out.dtype))
        raw = torch.cat(outputs, dim=2).transpose(1, 2)  # (B, A, 5 + C)
        grid_xy, stride = torch.cat(grids), torch.cat(strides)
        s = stride[:, None]
        preds = torch.cat(((raw[..., :2] + grid_xy) * s, torch.exp(raw[..., 2:4]) * s, raw[..., 4:]), dim=-1)
        return HeadOutput(preds=preds, grid_xy=grid_xy, strides=stride)


def _grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(h*w, 2) cell coordinates (x, y), row-major."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype),
                            torch.arange(w, device=device, dtype=dtype), indexing="ij")
    return torch.stack((xs, ys), dim=-1).reshape(-1, 2)
