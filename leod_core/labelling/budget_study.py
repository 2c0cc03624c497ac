"""Does suggesting frames pay? The arithmetic and tables of ``leod labelling-study`` (pure: no Prefect, torch).

At an equal label budget of ``B`` frames (what LEOD's WSOD rule keeps at ratio ``r``), two arms per seed:

- *uniform*: LEOD's ``B`` evenly spaced frames;
- *suggest*: ``B // 2`` of those frames (every other kept frame: a WSOD split at about ``r / 2``), round 0'
  trained on them, then ``leod suggest-frames`` (round 0' as the pseudo-labeller) picks ``B - B // 2`` more;
  a simulated labeller "labels" them: their withheld ground truth joins the kept table.

Both arms then run round 0 (on exactly ``B`` frames) and one self-training round; the tables compare their
test AP paired by seed (the same split offset and training seed), with the study's 95 % Student's t
interval (:func:`leod_core.study.ci_cell`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from leod_core.study import ci_cell, format_ratio, mean_std, paired_ci

__all__ = ["ARMS", "RUN_COLUMNS", "RESULT_COLUMNS", "frame_keys", "count_frames", "budget_split", "half_uniform",
           "simulate_labeller", "run_id", "paired_differences", "results_table", "verdict"]

#: arms of the study: the uniform reference, round 0' of the suggest arm (B // 2 uniform frames), suggest
ARMS = ("uniform", "half", "suggest")
#: runs.csv: one row per seed, ratio, arm and round
RUN_COLUMNS = ("seed", "ratio", "arm", "round", "AP", "AP_50", "frames labelled")
#: results.csv: one row per ratio and round
RESULT_COLUMNS = ("ratio", "budget (frames)", "round", "seeds", "uniform AP", "suggest AP",
                  "suggest - uniform", "diff 95% CI", "verdict")


def run_id(arm: str, ratio: float, seed: int) -> str:
    """Folder name of one arm's run: ``uniform-0.05-s0``."""
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
    return f"{arm}-{ratio:g}-s{seed}"


def frame_keys(df: pd.DataFrame) -> pd.DataFrame:
    """The distinct (sequence, frame_idx) of a label table, sorted."""
    keys = df[["sequence", "frame_idx"]].astype({"sequence": str, "frame_idx": np.int64}).drop_duplicates()
    return keys.sort_values(["sequence", "frame_idx"], kind="stable").reset_index(drop=True)


def count_frames(df: pd.DataFrame, gt_only: bool = True) -> int:
    """Label frames of a table (only those holding ground truth when ``gt_only``)."""
    if gt_only and len(df):
        df = df[df["is_gt"].astype(bool)]
    return len(frame_keys(df)) if len(df) else 0


def budget_split(budget: int) -> tuple[int, int]:
    """(uniform frames, suggested frames) of the suggest arm at a budget of ``budget`` frames:
    (B // 2, B - B // 2). At least 2 frames: round 0' needs one uniform frame to train on."""
    if budget < 2:
        raise ValueError(f"a budget of {budget} frame(s) cannot be split: the suggest arm needs >= 2 "
                         "(one uniform frame for round 0', one suggested); take a larger ratio or dataset")
    return budget // 2, budget - budget // 2


def _mask(df: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    idx = pd.MultiIndex.from_arrays([df["sequence"].astype(str), df["frame_idx"].astype(np.int64)])
    want = pd.MultiIndex.from_arrays([keys["sequence"].astype(str), keys["frame_idx"].astype(np.int64)])
    return np.asarray(idx.isin(want), dtype=bool)


def _table(df: pd.DataFrame) -> pd.DataFrame:
    from leod_core.labels.table import empty_labels, validate_labels

    return validate_labels(df.reset_index(drop=True)) if len(df) else empty_labels()


def half_uniform(kept: pd.DataFrame, withheld: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The suggest arm's uniform half: of the ``B`` kept frames sorted by (sequence, frame_idx), every
    other one (positions 1, 3, 5, ...: exactly ``B // 2``, so within a sequence twice LEOD's spacing).
    Returns (kept rows of those frames, withheld + the rows of the frames dropped)."""
    keys = frame_keys(kept)
    budget_split(len(keys))
    half = keys.iloc[1::2]
    m = _mask(kept, half)
    return _table(kept[m]), _table(pd.concat([withheld, kept[~m]], ignore_index=True))


def simulate_labeller(kept: pd.DataFrame, withheld: pd.DataFrame,
                      picks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A labeller who draws exactly the withheld ground truth of the ``picks`` frames (columns sequence,
    frame_idx): returns (kept + those rows, as source "gt" / is_gt, the rest of withheld). A pick that
    is already labelled, picked twice, or has no withheld GT is an error (the budget would not hold)."""
    keys = picks[["sequence", "frame_idx"]].astype({"sequence": str, "frame_idx": np.int64})
    if keys.duplicated().any():
        dup = keys[keys.duplicated()].iloc[0]
        raise ValueError(f"frame {dup['sequence']}:{dup['frame_idx']} picked twice")
    if len(kept) and _mask(kept, keys).any():
        raise ValueError("a picked frame is labelled already (suggestions must come from unlabelled frames)")
    m = _mask(withheld, keys)
    found = frame_keys(withheld[m]) if m.any() else keys.iloc[:0]
    if len(found) != len(keys):
        have = set(zip(found["sequence"], found["frame_idx"]))
        miss = next((s, f) for s, f in zip(keys["sequence"], keys["frame_idx"]) if (s, f) not in have)
        raise ValueError(f"picked frame {miss[0]}:{miss[1]} has no withheld ground truth")
    labelled = withheld[m].assign(source="gt", is_gt=True)
    return _table(pd.concat([kept, labelled], ignore_index=True)), _table(withheld[~m])


def verdict(diffs: Sequence[float]) -> str:
    """Plain words for paired differences suggest - uniform: which arm the 95 % interval favours."""
    ci = paired_ci(diffs)
    if ci is None:
        return "too few seeds for an interval"
    if ci[1] > 0:
        return "suggest beats uniform"
    if ci[2] < 0:
        return "uniform beats suggest"
    return "no difference shown (the interval holds 0)"


def results_table(runs: pd.DataFrame) -> pd.DataFrame:
    """results.csv from runs.csv: per ratio and round, each arm's AP (x 100, mean ± std over the seeds
    both arms finished), the paired difference suggest - uniform (points, mean ± std), its 95 % t
    interval and the verdict."""
    rows = []
    for ratio in sorted(runs["ratio"].unique()):
        for k in sorted(runs.loc[runs["ratio"] == ratio, "round"].unique()):
            sel = runs[(runs["ratio"] == ratio) & (runs["round"] == k)].dropna(subset=["AP"])
            paired = paired_differences(runs, ratio, int(k))
            if not paired:
                continue
            seeds, diffs = list(paired), list(paired.values())
            by = {arm: dict(zip(sel.loc[sel["arm"] == arm, "seed"].astype(int), sel.loc[sel["arm"] == arm, "AP"]))
                  for arm in ("uniform", "suggest")}
            frames = sorted({int(f) for f in sel.loc[sel["arm"] == "uniform", "frames labelled"]})
            cell = mean_std(diffs)
            rows.append({"ratio": format_ratio(float(ratio)),
                         "budget (frames)": "-".join(str(f) for f in sorted({frames[0], frames[-1]})) if frames else "",
                         "round": int(k), "seeds": len(seeds),
                         "uniform AP": mean_std([by["uniform"][s] for s in seeds]),
                         "suggest AP": mean_std([by["suggest"][s] for s in seeds]),
                         "suggest - uniform": cell if cell.startswith("-") else "+" + cell,
                         "diff 95% CI": ci_cell(diffs),
                         "verdict": verdict(diffs)})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def paired_differences(runs: pd.DataFrame, ratio: float, round_idx: int) -> dict[int, float]:
    """{seed: AP(suggest) - AP(uniform)} of one ratio and round (seeds both arms finished)."""
    sel = runs[(runs["ratio"] == ratio) & (runs["round"] == round_idx)].dropna(subset=["AP"])
    u = dict(zip(sel.loc[sel["arm"] == "uniform", "seed"].astype(int), sel.loc[sel["arm"] == "uniform", "AP"]))
    s = dict(zip(sel.loc[sel["arm"] == "suggest", "seed"].astype(int), sel.loc[sel["arm"] == "suggest", "AP"]))
    return {k: float(s[k] - u[k]) for k in sorted(set(u) & set(s)) if not math.isnan(s[k] - u[k])}
