"""``leod labelling-study``: the budget arithmetic, the simulated labeller, the paired table, and one run of
the command end to end on the micro dataset (1 seed, 3 steps per round)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leod_core.labelling.budget_study import (RESULT_COLUMNS, RUN_COLUMNS, budget_split, count_frames, frame_keys,
                                              half_uniform, paired_differences, results_table, run_id,
                                              simulate_labeller, verdict)
from leod_core.labels.subsample import subsample_table
from leod_core.labels.table import validate_labels


def _full(seqs=("a", "b", "c"), frames=range(0, 100, 2), boxes=2) -> pd.DataFrame:
    rows = [dict(sequence=s, frame_idx=f, t=f * 50_000, x=float(i), y=1.0, w=4.0, h=4.0, class_id=0,
                 class_confidence=1.0, objectness=1.0, is_gt=True, track_id=-1, source="gt")
            for s in seqs for f in frames for i in range(boxes)]
    return validate_labels(pd.DataFrame(rows))


@pytest.mark.parametrize("budget, split", [(2, (1, 1)), (3, (1, 2)), (64, (32, 32)), (65, (32, 33))])
def test_budget_split_is_floor_half_uniform_and_the_rest_suggested(budget, split):
    assert budget_split(budget) == split and sum(split) == budget


@pytest.mark.parametrize("budget", [0, 1])
def test_a_budget_below_two_frames_is_refused(budget):
    with pytest.raises(ValueError, match="cannot be split"):
        budget_split(budget)


def test_half_uniform_keeps_every_other_frame_of_leods_split():
    full = _full()
    kept, withheld = subsample_table(full, "wsod", 0.1, 1, 0)
    budget = count_frames(kept)
    half, rest = half_uniform(kept, withheld)
    assert count_frames(half) == budget // 2
    assert set(map(tuple, frame_keys(half).values)) <= set(map(tuple, frame_keys(kept).values))
    # nothing lost, nothing doubled: the halves' rows are the full table's
    assert len(half) + len(rest) == len(full)
    assert not set(map(tuple, frame_keys(half).values)) & set(map(tuple, frame_keys(rest).values))
    # within a sequence, twice LEOD's spacing
    a = frame_keys(half).query("sequence == 'a'")["frame_idx"].to_numpy()
    assert set(np.diff(a)) == {2 * 10 * 2}  # skip 10 label frames of 2 reprs each, every other one


def test_simulated_labeller_adds_exactly_the_withheld_gt_of_the_picks():
    full = _full()
    kept, withheld = half_uniform(*subsample_table(full, "wsod", 0.1, 1, 0))
    picks = pd.DataFrame({"sequence": ["a", "b", "c"], "frame_idx": [4, 50, 98], "rank": [1, 2, 3]})
    new_kept, new_withheld = simulate_labeller(kept, withheld, picks)
    assert count_frames(new_kept) == count_frames(kept) + 3
    assert len(new_kept) + len(new_withheld) == len(full)
    added = new_kept.merge(kept, how="left", indicator=True).query("_merge == 'left_only'")
    assert sorted(set(zip(added["sequence"], added["frame_idx"]))) == [("a", 4), ("b", 50), ("c", 98)]
    assert len(added) == 3 * 2 and added["is_gt"].all() and (added["source"] == "gt").all()
    # the boxes are the withheld ones, unchanged
    want = withheld.merge(picks[["sequence", "frame_idx"]])
    pd.testing.assert_frame_equal(added.drop(columns="_merge").reset_index(drop=True),
                                  want.reset_index(drop=True), check_dtype=False)
    assert not set(zip(new_withheld["sequence"], new_withheld["frame_idx"])) & {("a", 4), ("b", 50), ("c", 98)}


def test_simulated_labeller_refuses_a_labelled_a_doubled_or_an_unknown_frame():
    kept, withheld = half_uniform(*subsample_table(_full(), "wsod", 0.1, 1, 0))
    labelled = frame_keys(kept).iloc[:1]
    with pytest.raises(ValueError, match="labelled already"):
        simulate_labeller(kept, withheld, labelled)
    with pytest.raises(ValueError, match="picked twice"):
        simulate_labeller(kept, withheld, pd.DataFrame({"sequence": ["a", "a"], "frame_idx": [4, 4]}))
    with pytest.raises(ValueError, match="b:3 has no withheld ground truth"):
        simulate_labeller(kept, withheld, pd.DataFrame({"sequence": ["a", "b"], "frame_idx": [4, 3]}))


def _runs(diffs: dict[int, float], ratio=0.05, rounds=(0, 1)) -> pd.DataFrame:
    rows = []
    for k in rounds:
        for s, d in diffs.items():
            base = 0.2 + 0.01 * s + 0.05 * k
            rows += [dict(seed=s, ratio=ratio, arm="uniform", round=k, AP=base, AP_50=0.4, **{"frames labelled": 64}),
                     dict(seed=s, ratio=ratio, arm="suggest", round=k, AP=base + d, AP_50=0.4,
                          **{"frames labelled": 64})]
    rows.append(dict(seed=0, ratio=ratio, arm="half", round=0, AP=0.1, AP_50=0.2, **{"frames labelled": 32}))
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def test_results_table_pairs_by_seed_with_the_studys_interval():
    runs = _runs({0: 0.01, 1: 0.02, 2: 0.03, 3: 0.02, 4: 0.02})
    runs = runs[~((runs["arm"] == "suggest") & (runs["seed"] == 4) & (runs["round"] == 1))]  # unfinished
    res = results_table(runs)
    assert list(res.columns) == list(RESULT_COLUMNS)
    assert res[["ratio", "round", "seeds", "budget (frames)"]].values.tolist() == [["5%", 0, 5, "64"],
                                                                                   ["5%", 1, 4, "64"]]
    assert res["suggest - uniform"].tolist() == ["+2.0 ± 0.7", "+2.0 ± 0.8"]
    assert res["diff 95% CI"].iloc[0] == "[+1.1, +2.9]"
    assert res["verdict"].tolist() == ["suggest beats uniform"] * 2
    assert paired_differences(runs, 0.05, 1) == pytest.approx({0: 0.01, 1: 0.02, 2: 0.03, 3: 0.02})


def test_verdict_says_plainly_when_suggestion_does_not_beat_uniform():
    assert verdict([0.01, -0.01, 0.02, -0.02, 0.0]) == "no difference shown (the interval holds 0)"
    assert verdict([-0.03, -0.02, -0.025]) == "uniform beats suggest"
    assert verdict([0.01]) == "too few seeds for an interval"
    assert results_table(_runs({0: -0.01}))["suggest - uniform"].tolist() == ["-1.0", "-1.0"]


def test_run_ids():
    assert run_id("suggest", 0.05, 3) == "suggest-0.05-s3"
    with pytest.raises(ValueError):
        run_id("random", 0.05, 0)


MICRO = ["model.preset=nano", "data.batch_size=2", "data.sequence_length=3", "train.pct_start=0.3",
         "eval.num_vis_frames=0", "eval.batch_size=4", "pseudo.batch_size=4", "orchestration.task_runner=sequential",
         "pseudo.tta.hflip=false", "pseudo.tta.tflip=false", "study.overrides=[train.ckpt_every=2]"]


@pytest.mark.usefixtures("one_torch_thread")
def test_labelling_study_end_to_end_on_micro(prefect_harness, tmp_path, mlflow_uri, capsys):
    from flows.cli import main
    from leod_core.labels.table import read_labels

    params = Path(__file__).resolve().parents[2] / "params.yaml"
    out = tmp_path / "ls"
    sets = [x for o in MICRO for x in ("-S", o)]
    argv = ["labelling-study", "--params", str(params), "--out", str(out), "--preset", "micro", "--seeds", "0", *sets]
    argv += ["--steps", "3"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "[16/16] suggest-0.05-s0 evaluate@1: done in" in text

    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns) == list(RUN_COLUMNS)
    assert runs[["arm", "round"]].values.tolist() == [["uniform", 0], ["uniform", 1], ["half", 0],
                                                      ["suggest", 0], ["suggest", 1]]
    assert runs["AP"].notna().all()
    uniform = read_labels(out / "uniform-0.05-s0/round_0/labels/labels.parquet")
    suggest = read_labels(out / "suggest-0.05-s0/round_0/labels/labels.parquet")
    budget = count_frames(uniform)
    assert budget >= 2 and count_frames(suggest) == budget
    assert runs.groupby("arm")["frames labelled"].first().to_dict() == {"uniform": budget, "half": budget // 2,
                                                                        "suggest": budget}
    res = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert list(res.columns) == list(RESULT_COLUMNS) and res["round"].tolist() == [0, 1]
    assert (res["seeds"] == 1).all() and (res["diff 95% CI"] == "").all()
    assert (out / "paired.png").stat().st_size > 0

    # a second call skips every stage
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "labelling-study: 0 stages run" in text and text.count("done before, skipped") == 16
    assert main([*argv[:-1], "4"]) != 0  # another --steps on the same folder: refused in one line
    assert "holds a labelling study made with other settings {'steps': (3, 4)}" in capsys.readouterr().err
