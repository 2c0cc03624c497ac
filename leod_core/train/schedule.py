"""LEOD/RVT learning-rate schedule: OneCycle with linear annealing and no momentum cycling.

REFERENCE section 8: initial lr = peak / ``div_factor`` (20), linear warm-up over ``pct_start`` (0.005) of
the steps, then linear decay to peak / ``final_div_factor`` (10 000; LEOD's config value is max/final, i.e.
PyTorch's ``final_div_factor`` = 10000 / 20). ``lr_at`` reproduces ``torch.optim.lr_scheduler.OneCycleLR``
(``anneal_strategy='linear'``, ``cycle_momentum=False``) step for step, and also works where PyTorch divides
by zero (a warm-up of exactly one step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from leod_core.config import TrainConfig

__all__ = ["OneCycle", "lr_at", "make_scheduler"]


@dataclass(frozen=True)
class OneCycle:
    """The schedule's numbers; ``from_config`` reads them from ``TrainConfig``."""

    peak_lr: float
    pct_start: float = 0.005
    div_factor: float = 20.0
    final_div_factor: float = 10000.0  # LEOD meaning: final lr = peak_lr / final_div_factor

    @classmethod
    def from_config(cls, cfg: TrainConfig, peak_lr: float) -> OneCycle:
        return cls(peak_lr=peak_lr, pct_start=cfg.pct_start, div_factor=cfg.div_factor,
                   final_div_factor=cfg.final_div_factor)

    @property
    def initial_lr(self) -> float:
        return self.peak_lr / self.div_factor

    @property
    def final_lr(self) -> float:
        # PyTorch computes min_lr = initial_lr / (final_div_factor / div_factor); keep its float order
        return self.initial_lr / (self.final_div_factor / self.div_factor)


def lr_at(step: int, total: int, sched: OneCycle) -> float:
    """Learning rate used by optimizer step ``step`` (0-based) of ``total`` steps.

    Raises ValueError for a step outside [0, total] (PyTorch's scheduler allows stepping to ``total``).
    """
    if total < 1:
        raise ValueError(f"total steps must be >= 1, got {total}")
    if not 0 <= step <= total:
        raise ValueError(f"step {step} outside [0, {total}]")
    warm_end = float(sched.pct_start * total) - 1.0  # same float expression as PyTorch
    last = float(total - 1)
    if warm_end == 0.0 and step == 0:  # one-step warm-up: PyTorch divides 0/0 here
        return sched.peak_lr
    if step <= warm_end:
        pct = step / warm_end
        return _linear(sched.initial_lr, sched.peak_lr, pct)
    if warm_end == last:  # whole schedule is warm-up (pct_start = 1); PyTorch would divide by zero
        return sched.peak_lr
    pct = (step - warm_end) / (last - warm_end)
    return _linear(sched.peak_lr, sched.final_lr, pct)


def _linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start  # PyTorch's _annealing_linear, same float order


class _Factor:
    """LambdaLR multiplier lr_at(step) / peak; holds only plain numbers (its __dict__ is checkpointed and
    must load with ``torch.load(weights_only=True)``)."""

    def __init__(self, total: int, sched: OneCycle) -> None:
        self.total = total
        self.numbers = (sched.peak_lr, sched.pct_start, sched.div_factor, sched.final_div_factor)

    def __call__(self, step: int) -> float:
        sched = OneCycle(*self.numbers)
        return lr_at(min(step, self.total), self.total, sched) / sched.peak_lr


def make_scheduler(optimizer: torch.optim.Optimizer, total: int,
                   sched: OneCycle) -> torch.optim.lr_scheduler.LambdaLR:
    """A checkpointable scheduler following ``lr_at``; every param group's lr must equal ``sched.peak_lr``.

    Call ``scheduler.step()`` after each ``optimizer.step()`` (as PyTorch Lightning does with interval 'step').
    """
    for group in optimizer.param_groups:
        group["lr"] = sched.peak_lr
        group.pop("initial_lr", None)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _Factor(total, sched))
