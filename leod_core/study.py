"""The label-ratio x seed study's runs and its tables: results, paired gains with their confidence
intervals, ablations. ``flows/study_plan.py`` plans the runs from ``study.*``; ``flows/study.py`` runs them.

A *run* is one self-training pipeline (round 0 + ``rounds`` self-training rounds) in its own folder
``<study>/<run_id>/`` (the same ``round_k/...`` layout as the main pipeline), defined by a list of
``key=value`` overrides on top of ``params.yaml``:
- main runs: every (setting, ratio) of ``study.wsod_ratios`` / ``study.ssod_ratios`` x ``study.seeds``;
- full-label runs (round 0 only, ``subsample.ratio=1.0``), one per seed;
- ablation runs: one per ``study.ablations`` name x seed, at WSOD ``study.ablation_ratio``; they share
  round 0 with the main run of the same ratio and seed (the ablations change self-training only).

A seed ``s`` sets the label split (``subsample.split_offset=s``, as the paper averages 3 splits) and
``train.seed=s``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


__all__ = ["RunSpec", "round_column", "format_ratio", "mean_std", "paired_ci", "ci_cell", "CI_LEVEL", "results_table", "ablation_table", "gains_table", "main_groups", "boot_cell", "RAW_COLUMNS",
           "QUALITY_COLUMNS", "GAIN_COLUMNS"]

#: quality columns of results.csv / ablations.csv (pseudo labels of round 1, made by round 0's model)
QUALITY_COLUMNS = ("pseudo precision@.5", "pseudo recall@.5")
#: the long per-run table (one row per run and round)
RAW_COLUMNS = ("run_id", "kind", "setting", "ratio", "seed", "ablation", "round", "AP", "AP_50", "AP_75",
               "pseudo_precision", "pseudo_recall", "pseudo_AP")


@dataclass(frozen=True)
class RunSpec:
    """One run of the study."""

    run_id: str
    kind: str  # main | full | ablation
    setting: str
    ratio: float
    seed: int
    rounds: int
    ablation: str = ""  # the ablation's name (``study.ablations``; ablation runs)
    base: str | None = None  # run whose round 0 this run shares (ablation runs)
    overrides: tuple[str, ...] = field(default=())  # the run's own keys (on top of the study's)
    label: str = ""  # an ablation's row in ablations.csv


def format_ratio(ratio: float) -> str:
    """0.01 -> '1%', 1.0 -> '100%' (table and run-id form)."""
    return f"{ratio * 100:g}%"


def round_column(k: int) -> str:
    return "round 0 (supervised)" if k == 0 else f"round {k}"


def mean_std(values: Sequence[float], scale: float = 100.0) -> str:
    """'12.3 ± 1.4' over the finite values (sample std); one value alone has no '±'; none -> ''."""
    v = [float(x) * scale for x in values if x is not None and not math.isnan(float(x))]
    if not v:
        return ""
    m = sum(v) / len(v)
    if len(v) == 1:
        return f"{m:.1f}"
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    return f"{m:.1f} ± {sd:.1f}"


def _cell(raw: pd.DataFrame, run_ids: Sequence[str], round_idx: int, col: str) -> str:
    sel = raw[raw["run_id"].isin(list(run_ids)) & (raw["round"] == round_idx)]
    return mean_std(sel[col].tolist())


def _main_groups(runs: Sequence[RunSpec]) -> dict[tuple[str, float], list[str]]:
    """Run ids of the main runs per (setting, ratio), in plan order (one per seed)."""
    groups: dict[tuple[str, float], list[str]] = {}
    for r in runs:
        if r.kind == "main":
            groups.setdefault((r.setting, r.ratio), []).append(r.run_id)
    return groups


def results_table(raw: pd.DataFrame, runs: Sequence[RunSpec], rounds: int) -> pd.DataFrame:
    """results.csv: one row per (setting, ratio) of the main runs; mAP (COCO AP x 100) per round as
    mean ± std over seeds, the full-label mAP, and the precision / recall @ IoU .5 (x 100) of round 1's
    pseudo labels against the withheld ground truth."""
    cols = ["setting", "ratio"] + [round_column(k) for k in range(rounds + 1)] + ["full labels", *QUALITY_COLUMNS]
    full_ids = [r.run_id for r in runs if r.kind == "full"]
    full = _cell(raw, full_ids, 0, "AP")
    groups = _main_groups(runs)
    rows = []
    for (setting, ratio), ids in groups.items():
        row = {"setting": setting.upper(), "ratio": format_ratio(ratio), "full labels": full}
        row.update({round_column(k): _cell(raw, ids, k, "AP") for k in range(rounds + 1)})
        row[QUALITY_COLUMNS[0]] = _cell(raw, ids, 1, "pseudo_precision")
        row[QUALITY_COLUMNS[1]] = _cell(raw, ids, 1, "pseudo_recall")
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


#: columns of gains.csv (one row per main setting and self-training round)
GAIN_COLUMNS = ("setting", "ratio", "round", "seeds", "AP", "paired gain", "gain 95% CI", "gain 95% CI test-seq boot",
                "gain / std", "gap recovered %", *QUALITY_COLUMNS)
#: the confidence of the intervals the study reports (paired differences over seeds, Student's t)
CI_LEVEL = 0.95


def paired_ci(values: Sequence[float], level: float = CI_LEVEL) -> tuple[float, float, float] | None:
    """(mean, low, high) of the mean of paired differences: Student's t interval over the seeds, which
    assumes the per-seed differences roughly normal (with 5 seeds nothing better is testable); None
    below 2 values."""
    from scipy import stats

    v = [float(x) for x in values if x is not None and not math.isnan(float(x))]
    if len(v) < 2:
        return None
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1)) * sd / math.sqrt(len(v))
    return m, m - half, m + half


def ci_cell(values: Sequence[float], scale: float = 100.0) -> str:
    """'[low, high]' of :func:`paired_ci` in points (AP x 100); '' below 2 values."""
    ci = paired_ci(values)
    return "" if ci is None else f"[{ci[1] * scale:+.1f}, {ci[2] * scale:+.1f}]"


def _ap_by_seed(raw: pd.DataFrame, run_ids: Sequence[str], round_idx: int) -> dict[int, float]:
    sel = raw[raw["run_id"].isin(list(run_ids)) & (raw["round"] == round_idx)].dropna(subset=["AP"])
    return {int(seed): float(ap) for seed, ap in zip(sel["seed"], sel["AP"])}


def _gain_over_std(values: Sequence[float]) -> str:
    """mean / sample std of paired differences (how many of its own stds the gain is); '' below 2 values."""
    if len(values) < 2:
        return ""
    m = sum(values) / len(values)
    sd = math.sqrt(sum((x - m) ** 2 for x in values) / (len(values) - 1))
    return "inf" if sd == 0 else f"{m / sd:.1f}"


def main_groups(runs: Sequence[RunSpec]) -> dict[tuple[str, float], list[str]]:
    """{(setting, ratio): run ids} of the main runs (one per seed)."""
    return _main_groups(runs)


def boot_cell(ci: Any, scale: float = 100.0) -> str:
    """'[low, high]' of a bootstrap interval in points (AP x 100); '' without one."""
    return "" if ci is None else f"[{ci.low * scale:+.1f}, {ci.high * scale:+.1f}]"


def gains_table(raw: pd.DataFrame, runs: Sequence[RunSpec], rounds: int,
                boot: Mapping[tuple[str, float, int], Any] | None = None) -> pd.DataFrame:
    """gains.csv: what self-training adds, read against seed noise. Per main setting and round k >= 1:
    the seeds with both rounds, AP of round k, the *paired* gain (round k - round 0 of the same seed, points
    of AP x 100) as mean ± std with its t interval over seeds, the percentile interval of the same mean gain
    over resamples of the test sequences (``boot``: {(setting, ratio, k): BootstrapCI}, from
    :func:`leod_core.eval.bootstrap.paired_bootstrap`), the gain in units of its own std, the share of the
    gap to full labels that round k recovers ((k - 0) / (full - 0) per seed, the full-label run of the
    same seed), and the quality of round k's pseudo labels."""
    full = _ap_by_seed(raw, [r.run_id for r in runs if r.kind == "full"], 0)
    groups = _main_groups(runs)
    rows = []
    for (setting, ratio), ids in groups.items():
        base = _ap_by_seed(raw, ids, 0)
        for k in range(1, rounds + 1):
            ap_k = _ap_by_seed(raw, ids, k)
            seeds = sorted(set(base) & set(ap_k))
            gains = [ap_k[s] - base[s] for s in seeds]
            shares = [(ap_k[s] - base[s]) / (full[s] - base[s]) for s in seeds if s in full and full[s] != base[s]]
            rows.append({"setting": setting.upper(), "ratio": format_ratio(ratio), "round": k, "seeds": len(seeds),
                         "AP": mean_std([ap_k[s] for s in seeds]), "paired gain": mean_std(gains),
                         "gain 95% CI": ci_cell(gains),
                         "gain 95% CI test-seq boot": boot_cell((boot or {}).get((setting, ratio, k))),
                         "gain / std": _gain_over_std(gains), "gap recovered %": mean_std(shares),
                         QUALITY_COLUMNS[0]: _cell(raw, ids, k, "pseudo_precision"),
                         QUALITY_COLUMNS[1]: _cell(raw, ids, k, "pseudo_recall")})
    return pd.DataFrame(rows, columns=list(GAIN_COLUMNS))


#: row names of ablations.csv, worded as in LEOD's ablation table
def ablation_table(raw: pd.DataFrame, runs: Sequence[RunSpec], rounds: int) -> pd.DataFrame:
    """ablations.csv: the reference run ("all components", the main WSOD run at the ablation ratio) and
    one row per ablation; mAP per round, round 1's pseudo-label precision / recall, and the paired change of
    the last round's mAP against the reference on the same seed, mean ± std (points of AP x 100)."""
    last = round_column(rounds)
    cols = ["ablation", "setting", "ratio"] + [round_column(k) for k in range(rounds + 1)] + \
        [*QUALITY_COLUMNS, f"delta {last} vs all", "delta 95% CI"]
    abl = [r for r in runs if r.kind == "ablation"]
    if not abl:
        return pd.DataFrame(columns=cols)
    groups: dict[str, list[str]] = {"all components": sorted({r.base for r in abl if r.base})}
    for r in abl:
        groups.setdefault(r.label or r.ablation, []).append(r.run_id)

    ref = _ap_by_seed(raw, groups["all components"], rounds)
    rows = []
    for name, ids in groups.items():
        row = {"ablation": name, "setting": "WSOD", "ratio": format_ratio(abl[0].ratio)}
        row.update({round_column(k): _cell(raw, ids, k, "AP") for k in range(rounds + 1)})
        row[QUALITY_COLUMNS[0]] = _cell(raw, ids, 1, "pseudo_precision")
        row[QUALITY_COLUMNS[1]] = _cell(raw, ids, 1, "pseudo_recall")
        mine = _ap_by_seed(raw, ids, rounds)  # paired: the ablation minus the full method on the same seed
        deltas = [mine[s] - ref[s] for s in sorted(set(mine) & set(ref))]
        row[f"delta {last} vs all"] = "" if name == "all components" else _signed(mean_std(deltas))
        row["delta 95% CI"] = "" if name == "all components" else ci_cell(deltas)
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _signed(cell: str) -> str:
    return cell if not cell or cell.startswith("-") else "+" + cell
