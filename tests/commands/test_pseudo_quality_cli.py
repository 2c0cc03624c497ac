"""``leod pseudo-quality``: a round's pseudo labels against the withheld GT, one-line error without labels."""

import json

from flows.cli import main
from leod_core.labels.table import write_labels
from sample_data import as_pseudo, withheld_table

WITHHELD = withheld_table()


def test_pseudo_quality_command(tmp_path, capsys):
    art = tmp_path / "art"
    write_labels(WITHHELD, art / "round_0" / "labels" / "withheld.parquet")
    write_labels(as_pseudo(WITHHELD, dx=8), art / "round_1" / "labels" / "labels.parquet")
    params = tmp_path / "params.yaml"
    params.write_text(f"paths:\n  artifacts: {art}\ndataset:\n  camera: gen1\n")
    assert main(["pseudo-quality", "--round", "1", "--params", str(params)]) == 0
    q = json.loads((art / "round_1" / "quality" / "quality.json").read_text())
    assert q["per_class"]["car"]["recall@0.5"] == 1.0 and q["per_class"]["ped"]["precision@0.5"] == 0.0
    assert (art / "round_1" / "quality" / "quality.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "P@.5" in out and "pseudo-quality round 1: 4 pseudo" in out
    assert main(["pseudo-quality", "--round", "2", "--params", str(params)]) == 1  # no labels for round 2
    assert "not found" in capsys.readouterr().err
