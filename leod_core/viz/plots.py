"""Plots of evaluation results: PR curves, mAP per round, pseudo-label quality.

Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg canvas, so nothing touches
pyplot's global state or the process-wide backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.atomic import atomic_path

__all__ = ["plot_pr_curves", "plot_rounds", "plot_quality"]


def _figure(width: float, height: float, ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


def _save(fig, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def plot_pr_curves(curves: Mapping[str, Mapping[str, Sequence[float]]], path: str | Path,
                   title: str = "Precision-recall at IoU 0.5", ap: Mapping[str, float] | None = None) -> Path:
    """One line per class from ``{name: {"recall": [...], "precision": [...]}}``; legend shows AP_50."""
    fig, ax = _figure(5, 4)
    for name, c in curves.items():
        label = name if ap is None or name not in ap else f"{name} (AP50 {ap[name]:.3f})"
        ax.plot(c["recall"], c["precision"], label=label)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(loc="lower left")
    return _save(fig, path)


def plot_rounds(df: pd.DataFrame, path: str | Path, title: str = "Self-training rounds") -> Path:
    """mAP per round (left) and pseudo-label precision per round (right).

    ``df`` columns: ``round`` and ``AP`` (required); optional ``AP_50`` and ``pseudo_precision``
    (precision of the pseudo labels used to train that round, NaN for round 0). Several rows per round
    (seeds, label splits) are shown as mean +- std.
    """
    for col in ("round", "AP"):
        if col not in df.columns:
            raise ValueError(f"plot_rounds: column {col!r} missing (have {list(df.columns)})")
    stats = df.groupby("round").agg(["mean", "std"]).sort_index()
    rounds = stats.index.to_numpy()
    fig, (ax_ap, ax_q) = _figure(9, 3.6, ncols=2)
    for col, marker in (("AP", "o"), ("AP_50", "s")):
        if col in df.columns:
            ax_ap.errorbar(rounds, stats[(col, "mean")], yerr=stats[(col, "std")].fillna(0), marker=marker,
                           capsize=3, label=col)
    ax_ap.set(xlabel="round", ylabel="test metric", title="detector mAP", xticks=rounds)
    ax_ap.grid(alpha=0.3)
    ax_ap.legend()
    if "pseudo_precision" in df.columns and stats[("pseudo_precision", "mean")].notna().any():
        q = stats[("pseudo_precision", "mean")]
        ax_q.bar(rounds, q.fillna(0), yerr=stats[("pseudo_precision", "std")].fillna(0), color="tab:orange",
                 capsize=3)
        ax_q.set(ylim=(0, 1))
    else:
        ax_q.text(0.5, 0.5, "no pseudo labels", ha="center", va="center", transform=ax_q.transAxes)
    ax_q.set(xlabel="round", ylabel="precision @ IoU .5", title="pseudo-label precision", xticks=rounds)
    fig.suptitle(title)
    return _save(fig, path)


def plot_quality(quality: Mapping, path: str | Path, title: str = "Pseudo-label quality") -> Path:
    """Grouped bars per class: recall and precision at IoU .25/.5/.75 and COCO AP (quality.json layout)."""
    per_class = quality.get("per_class", {})
    metrics = [f"{kind}@{thr}" for kind in ("recall", "precision") for thr in ("0.25", "0.5", "0.75")] + ["AP"]
    names = list(per_class)
    fig, ax = _figure(max(5.0, 1.6 * len(metrics)), 3.8)
    width = 0.8 / max(1, len(names))
    x = np.arange(len(metrics))
    for i, name in enumerate(names):
        vals = [float(per_class[name].get(m, np.nan) or 0.0) for m in metrics]
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=name)
    ax.set_xticks(x, metrics, rotation=20)
    ax.set(ylim=(0, 1), title=title)
    ax.grid(axis="y", alpha=0.3)
    if names:
        ax.legend()
    return _save(fig, path)
