"""OneCycle schedule: equals PyTorch's OneCycleLR configured as LEOD, and the LEOD end points."""

from __future__ import annotations

import math

import pytest
import torch

from leod_core.config import TrainConfig
from leod_core.train.schedule import OneCycle, lr_at, make_scheduler


def _torch_lrs(total: int, sched: OneCycle) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=sched.peak_lr, weight_decay=0.0)
    s = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=sched.peak_lr, total_steps=total, pct_start=sched.pct_start, anneal_strategy="linear",
        cycle_momentum=False, div_factor=sched.div_factor,
        final_div_factor=sched.final_div_factor / sched.div_factor)
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return lrs


@pytest.mark.parametrize("total,pct", [(2000, 0.005), (6, 0.005), (50, 0.3), (7, 0.5)])
def test_lr_at_matches_torch_onecycle(total: int, pct: float) -> None:
    sched = OneCycle(peak_lr=2e-4, pct_start=pct)
    ours = [lr_at(i, total, sched) for i in range(total)]
    assert ours == pytest.approx(_torch_lrs(total, sched), rel=1e-12, abs=0)


def test_leod_end_points() -> None:
    sched = OneCycle.from_config(TrainConfig(), peak_lr=2e-4)
    total = 400_000
    assert lr_at(0, total, sched) == pytest.approx(2e-4 / 20)
    assert lr_at(1999, total, sched) == pytest.approx(2e-4)  # warm-up = 0.005 * 400k steps
    assert lr_at(1000, total, sched) == pytest.approx((2e-4 / 20 + 2e-4) / 2, rel=1e-3)
    assert lr_at(total - 1, total, sched) == pytest.approx(2e-4 / 10_000)
    mid = lr_at(200_000, total, sched)
    assert 2e-4 / 10_000 < mid < 2e-4


def test_one_step_warmup_where_torch_divides_by_zero() -> None:
    sched = OneCycle(peak_lr=1.0, pct_start=0.005)
    assert lr_at(0, 200, sched) == 1.0
    assert lr_at(199, 200, sched) == pytest.approx(1.0 / 10_000)
    assert all(lr_at(i + 1, 200, sched) < lr_at(i, 200, sched) for i in range(198))


def test_out_of_range_step_raises() -> None:
    with pytest.raises(ValueError, match="outside"):
        lr_at(11, 10, OneCycle(peak_lr=1.0))


def test_make_scheduler_follows_lr_at_and_resumes() -> None:
    sched = OneCycle(peak_lr=5e-4, pct_start=0.3)
    total = 10
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=123.0, weight_decay=0.0)
    s = make_scheduler(opt, total, sched)
    seen = []
    for i in range(total):
        seen.append(opt.param_groups[0]["lr"])
        assert math.isclose(seen[-1], lr_at(i, total, sched), rel_tol=1e-12)
        opt.step()
        s.step()
        if i == 4:
            state = (opt.state_dict(), s.state_dict())
    opt2 = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=123.0, weight_decay=0.0)
    s2 = make_scheduler(opt2, total, sched)
    opt2.load_state_dict(state[0])
    s2.load_state_dict(state[1])
    assert opt2.param_groups[0]["lr"] == seen[5]
