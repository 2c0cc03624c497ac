"""The figure of ``leod labelling-study``: paired differences suggest - uniform per seed, with the 95 % CI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.viz.plots import _figure, _save

__all__ = ["plot_paired_differences"]


def plot_paired_differences(runs: pd.DataFrame, path: str | Path, title: str = "Suggested vs uniform frames") -> Path:
    """One panel per budget ratio: per round (0, 1), the paired difference AP(suggest) - AP(uniform) of each
    seed (points of AP x 100) as dots, their mean as a bar and its 95 % Student's t interval as error bar;
    the zero line is "no difference". ``runs`` is runs.csv (columns seed, ratio, arm, round, AP)."""
    from leod_core.labelling.budget_study import paired_differences
    from leod_core.study import paired_ci

    ratios = sorted(runs["ratio"].unique()) if len(runs) else []
    fig, axes = _figure(5.5 * max(len(ratios), 1), 3.8, ncols=max(len(ratios), 1))
    axes = np.atleast_1d(axes)
    for ax, ratio in zip(axes, ratios or [None]):
        rounds = sorted(runs.loc[runs["ratio"] == ratio, "round"].unique()) if ratio is not None else []
        drawn = False
        for k in rounds:
            d = paired_differences(runs, ratio, int(k))
            if not d:
                continue
            drawn = True
            seeds, v = list(d), np.array(list(d.values())) * 100
            jitter = np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.zeros(1)
            ax.scatter(k + jitter, v, s=18, color=f"C{k}", zorder=3)
            for x, y, s in zip(k + jitter, v, seeds):
                ax.annotate(f"s{s}", (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
            ci = paired_ci(v / 100)
            if ci is not None:
                ax.errorbar([k + 0.3], [ci[0] * 100], yerr=[[(ci[0] - ci[1]) * 100], [(ci[2] - ci[0]) * 100]],
                            fmt="s", color="k", capsize=4, label="mean, 95% CI" if k == rounds[0] else None)
        ax.axhline(0.0, color="0.4", lw=1, ls="--")
        ax.set_xticks(rounds, [f"round {int(k)}" for k in rounds])
        ax.set_xlim(-0.5, max(rounds, default=0) + 0.7)
        ax.set(ylabel="AP(suggest) - AP(uniform), points",
               title=f"budget = WSOD {ratio * 100:g}%" if ratio is not None else "")
        ax.grid(alpha=0.3, axis="y")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        if not drawn:
            ax.text(0.5, 0.5, "no finished seed yet", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
