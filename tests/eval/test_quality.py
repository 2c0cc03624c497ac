import math

import pandas as pd
import pytest

from leod_core.cameras import get_camera
from leod_core.eval.quality import pseudo_label_quality
from sample_data import as_pseudo, labels_table, withheld_table

GEN1 = get_camera("gen1")
WITHHELD = withheld_table()


def test_perfect_pseudo_labels():
    q = pseudo_label_quality(as_pseudo(WITHHELD), WITHHELD, GEN1)
    for name in ("car", "ped"):
        c = q["per_class"][name]
        assert c["recall@0.75"] == 1.0 and c["precision@0.75"] == 1.0 and c["AP"] == pytest.approx(1.0)
    assert q["overall"]["precision@0.5"] == 1.0 and q["counts"]["withheld_frames"] == 3


def test_shifted_and_extra_boxes():
    shifted = as_pseudo(WITHHELD, dx=8)  # car IoU 32/48 = .67; ped IoU 12/28 = .43
    extra = labels_table([("a", 5, 200, 150, 30, 30, 0, 0.9, "pseudo")])
    q = pseudo_label_quality(pd.concat([shifted, extra]), WITHHELD, GEN1)
    car, ped = q["per_class"]["car"], q["per_class"]["ped"]
    assert car["recall@0.5"] == 1.0 and car["recall@0.75"] == 0.0
    assert car["precision@0.5"] == pytest.approx(3 / 4)  # the extra box matches nothing
    assert ped["recall@0.25"] == 1.0 and ped["recall@0.5"] == 0.0
    assert car["num_pseudo"] == 4 and car["num_gt"] == 3


def test_only_withheld_frames_and_non_ignore_pseudo_count():
    other = labels_table([("a", 4, 0, 0, 30, 30, 0, 0.9, "pseudo"),  # frame without withheld GT: not scored
                   ("a", 3, 150, 150, 30, 30, 1024, 0.9, "pseudo"),  # ignore box
                   ("a", 3, 150, 100, 30, 30, 1024, 0.0, "inpainted"),
                   ("a", 1, 10, 10, 30, 30, 0, 1.0, "gt")])
    q = pseudo_label_quality(pd.concat([as_pseudo(WITHHELD), other]), WITHHELD, GEN1)
    assert q["per_class"]["car"]["precision@0.5"] == 1.0
    assert q["counts"] == dict(pseudo=5, ignore=2, inpainted=1, gt=1, human=0, withheld_frames=3, withheld_gt=4,
                               pseudo_on_withheld=4, reviewed_frames=0)


def test_frame_average_differs_from_pooled():
    withheld = labels_table([("a", 1, 10, 10, 40, 40, 0, 1, "gt")] +
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


def test_frames_a_person_reviewed_are_not_scored():
    """The person's boxes replace the pseudo boxes of the frames they reviewed: those frames would count as
    misses (or, left empty, vanish unseen); they leave the scoring and the human boxes are counted apart."""
    pseudo = as_pseudo(WITHHELD)
    kept = pseudo[~((pseudo.sequence == "b") & (pseudo.frame_idx == 2))]  # b@2 reviewed: no pseudo box there
    human = labels_table([("b", 2, 50, 50, 40, 40, 0, 1, "human")])
    table = pd.concat([kept, human])
    unaware = pseudo_label_quality(table, WITHHELD, GEN1)
    assert unaware["overall"]["recall@0.5"] == pytest.approx(3 / 4)  # b@2's GT looks missed
    q = pseudo_label_quality(table, WITHHELD, GEN1, reviewed=[("b", 2), ("c", 9)])
    assert q["overall"]["recall@0.5"] == 1.0 and q["overall"]["precision@0.5"] == 1.0
    assert (q["counts"]["human"], q["counts"]["reviewed_frames"], q["counts"]["withheld_frames"]) == (1, 2, 2)
