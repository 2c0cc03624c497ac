"""MaxViT attention blocks of RVT (channels-last): window attention then grid attention.

Each block is ``x + LayerScale(Attn(LN(x)))`` then ``x + LayerScale(MLP(LN(x)))``. Attention runs inside
non-overlapping P-sized windows (local) or P-sized dilated grids (global). Module and parameter names
mirror RVT (``att_window.self_attn.qkv``, ``mlp.net.0.0``, ``ls1.gamma``) so checkpoints load strictly.

Speed: the qkv projection is applied to the whole map first (it is per token), and the window/grid
rearrangement is folded into the single copy that brings heads forward for
``F.scaled_dot_product_attention``; the inverse rearrangement is the single copy before ``proj``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LayerScale", "PartitionSelfAttention", "PartitionAttentionBlock", "MaxVitAttentionPair"]


class LayerScale(nn.Module):
    """Per-channel learnable scale (init 1e-5), as in RVT/timm."""

    def __init__(self, dim: int, init_value: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init_value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class PartitionSelfAttention(nn.Module):
    """Multi-head self-attention inside windows or grids of a (B, H, W, C) map; no position bias.

    RVT lays out ``qkv`` output channels per head as [q_h, k_h, v_h] (``view(..., heads, 3*dim_head)``);
    we keep that layout so imported weights mean the same thing.
    """

    def __init__(self, dim: int, dim_head: int, partition_hw: tuple[int, int], grid: bool) -> None:
        super().__init__()
        if dim % dim_head:
            raise ValueError(f"attention dim {dim} is not a multiple of dim_head {dim_head}")
        self.num_heads = dim // dim_head
        self.dim_head = dim_head
        self.partition_hw = partition_hw
        self.grid = grid
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        p, q = self.partition_hw
        if h % p or w % q:
            raise ValueError(f"feature map {h}x{w} is not divisible by the partition {p}x{q}")
        nh, nw, heads, dh = h // p, w // q, self.num_heads, self.dim_head
        qkv = self.qkv(x)
        if self.grid:  # tokens of a group are nh (nw) apart: (b, p, nh, q, nw, ...)
            qkv = qkv.view(b, p, nh, q, nw, heads, 3 * dh).permute(0, 2, 4, 5, 1, 3, 6)
        else:  # windows: (b, nh, p, nw, q, ...)
            qkv = qkv.view(b, nh, p, nw, q, heads, 3 * dh).permute(0, 1, 3, 5, 2, 4, 6)
        qkv = qkv.reshape(b * nh * nw, heads, p * q, 3 * dh)
        q_, k_, v_ = qkv.chunk(3, dim=-1)
        out = F.scaled_dot_product_attention(q_, k_, v_)  # scale dim_head ** -0.5, as RVT
        out = out.view(b, nh, nw, heads, p, q, dh)
        if self.grid:
            out = out.permute(0, 4, 1, 5, 2, 3, 6)  # (b, p, nh, q, nw, heads, dh)
        else:
            out = out.permute(0, 1, 4, 2, 5, 3, 6)  # (b, nh, p, nw, q, heads, dh)
        return self.proj(out.reshape(b, h, w, c))


class _Mlp(nn.Module):
    """Linear -> GELU -> Linear; nested as RVT's ``net.0.0`` / ``net.2`` (``net.1`` is a no-op dropout)."""

    def __init__(self, dim: int, ratio: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Sequential(nn.Linear(dim, ratio * dim), nn.GELU()),
            nn.Identity(),  # RVT: Dropout(p=0)
            nn.Linear(ratio * dim, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PartitionAttentionBlock(nn.Module):
    """Pre-norm attention + MLP block with LayerScale (RVT ``PartitionAttentionCl``)."""

    def __init__(self, dim: int, dim_head: int, partition_hw: tuple[int, int], grid: bool,
                 skip_first_norm: bool) -> None:
        super().__init__()
        self.norm1 = nn.Identity() if skip_first_norm else nn.LayerNorm(dim, eps=1e-5)
        self.self_attn = PartitionSelfAttention(dim, dim_head, partition_hw, grid)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = _Mlp(dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.self_attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class MaxVitAttentionPair(nn.Module):
    """Window-attention block followed by grid-attention block, (B, H, W, C) in and out."""

    def __init__(self, dim: int, dim_head: int, partition_hw: tuple[int, int], skip_first_norm: bool) -> None:
        super().__init__()
        self.att_window = PartitionAttentionBlock(dim, dim_head, partition_hw, grid=False,
                                                  skip_first_norm=skip_first_norm)
        self.att_grid = PartitionAttentionBlock(dim, dim_head, partition_hw, grid=True, skip_first_norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.att_grid(self.att_window(x))
