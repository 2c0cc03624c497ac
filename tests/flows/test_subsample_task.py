"""The ``leod subsample`` stage's task (tasks/subsample.py): full GT table -> kept labels + withheld GT."""

import pytest

from leod_core.config import SubsampleConfig
from leod_core.labels.subsample import subsample_table
from leod_core.labels.table import read_labels, write_labels
from leod_core.round_layout import LABELS_FILE, WITHHELD_FILE
from sample_data import full_gt_table
from flows.subsample import subsample_labels


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


def test_subsample_task_counts_frames_and_sequences(tmp_path):
    full_path = write_labels(full_gt_table(), tmp_path / "labels_full.parquet")
    r = subsample_labels.fn(full_path, tmp_path / "out", SubsampleConfig(setting="ssod", ratio=0.34), 10)
    assert (r.labels, r.withheld) == (tmp_path / "out" / LABELS_FILE, tmp_path / "out" / WITHHELD_FILE)
    # SSOD keeps whole sequences: s0 (12 frames, 2 boxes each) of the three
    assert r.metrics() == {"kept_frames": 12, "kept_boxes": 24, "kept_sequences": 1, "withheld_frames": 10,
                           "withheld_boxes": 20}
