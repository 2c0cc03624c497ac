"""MaxViT attention blocks of RVT (channels-last): window attention then grid attention.

Each block is ``x + LayerScale(Attn(LN(x)))`` then ``x + LayerScale(MLP(LN(x)))``. Attention runs inside
non-overlapping P-sized windows (local) or P-sized dilated grids (global). Module and parameter names
mirror RVT (``att_window.self_attn.qkv``, ``mlp.net.0.0``, ``ls1.gamma``) so checkpoints load strictly.

Speed: every per-token op runs on the partitioned groups, so a block copies the residual stream twice
(partition, unpartition; RVT: three times); q, k, v stay strided views into the qkv output and the
attention is ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LayerScale", "PartitionSelfAttention", "PartitionAttentionBlock", "MaxVitAttentionPair",
           "partition", "unpartition"]


class LayerScale(nn.Module):
    """Per-channel learnable scale (init 1e-5), as in RVT/timm."""

    def __init__(self, dim: int, init_value: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init_value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class PartitionSelfAttention(nn.Module):
    """Multi-head self-attention over groups of tokens (G, T, C); no position bias.

    RVT lays out ``qkv`` output channels per head as [q_h, k_h, v_h] (``view(..., heads, 3*dim_head)``);
    we keep that layout so imported weights mean the same thing.
    """

    def __init__(self, dim: int, dim_head: int) -> None:
        super().__init__()
        if dim % dim_head:
            raise ValueError(f"attention dim {dim} is not a multiple of dim_head {dim_head}")
        self.num_heads = dim // dim_head
        self.dim_head = dim_head
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g, t, c = x.shape
        qkv = self.qkv(x).view(g, t, self.num_heads, 3 * self.dim_head).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)  # strided views, no copies
        out = F.scaled_dot_product_attention(q, k, v)  # (G, heads, T, dh); scale dim_head ** -0.5 as RVT
        return self.proj(out.transpose(1, 2).reshape(g, t, c))


def partition(x: torch.Tensor, part_hw: tuple[int, int], grid: bool) -> torch.Tensor:
    """(B, H, W, C) -> (G, p*q, C) token groups: P-sized windows, or P-sized grids with stride (H/p, W/q)."""
    b, h, w, c = x.shape
    p, q = part_hw
    if h % p or w % q:
        raise ValueError(f"feature map {h}x{w} is not divisible by the partition {p}x{q}")
    if grid:
        x = x.view(b, p, h // p, q, w // q, c).permute(0, 2, 4, 1, 3, 5)
    else:
        x = x.view(b, h // p, p, w // q, q, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, p * q, c)


def unpartition(x: torch.Tensor, part_hw: tuple[int, int], grid: bool, b: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`partition`: (G, p*q, C) -> (B, H, W, C)."""
    p, q = part_hw
    c = x.shape[-1]
    if grid:
        x = x.view(b, h // p, w // q, p, q, c).permute(0, 3, 1, 4, 2, 5)
    else:
        x = x.view(b, h // p, w // q, p, q, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


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
    """Pre-norm attention + MLP block with LayerScale (RVT ``PartitionAttentionCl``).

    All per-token work (LN, qkv, proj, MLP, residuals) runs on the partitioned token groups, so the
    block costs two layout copies (partition, unpartition) of the C-wide residual stream.
    """

    def __init__(self, dim: int, dim_head: int, partition_hw: tuple[int, int], grid: bool,
                 skip_first_norm: bool) -> None:
        super().__init__()
        self.partition_hw = partition_hw
        self.grid = grid
        self.norm1 = nn.Identity() if skip_first_norm else nn.LayerNorm(dim, eps=1e-5)
        self.self_attn = PartitionSelfAttention(dim, dim_head)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = _Mlp(dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        b, h, w, _ = x.shape
        t = partition(x, self.partition_hw, self.grid)
        t = t + self.ls1(self.self_attn(self.norm1(t)))
        t = t + self.ls2(self.mlp(self.norm2(t)))
        return unpartition(t, self.partition_hw, self.grid, b, h, w)


class MaxVitAttentionPair(nn.Module):
    """Window-attention block followed by grid-attention block, (B, H, W, C) in and out."""

    def __init__(self, dim: int, dim_head: int, partition_hw: tuple[int, int], skip_first_norm: bool) -> None:
        super().__init__()
        self.att_window = PartitionAttentionBlock(dim, dim_head, partition_hw, grid=False,
                                                  skip_first_norm=skip_first_norm)
        self.att_grid = PartitionAttentionBlock(dim, dim_head, partition_hw, grid=True, skip_first_norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.att_grid(self.att_window(x))
