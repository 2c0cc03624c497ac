import math

import pandas as pd
import pytest

from leod_core.cameras import get_camera
from leod_core.eval.quality import pseudo_label_quality
from leod_core.labels.table import validate_labels

GEN1 = get_camera("gen1")


def table(rows):
    """rows: (sequence, frame_idx, x, y, w, h, class_id, conf, source)."""
    recs = [dict(sequence=s, frame_idx=f, t=0, x=x, y=y, w=w, h=h, class_id=c, class_confidence=conf,
                 objectness=conf, is_gt=src == "gt", track_id=-1, source=src)
            for s, f, x, y, w, h, c, conf, src in rows]
    cols = ["sequence", "frame_idx", "t", "x", "y", "w", "h", "class_id", "class_confidence", "objectness", "is_gt",
            "track_id", "source"]
    return validate_labels(pd.DataFrame(recs, columns=cols))


WITHHELD = table([("a", 3, 10, 10, 40, 30, 0, 1, "gt"), ("a", 3, 100, 50, 20, 40, 1, 1, "gt"),
                  ("a", 5, 12, 10, 40, 30, 0, 1, "gt"), ("b", 2, 50, 50, 40, 40, 0, 1, "gt")])


def as_pseudo(df, dx=0.0, conf=0.8):
    out = df.copy()
    out["x"] += dx
    out["source"], out["is_gt"], out["class_confidence"] = "pseudo", False, conf
    return out


def test_perfect_pseudo_labels():
    q = pseudo_label_quality(as_pseudo(WITHHELD), WITHHELD, GEN1)
    for name in ("car", "ped"):
        c = q["per_class"][name]
        assert c["recall@0.75"] == 1.0 and c["precision@0.75"] == 1.0 and c["AP"] == pytest.approx(1.0)
    assert q["overall"]["precision@0.5"] == 1.0 and q["counts"]["withheld_frames"] == 3


def test_shifted_and_extra_boxes():
    shifted = as_pseudo(WITHHELD, dx=8)  # car IoU 32/48 = .67; ped IoU 12/28 = .43
    extra = table([("a", 5, 200, 150, 30, 30, 0, 0.9, "pseudo")])
    q = pseudo_label_quality(pd.concat([shifted, extra]), WITHHELD, GEN1)
    car, ped = q["per_class"]["car"], q["per_class"]["ped"]
    assert car["recall@0.5"] == 1.0 and car["recall@0.75"] == 0.0
    assert car["precision@0.5"] == pytest.approx(3 / 4)  # the extra box matches nothing
    assert ped["recall@0.25"] == 1.0 and ped["recall@0.5"] == 0.0
    assert car["num_pseudo"] == 4 and car["num_gt"] == 3


def test_only_withheld_frames_and_non_ignore_pseudo_count():
    other = table([("a", 4, 0, 0, 30, 30, 0, 0.9, "pseudo"),  # frame without withheld GT: not scored
                   ("a", 3, 150, 150, 30, 30, 1024, 0.9, "pseudo"),  # ignore box
                   ("a", 3, 150, 100, 30, 30, 1024, 0.0, "inpainted"),
                   ("a", 1, 10, 10, 30, 30, 0, 1.0, "gt")])
    q = pseudo_label_quality(pd.concat([as_pseudo(WITHHELD), other]), WITHHELD, GEN1)
    assert q["per_class"]["car"]["precision@0.5"] == 1.0
    assert q["counts"] == dict(pseudo=5, ignore=2, inpainted=1, gt=1, withheld_frames=3, withheld_gt=4,
                               pseudo_on_withheld=4)


def test_frame_average_differs_from_pooled():
    withheld = table([("a", 1, 10, 10, 40, 40, 0, 1, "gt")] +
                     [("a", 2, 10 + 60 * i, 10, 40, 40, 0, 1, "gt") for i in range(3)])
    pseudo = as_pseudo(withheld.iloc[:1])
    c = pseudo_label_quality(pseudo, withheld, GEN1)["per_class"]["car"]
    assert c["recall@0.5"] == pytest.approx(1 / 4)
    assert c["frame_recall@0.5"] == pytest.approx(0.5)
    assert c["frame_precision@0.5"] == pytest.approx(0.5)  # frame 2 has GT but no pseudo: 0 (LEOD)


def test_no_pseudo_labels_and_gen4_names():
    q = pseudo_label_quality(WITHHELD.iloc[:0], WITHHELD, GEN1)
    assert q["per_class"]["car"]["recall@0.5"] == 0.0 and math.isnan(q["per_class"]["car"]["precision@0.5"])
    assert q["overall"]["AP"] == 0.0
    g4 = pseudo_label_quality(as_pseudo(WITHHELD), WITHHELD, get_camera("gen4"))
    assert set(g4["per_class"]) == {"ped", "cyc", "car"}
    assert g4["per_class"]["ped"]["recall@0.5"] == 1.0  # class 0 is 'ped' on gen4


def test_pseudo_quality_command(tmp_path, capsys):
    import json

    from flows.cli import main
    from leod_core.labels.table import write_labels

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
