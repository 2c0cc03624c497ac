"""The Parquet label table."""

import numpy as np
import pandas as pd
import pytest

from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE, box_iou, validate_prophesee_boxes, xywh_to_xyxy
from leod_core.labels.table import empty_labels, read_labels, write_labels


def _rows(n=3):
    return pd.DataFrame({
        "sequence": ["b"] * n, "frame_idx": np.arange(n)[::-1], "t": np.arange(n) * 50_000,
        "x": np.ones(n), "y": 2.0, "w": 10.0, "h": 20.0, "class_id": 1, "class_confidence": 1.0,
        "objectness": 0.5, "is_gt": True, "track_id": -1, "source": "gt",
    })


def test_roundtrip_sorted_and_typed(tmp_path):
    path = write_labels(_rows(), tmp_path / "l.parquet")
    df = read_labels(path)
    assert list(df["frame_idx"]) == [0, 1, 2]
    assert df["x"].dtype == np.float32 and df["class_id"].dtype == np.uint16 and df["t"].dtype == np.int64
    assert len(read_labels(write_labels(empty_labels(), tmp_path / "e.parquet"))) == 0


@pytest.mark.parametrize("col, value, msg", [
    ("objectness", 1.5, "objectness outside"), ("source", "guess", "unknown source"), ("x", np.nan, "non-finite x"),
])
def test_bad_content_rejected(tmp_path, col, value, msg):
    df = _rows()
    df[col] = value
    with pytest.raises(ValueError, match=msg):
        write_labels(df, tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()


def test_box_helpers():
    a = xywh_to_xyxy(np.array([[0, 0, 10, 10]]))
    b = xywh_to_xyxy(np.array([[5, 0, 10, 10], [20, 20, 1, 1]]))
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0]])


def test_validate_prophesee_boxes_legacy_and_bad():
    legacy = np.zeros(2, dtype=[("ts", "<u8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                                ("class_id", "<u1"), ("confidence", "<f4"), ("track_id", "<u4")])
    legacy["ts"] = [1, 2]
    out = validate_prophesee_boxes(legacy)
    assert out.dtype == PROPHESEE_BBOX_DTYPE and list(out["t"]) == [1, 2]
    with pytest.raises(ValueError, match="negative"):
        bad = out.copy(); bad["w"][0] = -1; validate_prophesee_boxes(bad)
    with pytest.raises(ValueError, match="not a structured"):
        validate_prophesee_boxes(np.zeros((2, 8)))
