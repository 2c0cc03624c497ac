"""The human ground-truth table (``paths.human_labels``): merging imports, reviewed frames left empty, and
its place in the DVC DAG (a dependency of every pseudo-labelling round, never of round 0)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from leod_core.labels.human import (HumanLabels, empty_human, merge_reviewed, read_human, with_human_gt,
                                    write_human)
from leod_core.labels.table import read_labels, validate_labels

ROOT = Path(__file__).resolve().parents[2]


def box(seq, frame, x=10.0, source="human"):
    return dict(sequence=seq, frame_idx=frame, t=(frame + 1) * 50_000, x=x, y=5.0, w=8.0, h=6.0, class_id=0,
                class_confidence=1.0, objectness=1.0, is_gt=True, track_id=-1, source=source)


def human(boxes, frames):
    return HumanLabels(validate_labels(pd.DataFrame(boxes, columns=list(box("a", 0)))),
                       [(s, f, (f + 1) * 50_000) for s, f in frames])


def test_the_committed_table_is_empty():
    # the micro pipeline's outputs stay LEOD's: committed tables hold no person's labels
    h = read_human(ROOT / "labels/human.parquet")
    assert len(h.boxes) == 0 and len(h.reviewed) == 0
    assert list(read_labels(ROOT / "labels/human.parquet").columns) == list(box("a", 0))


def test_write_read_keeps_reviewed_frames_left_empty(tmp_path):
    h = human([box("a", 3), box("a", 3, x=30.0)], [("a", 3), ("b", 7)])
    write_human(h, tmp_path / "h.parquet")
    back = read_human(tmp_path / "h.parquet")
    pd.testing.assert_frame_equal(back.boxes, h.boxes)
    assert back.keys == {("a", 3), ("b", 7)}
    assert list(zip(back.empty_frames.sequence, back.empty_frames.frame_idx)) == [("b", 7)]
    assert len(read_human(tmp_path / "missing.parquet").reviewed) == 0


def test_merge_replaces_reviewed_frames_and_keeps_the_rest():
    first = merge_reviewed(empty_human(), human([box("a", 3), box("b", 1)], [("a", 3), ("b", 1), ("b", 9)]))
    second = merge_reviewed(first, human([box("b", 9, x=40.0)], [("a", 3), ("b", 9)]))
    assert second.keys == {("a", 3), ("b", 1), ("b", 9)}
    got = sorted(zip(second.boxes.sequence, second.boxes.frame_idx, second.boxes.x))
    assert got == [("b", 1, 10.0), ("b", 9, 40.0)]  # a@3 now reviewed empty; b@1 kept from the first
    assert list(zip(second.empty_frames.sequence, second.empty_frames.frame_idx)) == [("a", 3)]


def test_bad_tables_refused():
    with pytest.raises(ValueError, match="frame a@3 holds boxes but is not in the reviewed frames"):
        human([box("a", 3)], [])
    with pytest.raises(ValueError, match="source 'human'"):
        human([box("a", 3, source="gt")], [("a", 3)])
    kept = validate_labels(pd.DataFrame([box("a", 3, source="gt")]))
    with pytest.raises(ValueError, match="frame a@3 already holds round 0's ground truth"):
        with_human_gt(kept, human([], [("a", 3)]))


def test_ground_truth_is_kept_plus_human():
    kept = validate_labels(pd.DataFrame([box("a", 3, source="gt")]))
    same, none = with_human_gt(kept, empty_human())
    assert same is kept and len(none) == 0  # no person's labels: round k's GT is round 0's, untouched
    gt, empty = with_human_gt(kept, human([box("a", 5)], [("a", 5), ("a", 8)]))
    assert list(zip(gt.frame_idx, gt.source)) == [(3, "gt"), (5, "human")]
    assert list(zip(empty.sequence, empty.frame_idx)) == [("a", 8)]


def _deps(stage):
    return (stage.get("do") or stage)["deps"]


def test_pseudo_label_stages_depend_on_the_human_table(tmp_path):
    """dvc.yaml's pseudo_label and pseudo_quality stages (rounds >= 1) list the table, no other stage does;
    its content changes the fingerprints of pseudo_label@1 and everything downstream, never round 0's."""
    from flows.stages import stage_fingerprints, stage_instances
    from leod_core.config import ConfigError, config_to_dict
    from flows.settings import load_config

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert "${paths.human_labels}" in _deps(stages["pseudo_label"])
    assert [n for n, s in stages.items() if "${paths.human_labels}" in _deps(s)] == ["pseudo_label", "pseudo_quality"]
    assert yaml.safe_load((ROOT / "params.yaml").read_text())["paths"]["human_labels"] == "labels/human.parquet"

    table = tmp_path / "human.parquet"
    cfg = load_config(None, ["rounds=2", f"paths.human_labels={table}"])
    readers = {i.name for i in stage_instances(2, config_to_dict(cfg)["paths"]) if str(table) in i.deps}
    assert readers == {"pseudo_label@1", "pseudo_label@2", "pseudo_quality@1", "pseudo_quality@2"}
    write_human(empty_human(), table)
    before = stage_fingerprints(cfg)
    write_human(human([box("a", 3)], [("a", 3)]), table)
    after = stage_fingerprints(cfg)
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {f"{k}@{r}" for r in (1, 2) for k in ("pseudo_label", "pseudo_quality", "train", "evaluate")} \
        | {"report"}
    with pytest.raises(ConfigError, match="paths.human_labels"):
        load_config(None, ["paths.human_labels=labels/human.csv"])
