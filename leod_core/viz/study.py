"""The study's figure: test mAP against the label ratio, one line per self-training round."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.viz.plots import _figure, _save

__all__ = ["plot_study"]


def plot_study(raw: pd.DataFrame, path: str | Path, rounds: int, title: str = "LEOD study") -> Path:
    """One panel per setting (WSOD, SSOD): mAP (COCO AP x 100, the mean over seeds with its 95 % Student's t
    interval as error bars) against the label ratio (log axis) for rounds 0..``rounds``; the full-label
    mAP as a dashed line.

    ``raw`` holds the study's long table (columns ``kind``, ``setting``, ``ratio``, ``seed``, ``round``,
    ``AP``); rows of other kinds (ablations) are ignored.
    """
    main = raw[raw["kind"] == "main"]
    full = raw[(raw["kind"] == "full") & (raw["round"] == 0)]["AP"].dropna() * 100
    settings = [s for s in ("wsod", "ssod") if (main["setting"] == s).any()] or ["wsod"]
    fig, axes = _figure(5.0 * len(settings), 3.8, ncols=len(settings))
    axes = np.atleast_1d(axes)
    for ax, setting in zip(axes, settings):
        sel = main[main["setting"] == setting]
        for k in range(rounds + 1):
            st = sel[sel["round"] == k].groupby("ratio")["AP"].agg(["mean", "std", "count"]).dropna(subset=["mean"])
            if st.empty:
                continue
            label = "round 0 (supervised)" if k == 0 else f"round {k}"
            ax.errorbar(st.index.to_numpy() * 100, st["mean"] * 100, yerr=_ci_half_width(st) * 100,
                        marker="o", capsize=3, label=label)
        if len(full):
            ax.axhline(full.mean(), color="k", ls="--", lw=1, label=f"full labels ({full.mean():.1f})")
        ratios = sorted(sel["ratio"].unique())
        ax.set_xscale("log")
        if ratios:
            ax.set_xticks([r * 100 for r in ratios], [f"{r * 100:g}%" for r in ratios])
            ax.set_xticks([], minor=True)  # log-scale minor ticks would print "6x10^0" between the ratios
        ax.set(xlabel="labelled ratio", ylabel="test mAP (AP x 100), 95% CI", title=setting.upper())
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no finished runs yet", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title)
    return _save(fig, path)


def _ci_half_width(st: pd.DataFrame) -> np.ndarray:
    """Half width of the 95 % t interval of each mean (columns std, count); 0 where one seed only."""
    from scipy import stats

    from leod_core.study import CI_LEVEL

    n = st["count"].to_numpy(dtype=float)
    t = np.where(n > 1, stats.t.ppf(0.5 + CI_LEVEL / 2, np.maximum(n - 1, 1)), 0.0)
    return np.nan_to_num(t * st["std"].fillna(0).to_numpy() / np.sqrt(np.maximum(n, 1)))
