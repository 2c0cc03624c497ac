"""The ``pseudo_quality`` stage's task (tasks/pseudo_quality.py): tables in, quality.json and plot out."""

import json

from leod_core.cameras import get_camera
from leod_core.eval.quality import pseudo_label_quality
from leod_core.labels.table import write_labels
from sample_data import as_pseudo, withheld_table
from flows.pseudo_quality import measure_quality


def test_measure_quality_writes_what_it_returns(tmp_path):
    withheld = withheld_table()
    pseudo = as_pseudo(withheld, dx=8)
    labels = write_labels(pseudo, tmp_path / "labels.parquet")
    held = write_labels(withheld, tmp_path / "withheld.parquet")
    gen1 = get_camera("gen1")
    q = measure_quality.fn(labels, held, gen1, tmp_path / "quality", 1)
    assert q == pseudo_label_quality(pseudo, withheld, gen1)
    assert json.loads((tmp_path / "quality" / "quality.json").read_text())["overall"] == json.loads(
        json.dumps(q["overall"]))
    assert (tmp_path / "quality" / "quality.png").stat().st_size > 0
