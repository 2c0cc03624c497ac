"""Label CSVs: converted to the Prophesee bbox dtype, validated like the .npy, one-line errors naming
the file, the column and the line."""

from __future__ import annotations

import numpy as np
import pytest

from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.labels.label_files import read_box_csv, read_label_file


def _csv(tmp_path, text, name="s_bbox.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_columns_any_order_defaults(tmp_path):
    path = _csv(tmp_path, "class, t, x, y, w, h\n2, 50000, 1.5, 2, 30, 20.25\n0,100000,0,0,1,1\n")
    boxes = read_label_file(path)
    assert boxes.dtype == PROPHESEE_BBOX_DTYPE and len(boxes) == 2
    assert boxes["t"].tolist() == [50_000, 100_000] and boxes["class_id"].tolist() == [2, 0]
    assert boxes["x"][0] == np.float32(1.5) and boxes["h"][0] == np.float32(20.25)
    assert boxes["class_confidence"].tolist() == [1.0, 1.0] and boxes["track_id"].tolist() == [0, 0]


def test_optional_columns_and_class_id_alias(tmp_path):
    path = _csv(tmp_path, "t,x,y,w,h,class_id,class_confidence,track_id\n7,1,2,3,4,1,0.25,9\n")
    b = read_box_csv(path)[0]
    assert (b["class_id"], b["class_confidence"], b["track_id"]) == (1, np.float32(0.25), 9)


def test_header_only_is_no_boxes(tmp_path):
    assert len(read_box_csv(_csv(tmp_path, "t,x,y,w,h,class\n"))) == 0


@pytest.mark.parametrize("text,needle", [
    ("t,x,y,w,class\n1,2,3,4,0\n", "lacks column(s) h"),
    ("t,x,y,w,h,class,colour\n1,2,3,4,5,0,red\n", "unknown column(s) colour"),
    ("t,x,y,w,h,class\n1,2,3,4,5,0\n2,abc,3,4,5,0\n", "column x, line 3: not a finite number ('abc')"),
    ("t,x,y,w,h,class\n1,2,,4,5,0\n", "column y, line 2: empty cell"),
    ("t,x,y,w,h,class\n1.5,2,3,4,5,0\n", "column t, line 2: '1.5' is not a non-negative integer"),
    ("t,x,y,w,h,class\n1,2,3,4,5,-1\n", "column class, line 2"),
    ("t,x,y,w,h,class\n1,2,3,-4,5,0\n", "column w, line 2: negative box size"),
    ("t,x,y,w,h,class\n1,2,3,4,nan,0\n", "column h, line 2: not a finite number"),
    ("", "cannot read label CSV"),
])
def test_bad_csv_one_line_naming_file_and_column(tmp_path, text, needle):
    path = _csv(tmp_path, text)
    with pytest.raises(ValueError) as info:
        read_label_file(path)
    message = str(info.value)
    assert needle in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize("label_format", ["npy", "csv"])
def test_written_label_files_read_back_exactly(tmp_path, label_format):
    from leod_core.labels.label_files import LABEL_FORMATS, write_label_file

    rng = np.random.default_rng(1)
    boxes = np.zeros(40, dtype=PROPHESEE_BBOX_DTYPE)
    boxes["t"] = np.sort(rng.integers(0, 10**9, 40))
    for k in ("x", "y", "w", "h"):  # arbitrary float32 values: no decimal rounding may move them
        boxes[k] = (rng.random(40) * 300 + (1 if k in "wh" else 0)).astype(np.float32)
    boxes["class_id"] = rng.integers(0, 7, 40)
    boxes["class_confidence"] = rng.random(40).astype(np.float32)
    boxes["track_id"] = rng.integers(0, 2**31, 40)
    path = write_label_file(tmp_path / "rec", boxes, label_format)
    assert path.name == "rec" + LABEL_FORMATS[label_format]
    back = read_label_file(path)
    assert back.dtype == boxes.dtype and back.tobytes() == boxes.tobytes()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left
    with pytest.raises(ValueError, match="unknown label format 'json'"):
        write_label_file(tmp_path / "rec", boxes, "json")
