"""YOLOX PAFPN over backbone stages 2, 3, 4 (strides 8, 16, 32), as configured in RVT.

Names mirror RVT's ``YOLOPAFPN`` (``lateral_conv0``, ``C3_p4``, ``reduce_conv1``, ``C3_p3``, ``bu_conv2``,
``C3_n3``, ``bu_conv1``, ``C3_n4``) so checkpoints load strictly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BaseConv", "CSPLayer", "PAFPN"]


class BaseConv(nn.Module):
    """Conv (no bias, same padding) -> BatchNorm2d -> SiLU."""

    def __init__(self, c_in: int, c_out: int, ksize: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, ksize, stride=stride, padding=(ksize - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class _Bottleneck(nn.Module):
    """1x1 then 3x3 BaseConv; RVT's FPN builds them without shortcut."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = BaseConv(c, c, 1)
        self.conv2 = BaseConv(c, c, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class CSPLayer(nn.Module):
    """CSP block: two 1x1 branches (one through n bottlenecks), concat, 1x1; expansion 0.5."""

    def __init__(self, c_in: int, c_out: int, n: int) -> None:
        super().__init__()
        hidden = int(c_out * 0.5)
        self.conv1 = BaseConv(c_in, hidden, 1)
        self.conv2 = BaseConv(c_in, hidden, 1)
        self.conv3 = BaseConv(2 * hidden, c_out, 1)
        self.m = nn.Sequential(*[_Bottleneck(hidden) for _ in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.cat((self.m(self.conv1(x)), self.conv2(x)), dim=1))


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest-exact")


class PAFPN(nn.Module):
    """Top-down then bottom-up path; outputs (P3, P4, P5) with channels = in_channels."""

    def __init__(self, in_channels: tuple[int, int, int], depth: float, in_stages: tuple[int, ...] = (2, 3, 4)) -> None:
        super().__init__()
        c0, c1, c2 = in_channels
        n = round(3 * depth)
        self.in_stages = in_stages
        self.lateral_conv0 = BaseConv(c2, c1, 1)
        self.C3_p4 = CSPLayer(2 * c1, c1, n)
        self.reduce_conv1 = BaseConv(c1, c0, 1)
        self.C3_p3 = CSPLayer(2 * c0, c0, n)
        self.bu_conv2 = BaseConv(c0, c0, 3, 2)
        self.C3_n3 = CSPLayer(2 * c0, c1, n)
        self.bu_conv1 = BaseConv(c1, c1, 3, 2)
        self.C3_n4 = CSPLayer(2 * c1, c2, n)

    def forward(self, features: dict[int, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x2, x1, x0 = (features[s] for s in self.in_stages)
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(torch.cat((_upsample(fpn_out0), x1), dim=1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat((_upsample(fpn_out1), x2), dim=1))
        pan_out1 = self.C3_n3(torch.cat((self.bu_conv2(pan_out2), fpn_out1), dim=1))
        pan_out0 = self.C3_n4(torch.cat((self.bu_conv1(pan_out1), fpn_out0), dim=1))
        return pan_out2, pan_out1, pan_out0
