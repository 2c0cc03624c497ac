"""``check_outputs(detects=True)``: what makes smoke, verify and the e2e test fail on a degenerate pipeline
(a detector, evaluator, pseudo-labeller or tracker that returns nothing), on hand-made artifact trees."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from flows.smoke import check_outputs
from leod_core.cameras import IGNORE_CLASS_ID
from leod_core.labels.table import write_labels
from leod_core.round_layout import ArtifactLayout


def _labels(sources: list[tuple[str, int]]) -> pd.DataFrame:
    n = len(sources)
    return pd.DataFrame({
        "sequence": ["s"] * n, "frame_idx": list(range(n)), "t": [50_000 * (i + 1) for i in range(n)],
        "x": [1.0] * n, "y": [1.0] * n, "w": [10.0] * n, "h": [10.0] * n,
        "class_id": [c for _, c in sources], "class_confidence": [0.9] * n, "objectness": [0.9] * n,
        "is_gt": [s == "gt" for s, _ in sources], "track_id": list(range(n)), "source": [s for s, _ in sources]})


def _tree(root: Path, aps: list[float], precision: float | None = 0.8,
          labels: list[tuple[str, int]] = (("gt", 0), ("pseudo", 1))) -> Path:
    layout = ArtifactLayout(root / "artifacts")
    for k, ap in enumerate(aps):
        r = layout.round(k)
        for path in (r.weights, r.model_dir / "loss.csv", r.eval_dir() / "pr.csv"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
        r.metrics().write_text(json.dumps({"AP": ap}))
        if k:
            r.quality.parent.mkdir(parents=True, exist_ok=True)
            r.quality.write_text(json.dumps({"overall": {"precision@0.5": precision, "recall@0.5": 0.5}}))
            write_labels(_labels(list(labels)), r.labels)
    layout.report_dir.mkdir(parents=True)
    for name in ("rounds.csv", "rounds.png"):
        (layout.report_dir / name).write_text("x")
    return root


def test_a_detecting_pipeline_passes(tmp_path: Path) -> None:
    assert check_outputs(_tree(tmp_path, [0.14, 0.08, 0.02]), 2, detects=True) == []


@pytest.mark.parametrize("aps, precision, labels, expected", [
    ([0.0, 0.0, 0.0], 0.8, [("gt", 0), ("pseudo", 1)], "detector found nothing"),  # evaluator sees nothing
    ([0.14, 0.04, 0.04], 0.8, [("gt", 0), ("pseudo", 1)], "identical test AP"),  # rounds learn the same
    ([0.14, 0.08, 0.02], None, [("gt", 0), ("pseudo", 1)], "precision@0.5=None is not a number"),
    ([0.14, 0.08, 0.02], 0.8, [("gt", 0), ("gt", 1)], "needs GT and the model's pseudo boxes"),  # no pseudo boxes
    ([0.14, 0.08, 0.02], 0.8, [("gt", 0), ("pseudo", IGNORE_CLASS_ID)], "needs GT and the model's pseudo"),  # tracker
])
def test_a_degenerate_pipeline_is_named(tmp_path: Path, aps, precision, labels, expected) -> None:
    repo = _tree(tmp_path, aps, precision, labels)
    problems = check_outputs(repo, 2, detects=True)
    assert any(expected in p for p in problems), problems
    if expected != "identical test AP":  # sanity mode (the plumbing config) accepts what detects does not
        assert check_outputs(repo, 2) == []
