"""``leod study`` end to end on the micro synthetic dataset: 2 settings x 1 seed, a full-label run and
one ablation (no inpainting), a few training steps, as tasks of the study flow. Checks the tables, resume from
the engine's cache (a run killed in a stage finishes on the next call, a third call runs nothing), and that the
test split and its labels are never touched by training or pseudo-labelling."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

import flows.study as study_mod
from leod_core.config import ConfigError
from flows.settings import STUDY_ABLATIONS, load_config
from leod_core.study import mean_std
from flows.study_plan import parallel_seconds, plan_study, select_runs

TINY = ["study.synth_preset=micro", "study.steps=3", "study.steps_self_train=3", "study.rounds=1",
        "study.seeds=[0]", "study.wsod_ratios=[0.1]", "study.ssod_ratios=[0.34]", "study.ablations=[no_inpaint]",
        "study.ablation_ratio=0.1", "study.overrides=[train.ckpt_every=2]",
        "model.preset=nano", "data.batch_size=2", "data.sequence_length=3", "train.threads=1", "train.pct_start=0.3",
        "eval.num_vis_frames=0", "eval.batch_size=4", "pseudo.batch_size=4", "orchestration.task_runner=sequential",
        "pseudo.tta.hflip=false", "pseudo.tta.tflip=false"]  # TTA off: 4x less pseudo-labelling time


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_plan_ids_overrides_and_tables():
    cfg = load_config(None)
    plan = plan_study(cfg)
    ids = [r.run_id for r in plan]
    assert len(plan) == 3 * (6 + 1 + 5) and len(set(ids)) == len(ids)
    abl = next(r for r in plan if r.ablation == "no_tta" and r.seed == 1)
    assert abl.base == "wsod-0.05-s1" and abl.base in ids and abl.rounds == 1
    assert "pseudo.tta.hflip=false" in abl.overrides and "subsample.split_offset=1" in abl.overrides
    full = next(r for r in plan if r.kind == "full" and r.seed == 2)
    assert full.rounds == 0 and "subsample.ratio=1" in full.overrides
    assert [r.run_id for r in select_runs(plan, "^ssod-.*-s0$")] == ["ssod-0.05-s0", "ssod-0.1-s0"]
    with pytest.raises(ValueError, match="matches no run"):
        select_runs(plan, "nothing")
    assert mean_std([0.1, 0.3]) == "20.0 ± 14.1" and mean_std([0.25]) == "25.0" and mean_std([float("nan")]) == ""
    # ablations selected without their base: the base's round 0 is submitted first, once
    units = study_mod._units(plan, select_runs(plan, "^abl_.*-s1$"))
    assert [(u.run_id, [s[0] for s in st]) for u, st in units[:1]] == [("wsod-0.05-s1",
                                                                        ["subsample", "train@0", "evaluate@0"])]
    assert [u.run_id for u, _ in units[1:]] == [r.run_id for r in plan if r.kind == "ablation" and r.seed == 1]
    assert units[1][1][0][0] == "pseudo_label@1"
    assert parallel_seconds([3, 1, 1, 1], 2) == 3 and parallel_seconds([1, 1, 1], 1) == 3
    with pytest.raises(ConfigError, match=r"study.ablations=.*allowed: distinct names among no_tta"):
        load_config(None, ["study.ablations=[no_tta,foo]"])
    with pytest.raises(ConfigError, match="study.ablation_ratio=0 takes subsample.ratio=1.0"):
        plan_study(load_config(None, ["subsample.ratio=1.0"]))


@contextlib.contextmanager
def _test_split_hidden(dataset: Path):
    """Move the test split away: a stage that reads it (or its labels) fails."""
    test, away = dataset / "test", dataset.parent / "test_hidden"
    shutil.move(test, away)
    try:
        yield
    finally:
        shutil.move(away, test)


def _guarded(flow_obj, dataset: Path, calls: list, kill: set | None = None):
    """The stage flow, run with the test split moved away (same name, so Prefect shows it as usual);
    the first call for each (run folder name, round) in ``kill`` dies instead (a killed worker)."""
    from prefect import flow

    @flow(name=flow_obj.name, validate_parameters=False)
    def guarded(**kw):
        calls.append((flow_obj.name, kw.get("round_idx")))
        run = (Path(load_config(kw["params"], kw["overrides"]).paths.artifacts).name, kw.get("round_idx"))
        if kill and run in kill:
            kill.discard(run)
            raise RuntimeError(f"killed in {run}")
        with _test_split_hidden(dataset):
            return flow_obj.fn(**kw)

    return guarded


def test_study_end_to_end_resume_and_no_test_labels(prefect_harness, tmp_path, monkeypatch, mlflow_uri, capsys):
    from flows.cli import main
    from flows.runtime import StepFailed

    params = Path(__file__).resolve().parents[2] / "params.yaml"
    overrides = TINY + [f"paths.artifacts={tmp_path / 'art'}"]
    root = tmp_path / "art" / "study"
    dataset = root / "data" / "dataset"
    calls: list = []
    kill = {("wsod-0.1-s0", 1)}  # the wsod run dies in its round-1 training, once
    import flows.pseudo_label
    import flows.train

    # the study finds a stage's flow in its module (flows/stages.py stage_flow): patch it there
    monkeypatch.setattr(flows.train, "train_flow", _guarded(flows.train.train_flow, dataset, calls, kill))
    monkeypatch.setattr(flows.pseudo_label, "pseudo_label_flow",
                        _guarded(flows.pseudo_label.pseudo_label_flow, dataset, calls))

    with pytest.raises(StepFailed, match=r"1/4 run\(s\) failed: wsod-0.1-s0 \(RuntimeError: killed in .*\); "
                       r"not started \(base run failed\): abl_no_inpaint-wsod-0.1-s0$"):
        study_mod.run_study(str(params), overrides)
    # the other runs went on; the ablation waits for its base run, so it did not start
    trained = sorted(c for c in calls if c[0] == "train")
    assert trained == [("train", 0)] * 3 + [("train", 1)] * 2  # (the killed call counts too)
    calls.clear()
    out = study_mod.run_study(str(params), overrides)  # resume: wsod from its round-1 training on
    # wsod: train@1, evaluate@1, summary; the ablation: pseudo_label, pseudo_quality, train, evaluate, summary
    assert out["ran"] == {"wsod-0.1-s0": 3, "ssod-0.34-s0": 0, "full-s0": 0, "abl_no_inpaint-wsod-0.1-s0": 5}
    assert sorted(c for c in calls if c[0] == "train") == [("train", 1)] * 2
    assert sum(c[0] == "pseudo-label" for c in calls) == 1  # the ablation's (wsod's finished before the kill)

    res = pd.read_csv(root / "results.csv", keep_default_na=False)
    assert list(res.columns) == ["setting", "ratio", "round 0 (supervised)", "round 1", "full labels",
                                 "pseudo precision@.5", "pseudo recall@.5"]
    assert res[["setting", "ratio"]].values.tolist() == [["WSOD", "10%"], ["SSOD", "34%"]]
    for col in ("round 0 (supervised)", "round 1", "full labels"):
        assert (res[col] != "").all(), col
    gains = pd.read_csv(root / "gains.csv", keep_default_na=False)
    assert gains[["setting", "round", "seeds"]].values.tolist() == [["WSOD", 1, 1], ["SSOD", 1, 1]]
    assert (gains["paired gain"] != "").all()  # (3 steps leave every AP at 0: no gap to recover, that cell is empty)
    abl = pd.read_csv(root / "ablations.csv", keep_default_na=False)
    assert abl["ablation"].tolist() == ["all components", "without inpainting"] and (abl["round 1"] != "").all()
    raw = pd.read_csv(root / "runs.csv")
    assert len(raw) == 2 * 2 + 1 + 2 and raw["AP"].notna().all()
    assert (root / "results.png").stat().st_size > 0
    assert (root / "abl_no_inpaint-wsod-0.1-s0" / "round_0").resolve() == (root / "wsod-0.1-s0" / "round_0").resolve()

    # labels that trained or were pseudo-labelled name train sequences only; withheld is disjoint from kept
    test_seqs = {p.name for p in (dataset / "test").iterdir()}
    for labels in root.glob("*/round_*/labels/*.parquet"):
        assert not test_seqs & set(pd.read_parquet(labels, columns=["sequence"])["sequence"]), labels

    # MLflow: every finished stage run and one summary run per study run, in the study's experiment
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("study-synth-micro")
    stages = [r.data.tags["stage"] for r in client.search_runs([exp.experiment_id], max_results=500)]
    assert stages.count("study-run") == 4 and stages.count("train") == 6 and stages.count("evaluate") == 6

    # the dry run reads the engine's persisted results: nothing left, timed from this study's own stages
    assert main(["study", "--dry-run", "--params", str(params), *sum((["-S", o] for o in overrides), [])]) == 0
    dry = capsys.readouterr().out
    assert "4 runs (4 in the plan), 0 stages left: projected 0m00s" in dry and "finished stages of this study" in dry

    # a third call runs nothing (a stage flow called now would fail the test)
    def boom(*a, **k):
        raise AssertionError("a finished stage ran again")

    monkeypatch.setattr(study_mod, "run_flow", boom)
    again = study_mod.run_study(str(params), overrides)
    assert sum(again["ran"].values()) == 0
    pd.testing.assert_frame_equal(pd.read_csv(root / "results.csv", keep_default_na=False), res)


def test_every_ablation_has_a_row_name_and_overrides_that_load():
    # checked before any run starts: a bad key here would otherwise fail only when its round 1 loads
    for name, ablation in STUDY_ABLATIONS.items():
        assert ablation.label and ablation.overrides, name
        load_config(None, list(ablation.overrides))
    labels = [a.label for a in STUDY_ABLATIONS.values()]
    assert len(set(labels)) == len(labels) and "all components" not in labels


def test_run_stage_keys_share_the_base_round0_and_follow_declared_params(tmp_path):
    """A run's stage keys are its DAG's fingerprints: an ablation's round 0 is its base's, its later stages
    its own; an evaluation setting changes only evaluation keys; a scheduling setting changes none."""
    from flows.study import run_stage_keys, study_context

    def keys(extra: list[str]) -> dict[str, dict[str, str]]:
        ctx = study_context(None, ["study.steps=40", "study.seeds=[0]", *extra], str(tmp_path / "study"))
        return {r.run_id: run_stage_keys(ctx, r) for r in plan_study(ctx.cfg)}

    base = keys([])
    abl = next(r for r in base if r.startswith("abl_no_tracking"))
    main = abl.split("-", 1)[1]
    assert abl != main and base[abl]["train@1"] != base[main]["train@1"]
    # the ablation's pseudo labels differ, so does everything after them; its round 0 is the base's
    assert base[abl]["pseudo_label@1"] != base[main]["pseudo_label@1"]
    assert all(k not in base[abl] for k in ("train@0", "evaluate@0"))
    ev = keys(["eval.memory_reset_every=1"])
    changed = {name.split("@")[0] for run in base for name in base[run] if base[run][name] != ev[run][name]}
    assert changed == {"evaluate", "summary"}, changed
    assert keys(["orchestration.task_runner=dask", "mlflow.experiment=x"]) == base
    threads = keys(["train.threads=1"])  # params.yaml says 2
    assert all(threads[r][n] != base[r][n] for r in base for n in base[r] if n.startswith("train@"))


def test_study_task_runner_follows_workers_and_dask():
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    from flows.settings import OrchestrationConfig

    one = study_mod.study_task_runner(OrchestrationConfig(task_runner="thread", max_workers=2), 1)
    assert isinstance(one, ThreadPoolTaskRunner) and one._max_workers == 1  # a run holds torch's process state
    two = study_mod.study_task_runner(OrchestrationConfig(task_runner="thread"), 2)
    assert isinstance(two, ProcessPoolTaskRunner) and two._max_workers == 2
    with pytest.raises(ValueError, match="--workers must be >= 1"):
        study_mod.study_task_runner(OrchestrationConfig(), 0)
    pytest.importorskip("prefect_dask")
    dask = study_mod.study_task_runner(OrchestrationConfig(task_runner="dask", dask_address="tcp://h:8786"), 2)
    assert type(dask).__name__ == "DaskTaskRunner" and dask.address == "tcp://h:8786"


def test_gains_and_ablation_deltas_are_paired_by_seed():
    from leod_core.study import RunSpec, ablation_table, gains_table

    runs = [RunSpec(f"wsod-0.05-s{s}", "main", "wsod", 0.05, s, 1) for s in (0, 1, 2)]
    runs += [RunSpec(f"full-s{s}", "full", "wsod", 1.0, s, 0) for s in (0, 1, 2)]
    runs += [RunSpec(f"abl_soft-wsod-0.05-s{s}", "ablation", "wsod", 0.05, s, 1, "soft", f"wsod-0.05-s{s}",
                     label="soft targets") for s in (0, 1)]
    # seeds differ a lot in level (0.10 / 0.20 / 0.30) but each gains about 0.02: paired, the gain is clear
    r0, r1, full = {0: 0.10, 1: 0.20, 2: 0.30}, {0: 0.12, 1: 0.22, 2: 0.33}, {0: 0.14, 1: 0.26, 2: 0.36}
    rows = [dict(run_id=f"wsod-0.05-s{s}", seed=s, round=k, AP=ap, pseudo_precision=0.7, pseudo_recall=0.6)
            for s in r0 for k, ap in ((0, r0[s]), (1, r1[s]))]
    rows += [dict(run_id=f"full-s{s}", seed=s, round=0, AP=full[s]) for s in full]
    rows += [dict(run_id=f"abl_soft-wsod-0.05-s{s}", seed=s, round=1, AP=r1[s] - d) for s, d in ((0, 0.01), (1, 0.03))]
    raw = pd.DataFrame(rows)
    gains = gains_table(raw, runs, 1)
    row = gains.iloc[0].to_dict()
    assert row["round"] == 1 and row["seeds"] == 3
    assert row["paired gain"] == "2.3 ± 0.6"  # gains 2, 2, 3 points
    assert row["gain / std"] == "4.0"  # 0.0233 / 0.00577
    # t(0.975, 2 dof) = 4.303: 2.33 ± 4.303 x 0.577 / sqrt(3) = [0.90, 3.77]
    assert row["gain 95% CI"] == "[+0.9, +3.8]"
    assert row["gap recovered %"] == "44.4 ± 9.6"  # 2/4, 2/6, 3/6
    assert row["pseudo precision@.5"] == "70.0 ± 0.0"
    abl = ablation_table(raw, runs, 1).set_index("ablation")
    assert abl.loc["soft targets", "delta round 1 vs all"] == "-2.0 ± 1.4"  # -1 and -3 points, same seeds
    assert abl.loc["all components", "delta round 1 vs all"] == ""
    # t(0.975, 1 dof) = 12.706: -2 ± 12.706 x 1.414 / sqrt(2) = [-14.7, +10.7]: two seeds resolve nothing
    assert abl.loc["soft targets", "delta 95% CI"] == "[-14.7, +10.7]"


def test_full_label_run_gets_leods_full_label_values(tmp_path):
    """The study's full-label run loads with time flip 0 and the study's own step count."""
    from flows.study import run_overrides, study_context

    ctx = study_context(None, ["full_labels.steps=999", "study.steps=40"], str(tmp_path / "study"))
    runs = {r.kind: r for r in plan_study(ctx.cfg)}
    full = load_config(None, run_overrides(ctx, runs["full"]))
    main = load_config(None, run_overrides(ctx, runs["main"]))
    assert (full.data.augment.tflip, full.train.steps) == (0.0, 40)
    assert (main.data.augment.tflip, main.train.steps) == (0.5, 40)


@pytest.mark.parametrize("workers, given, threads", [(1, [], "1"), (2, [], "1"), (2, ["train.threads=2"], "2")])
def test_study_threads_do_not_depend_on_workers(monkeypatch, workers, given, threads):
    seen = {}

    def fake_run(flow_fn, runner, orch, **kwargs):
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(study_mod, "run_flow_on", fake_run)
    monkeypatch.setattr(study_mod, "study_task_runner", lambda orch, n: None)
    study_mod.run_study("params.yaml", list(given), workers=workers)
    assert [o for o in seen["overrides"] if o.startswith("train.threads=")] == [f"train.threads={threads}"]
