"""The ``pseudo_label`` stage's tasks (tasks/pseudo_label.py): the per-worker model cache and the round table."""

import os

import numpy as np
import pandas as pd
import pytest

import leod_core.train.checkpoint as checkpoint
import flows.pseudo_label as task_mod
from leod_core.labels.table import read_labels, validate_labels
from leod_core.pseudo.pipeline import PseudoLabelJob
from pseudo_fakes import BlobDetector, write_blob_sequence
from flows.pseudo_label import label_sequence, write_round_labels
from tiny_config import tiny_config


def _row(f, x, source, cls=0):
    return dict(sequence="a", frame_idx=f, t=(f + 1) * 50_000, x=x, y=10.0, w=8.0, h=8.0, class_id=cls,
                class_confidence=1.0 if source == "gt" else 0.7, objectness=1.0 if source == "gt" else 0.8,
                is_gt=source == "gt", track_id=-1, source=source)


@pytest.fixture
def loads(monkeypatch):
    """The checkpoints ``load_detector`` was asked for (it returns the blob detector), cache emptied around."""
    seen = []
    monkeypatch.setattr(checkpoint, "load_detector", lambda path, **_: seen.append(path) or BlobDetector())
    task_mod._load_model.cache_clear()
    yield seen
    task_mod._load_model.cache_clear()


def test_model_loads_once_per_checkpoint_file_version(tmp_path, loads):
    cfg = tiny_config()
    seq = write_blob_sequence(tmp_path / "data", "a", cfg.camera)
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(b"v1")
    job = PseudoLabelJob(seq, validate_labels(pd.DataFrame([_row(12, 14.0, "gt")])))
    first = label_sequence(job, str(ckpt), cfg, "cpu")
    assert label_sequence(job, str(ckpt), cfg, "cpu").equals(first) and loads == [str(ckpt)]
    assert (first.source == "pseudo").any() and first[first.is_gt].x.tolist() == [14.0]
    ns = ckpt.stat().st_mtime_ns
    ckpt.write_bytes(b"v2")
    os.utime(ckpt, ns=(ns + 10**9, ns + 10**9))  # a new checkpoint at the same path is loaded again
    label_sequence(job, str(ckpt), cfg, "cpu")
    assert loads == [str(ckpt), str(ckpt)]


def test_write_round_labels_writes_table_export_and_counts(tmp_path):
    cfg = tiny_config()
    seq = write_blob_sequence(tmp_path / "data", "a", cfg.camera)
    kept = validate_labels(pd.DataFrame([_row(12, 14.0, "gt")]))
    df = validate_labels(pd.DataFrame([_row(3, 5.0, "pseudo"), _row(3, 20.0, "inpainted", cls=1024),
                                       _row(12, 14.0, "gt"), _row(20, 22.0, "pseudo")]))
    out = tmp_path / "labels"
    counts = write_round_labels.fn(df, kept, [seq], tmp_path / "data", out, cfg)
    assert counts == {"gt": 1, "inpainted": 1, "pseudo": 2, "ignore": 1, "total": 4}
    pd.testing.assert_frame_equal(read_labels(out / "labels.parquet"), df)
    with np.load(out / "leod_export" / "train" / "a" / "labels_v2" / "labels.npz") as z:
        assert len(z["labels"]) == 4


def test_write_round_labels_refuses_a_table_that_lost_the_gt(tmp_path):
    cfg = tiny_config()
    seq = write_blob_sequence(tmp_path / "data", "a", cfg.camera)
    kept = validate_labels(pd.DataFrame([_row(12, 14.0, "gt")]))
    df = validate_labels(pd.DataFrame([_row(3, 5.0, "pseudo")]))
    with pytest.raises(ValueError, match="round table"):
        write_round_labels.fn(df, kept, [seq], tmp_path / "data", tmp_path / "labels", cfg)
    assert not (tmp_path / "labels").exists()
