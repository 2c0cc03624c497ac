"""The ``leod subsample`` stage's task (tasks/subsample.py): full GT table -> kept labels + withheld GT."""

import pytest

from leod_core.config import SubsampleConfig
from leod_core.labels.subsample import subsample_table
from leod_core.labels.table import read_labels, write_labels
from sample_data import full_gt_table
from tasks.subsample import subsample_labels


def test_subsample_task_writes_kept_and_withheld(tmp_path):
    """The ``leod subsample`` stage's task (run through ``.fn()``: no Prefect server)."""
    full = full_gt_table()
    full_path = write_labels(full, tmp_path / "labels_full.parquet")
    r = subsample_labels.fn(full_path, tmp_path / "out", SubsampleConfig(setting="wsod", ratio=0.25), 10)
    kept, withheld = read_labels(r.labels), read_labels(r.withheld)
    assert len(kept) + len(withheld) == len(full)
    assert len(kept) == len(subsample_table(full, "wsod", 0.25, 10)[0]) == r.kept_boxes
    with pytest.raises(FileNotFoundError, match="labels_full"):
        subsample_labels.fn(tmp_path / "missing" / "labels_full.parquet", tmp_path / "o2", SubsampleConfig(), 10)
