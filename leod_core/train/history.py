"""Loss curve of a run: rows of (step, metrics), kept in the checkpoint and written as CSV for ``dvc plots``."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from leod_core.atomic import atomic_path

__all__ = ["LossHistory", "CSV_COLUMNS"]

#: CSV columns in order; metrics outside this list are appended alphabetically
CSV_COLUMNS = ("step", "loss", "loss_iou", "loss_obj", "loss_cls", "num_fg", "lr", "val_ap")


class LossHistory:
    """Logged rows; one per logging window, plus validation results merged into their step's row."""

    def __init__(self) -> None:
        self._rows: dict[int, dict[str, float]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def append(self, step: int, metrics: dict[str, float]) -> None:
        self._rows.setdefault(step, {}).update({k: float(v) for k, v in metrics.items()})

    def note(self, step: int, key: str, value: float) -> None:
        self.append(step, {key: value})

    def last(self, key: str) -> float:
        """Latest logged value of ``key`` (NaN when never logged)."""
        for step in sorted(self._rows, reverse=True):
            if key in self._rows[step]:
                return self._rows[step][key]
        return math.nan

    def rows(self) -> list[dict[str, float]]:
        return [{"step": step, **self._rows[step]} for step in sorted(self._rows)]

    def state_dict(self) -> dict[str, Any]:
        return {"steps": list(self._rows), "rows": [self._rows[s] for s in self._rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._rows = {int(s): dict(r) for s, r in zip(state["steps"], state["rows"])}

    def write_csv(self, path: str | Path) -> Path:
        """Atomically write all rows; empty cells where a row lacks a metric."""
        keys = {k for r in self._rows.values() for k in r}
        columns = [c for c in CSV_COLUMNS if c == "step" or c in keys] + sorted(keys - set(CSV_COLUMNS))
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            for row in self.rows():
                writer.writerow(row)
        return path
