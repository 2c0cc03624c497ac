"""Rank candidate frames by their signals and pick a budget of them spread over sequences and time.

Input: the table of :mod:`leod_core.labelling.signals` (one row per unlabelled frame). The score is a
weighted sum of the signals, all counted in boxes. Picking is greedy by score (ties: sequence, then
frame, ascending), and a pick must lie at least ``min_gap_us`` (1 s) from every earlier pick of its
sequence: consecutive frames of one event stream look alike, so one of them teaches about as much as
several. When the budget cannot be met, the gap is halved and the pass repeated (down to 0), so the
result is the same for the same table whatever the machine.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leod_core.labelling.signals import SIGNAL_COLUMNS

__all__ = ["Weights", "SUGGESTION_COLUMNS", "score_frames", "frame_reason", "select_frames", "suggest_frames"]

#: the frame list: rank (1 = label first), the frame, score, reason, the signals, the gap rule it met
SUGGESTION_COLUMNS = ("rank", "sequence", "frame_idx", "t", "score", "reason", *SIGNAL_COLUMNS[3:], "min_gap_us")
ONE_SECOND_US = 1_000_000


@dataclass(frozen=True)
class Weights:
    """Weight of each signal in the score (per box of disagreement, tracker verdict, score mass)."""

    disagreement: float = 1.0
    tracker: float = 1.0
    uncertain: float = 1.0

    def __post_init__(self) -> None:
        for name, v in vars(self).items():
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"weight {name} must be a finite number >= 0, got {v}")


def score_frames(signals: pd.DataFrame, weights: Weights = Weights()) -> np.ndarray:
    """(N,) float64 score of each signal row."""
    return (weights.disagreement * signals["disagreement"].to_numpy(np.float64)
            + weights.tracker * (signals["rejected"].to_numpy(np.float64) + signals["inpainted"].to_numpy(np.float64))
            + weights.uncertain * signals["uncertain"].to_numpy(np.float64))


def frame_reason(row: pd.Series | dict, weights: Weights = Weights()) -> str:
    """Why a frame ranks where it does: its contributing signals, the largest contribution first."""
    parts = []
    if row["disagreement"] > 0:
        parts.append((weights.disagreement * row["disagreement"],
                      f"test-time views disagree on {row['disagreement']:.2f} boxes"))
    if row["rejected"] or row["inpainted"]:
        parts.append((weights.tracker * (row["rejected"] + row["inpainted"]),
                      f"tracker rejected {int(row['rejected'])}, inpainted {int(row['inpainted'])}"))
    if row["uncertain"] > 0:
        parts.append((weights.uncertain * row["uncertain"],
                      f"score mass {row['uncertain']:.2f} under the thresholds"))
    parts.sort(key=lambda p: -p[0])  # stable: equal contributions keep the order above
    return "; ".join(text for _, text in parts) or "no signal (fills the budget)"


def select_frames(scored: pd.DataFrame, budget: int, min_gap_us: int = ONE_SECOND_US) -> pd.DataFrame:
    """Pick ``budget`` rows of ``scored`` (columns sequence, t, score, frame_idx): greedy by score, at
    least ``min_gap_us`` from the earlier picks of the same sequence; the gap halves until the budget is
    met or every row is picked. Returns the picks in pick order with a ``min_gap_us`` column (the gap in
    force when each was picked)."""
    if budget < 1:
        raise ValueError(f"--budget must be >= 1, got {budget}")
    if min_gap_us < 0:
        raise ValueError(f"min_gap_us must be >= 0, got {min_gap_us}")
    order = scored.assign(_neg=-scored["score"].to_numpy(np.float64)).sort_values(
        ["_neg", "sequence", "frame_idx"], kind="stable").index.to_list()
    seqs, times = scored["sequence"].astype(str).to_dict(), scored["t"].astype(np.int64).to_dict()
    picked: list[tuple[int, int]] = []  # (row label, gap in force)
    taken: set = set()
    by_seq: dict[str, list[int]] = {}  # sorted pick times per sequence
    gap = int(min_gap_us)
    while len(picked) < min(budget, len(order)):
        for i in order:
            if len(picked) >= budget:
                break
            if i in taken:
                continue
            ts = by_seq.setdefault(seqs[i], [])
            t = times[i]
            j = bisect.bisect_left(ts, t)
            # a neighbour closer than the gap on either side blocks this frame in this pass
            if (j < len(ts) and ts[j] - t < gap) or (j > 0 and t - ts[j - 1] < gap):
                continue
            ts.insert(j, t)
            taken.add(i)
            picked.append((i, gap))
        gap //= 2  # relax: 1 s, 0.5 s, 0.25 s, ... 1 us, then 0 (no constraint)
    out = scored.loc[[i for i, _ in picked]].reset_index(drop=True)
    out["min_gap_us"] = np.array([g for _, g in picked], np.int64)
    return out


def suggest_frames(signals: pd.DataFrame, budget: int, weights: Weights = Weights(),
                   min_gap_us: int = ONE_SECOND_US) -> pd.DataFrame:
    """The frame list: ``budget`` frames of ``signals`` ranked 1.. with score, reason and signals."""
    missing = [c for c in SIGNAL_COLUMNS if c not in signals.columns]
    if missing:
        raise ValueError(f"signal table: missing columns {missing}")
    if budget < 1:
        raise ValueError(f"--budget must be >= 1, got {budget}")
    scored = signals.reset_index(drop=True).assign(score=score_frames(signals, weights))
    picks = select_frames(scored, budget, min_gap_us)
    picks["reason"] = [frame_reason(r, weights) + ("" if g >= min_gap_us else f"; picked at a {g / 1e6:g} s gap")
                       for r, g in zip(picks.to_dict("records"), picks["min_gap_us"])]
    picks["rank"] = np.arange(1, len(picks) + 1, dtype=np.int64)
    return picks[list(SUGGESTION_COLUMNS)]
