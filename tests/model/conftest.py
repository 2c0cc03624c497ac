"""Shared helpers for model tests: single-threaded torch, hand-built head outputs."""

from __future__ import annotations

import pytest
import torch

from leod_core.model.head import HeadOutput


@pytest.fixture(autouse=True)
def _one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture
def head_output():
    """Factory of hand-built head outputs (see :func:`make_head_output`)."""
    return make_head_output


def make_head_output(grid_hw: tuple[int, int] = (8, 8), stride: int = 8, num_classes: int = 2,
                     batch: int = 1) -> HeadOutput:
    """One stride level; each anchor predicts a 16x16 box at its own center, logits 0."""
    h, w = grid_hw
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    grid = torch.stack((xs, ys), dim=-1).reshape(-1, 2)
    strides = torch.full((h * w,), float(stride))
    centers = (grid + 0.5) * stride
    preds = torch.zeros(batch, h * w, 5 + num_classes)
    preds[..., :2] = centers
    preds[..., 2:4] = 16.0
    return HeadOutput(preds=preds, grid_xy=grid, strides=strides)
