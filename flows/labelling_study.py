"""Flow of ``leod labelling-study``: does suggesting frames pay, at an equal label budget?

Per seed ``s`` and budget ratio ``r`` (the seed sets ``subsample.split_offset`` and ``train.seed``, as in
``leod study``), three runs in ``<out>/<arm>-<r>-s<s>/`` (the ``round_K`` layout of the main pipeline):

- ``uniform``: LEOD's WSOD ``r`` split (``B`` frames) -> round 0 -> pseudo-label -> round 1;
- ``half``: every other of those ``B`` frames (``B // 2``) -> round 0' (its test AP is reported too);
- ``suggest``: ``leod suggest-frames`` with round 0' (round 1's pseudo-labelling pass of ``half``) picks
  ``B - B // 2`` unlabelled frames; a simulated labeller adds their withheld GT to ``half``'s table ->
  round 0 on exactly ``B`` frames -> pseudo-label -> round 1.

Every run trains ``--steps`` steps per round on one torch thread on the study's shared synthetic dataset
(``<out>/data``). Nothing is chosen on the test split: the settings are params.yaml's; test is only scored.
Resumable: a stage whose output exists is skipped (a training killed midway resumes from its
checkpoint); ``<out>/settings.json`` refuses a second call with other settings on the same folder.
Writes ``runs.csv``, ``results.csv`` and ``paired.png`` after every finished seed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow

from flows.evaluate import evaluate_flow
from flows.pseudo_label import pseudo_label_flow
from flows.runtime import run_flow
from flows.settings import load_config
from flows.study import StudyContext, _prepare_dataset, study_context
from flows.subsample import subsample_flow
from flows.suggest_frames import suggest_frames_flow
from flows.train import train_flow
from leod_core.atomic import atomic_path
from leod_core.labelling.budget_study import (RUN_COLUMNS, budget_split, count_frames, half_uniform,
                                              results_table, run_id, simulate_labeller)
from leod_core.round_layout import ArtifactLayout

__all__ = ["labelling_study_flow", "labelling_context", "arm_overrides", "collect_runs", "write_outputs",
           "SETTINGS_FILE"]


#: the settings a study folder was made with (a resumed call must match them)
SETTINGS_FILE = "settings.json"


def labelling_context(params: str | None, overrides: Sequence[str], out: str, preset: str,
                      steps: int) -> StudyContext:
    """The study's context (shared dataset, MLflow experiment, common overrides) for ``out``: the synthetic
    ``preset``, ``steps`` training steps per round, one torch thread unless ``train.threads`` is given."""
    ov = [*overrides, f"study.synth_preset={preset}", f"study.steps={steps}", f"study.steps_self_train={steps}"]
    if not any(o.startswith("train.threads=") for o in overrides):
        ov.append("train.threads=1")
    ctx = study_context(params, ov, out)
    experiment = f"labelling-study-synth-{preset}"
    common = tuple(f"mlflow.experiment={experiment}" if c.startswith("mlflow.experiment=") else c for c in ctx.common)
    return dataclasses.replace(ctx, experiment=experiment, common=common)


def arm_overrides(ctx: StudyContext, arm: str, ratio: float, seed: int) -> list[str]:
    """Overrides of one arm's run (later keys win): its folder, one self-training round, the seed's split."""
    return [*ctx.common, f"paths.artifacts={ctx.root / run_id(arm, ratio, seed)}", "rounds=1",
            "subsample.setting=wsod", f"subsample.ratio={ratio:g}", f"subsample.split_offset={seed}",
            f"train.seed={seed}"]


def _check_settings(root: Path, settings: dict) -> None:
    path = root / SETTINGS_FILE
    if path.is_file():
        before = json.loads(path.read_text())
        if before != settings:
            diff = {k: (before.get(k), settings.get(k)) for k in set(before) | set(settings)
                    if before.get(k) != settings.get(k)}
            raise ValueError(f"{root} holds a labelling study made with other settings {diff} (was, now); "
                             "give another --out or delete the folder")
        return
    root.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(settings, indent=2) + "\n")


class _Progress:
    def __init__(self, total: int) -> None:
        self.total, self.i, self.ran = total, 0, 0

    def stage(self, label: str, done: Path, fn: Callable[[], Any]) -> None:
        self.i += 1
        head = f"labelling-study [{self.i}/{self.total}] {label}"
        if done.exists():
            print(f"{head}: done before, skipped", flush=True)
            return
        print(f"{head} ...", flush=True)
        t0 = time.perf_counter()
        fn()
        self.ran += 1
        print(f"{head}: done in {time.perf_counter() - t0:.0f} s", flush=True)


def _write_pair(kept: pd.DataFrame, withheld: pd.DataFrame, layout: ArtifactLayout) -> None:
    from leod_core.labels.table import write_labels

    write_labels(withheld, layout.withheld)
    write_labels(kept, layout.kept_labels)  # last: its presence marks the stage done


def _rounds(p: _Progress, ctx: StudyContext, ov: list[str], rid: str, last: int = 1) -> None:
    """train@0, evaluate@0, then pseudo_label@1, train@1, evaluate@1 of one run (rounds up to ``last``)."""
    cfg = load_config(ctx.params, ov)
    lay, orch = cfg.layout, cfg.orchestration
    kw = {"params": ctx.params, "overrides": ov}
    for k in range(last + 1):
        if k:
            p.stage(f"{rid} pseudo_label@1", lay.round(1).labels,
                    lambda: run_flow(pseudo_label_flow, orch, round_idx=1, **kw))
        p.stage(f"{rid} train@{k}", lay.round(k).weights, lambda k=k: run_flow(train_flow, orch, round_idx=k, **kw))
        p.stage(f"{rid} evaluate@{k}", lay.round(k).metrics("test"),
                lambda k=k: run_flow(evaluate_flow, orch, round_idx=k, **kw))


def _seed_ratio(p: _Progress, ctx: StudyContext, seed: int, ratio: float) -> None:
    from leod_core.labelling.frame_list import read_frame_list
    from leod_core.labelling.paths import SUGGESTIONS_FILE, labelling_dir
    from leod_core.labels.table import read_labels

    ov_u, ov_h, ov_s = (arm_overrides(ctx, a, ratio, seed) for a in ("uniform", "half", "suggest"))
    cfg_u, cfg_h, cfg_s = (load_config(ctx.params, ov) for ov in (ov_u, ov_h, ov_s))
    rid_u, rid_h, rid_s = (run_id(a, ratio, seed) for a in ("uniform", "half", "suggest"))
    p.stage(f"{rid_u} subsample", cfg_u.layout.kept_labels,
            lambda: run_flow(subsample_flow, cfg_u.orchestration, params=ctx.params, overrides=ov_u))
    kept_u = read_labels(cfg_u.layout.kept_labels)
    budget = count_frames(kept_u)
    n_half, n_suggest = budget_split(budget)
    _rounds(p, ctx, ov_u, rid_u)

    p.stage(f"{rid_h} labels ({n_half} of {budget} uniform frames)", cfg_h.layout.kept_labels,
            lambda: _write_pair(*half_uniform(kept_u, read_labels(cfg_u.layout.withheld)), cfg_h.layout))
    _rounds(p, ctx, ov_h, rid_h, last=0)  # round 0' only: it suggests, it does not self-train
    picks_p = labelling_dir(cfg_h.layout, 1) / SUGGESTIONS_FILE
    p.stage(f"{rid_h} suggest-frames (budget {n_suggest})", picks_p,
            lambda: run_flow(suggest_frames_flow, cfg_h.orchestration, round_idx=1, budget=n_suggest,
                             params=ctx.params, overrides=ov_h))

    def label() -> None:
        picks = read_frame_list(picks_p)
        if len(picks) != n_suggest:
            raise ValueError(f"suggest-frames gave {len(picks)} frames, the budget needs {n_suggest}")
        kept, withheld = simulate_labeller(read_labels(cfg_h.layout.kept_labels), read_labels(cfg_h.layout.withheld),
                                           picks)
        if count_frames(kept) != budget:
            raise AssertionError(f"suggest arm holds {count_frames(kept)} labelled frames, not the budget {budget}")
        _write_pair(kept, withheld, cfg_s.layout)

    p.stage(f"{rid_s} labels ({n_half} uniform + {n_suggest} suggested, simulated labeller)",
            cfg_s.layout.kept_labels, label)
    _rounds(p, ctx, ov_s, rid_s)


def collect_runs(root: Path, seeds: Sequence[int], ratios: Sequence[float]) -> pd.DataFrame:
    """runs.csv: one row per seed, ratio, arm and round whose test metrics exist."""
    from leod_core.labels.table import read_labels
    from flows.report import rounds_from_files

    rows = []
    for seed in seeds:
        for ratio in ratios:
            for arm in ("uniform", "half", "suggest"):
                art = Path(root) / run_id(arm, ratio, seed)
                lay = ArtifactLayout(art)
                if not lay.kept_labels.is_file():
                    continue
                frames = count_frames(read_labels(lay.kept_labels))
                df = rounds_from_files.fn(art, 0 if arm == "half" else 1)
                for rec in df.dropna(subset=["AP"]).to_dict("records"):
                    rows.append({"seed": seed, "ratio": ratio, "arm": arm, "round": int(rec["round"]),
                                 "AP": rec["AP"], "AP_50": rec["AP_50"], "frames labelled": frames})
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def write_outputs(root: Path, seeds: Sequence[int], ratios: Sequence[float], title: str) -> dict[str, Path]:
    """runs.csv, results.csv and paired.png under ``root`` from whatever has finished."""
    from leod_core.viz.labelling_study import plot_paired_differences

    root = Path(root)
    runs = collect_runs(root, seeds, ratios)
    paths = {"runs": root / "runs.csv", "results": root / "results.csv", "plot": root / "paired.png"}
    for name, df in (("runs", runs), ("results", results_table(runs))):
        with atomic_path(paths[name]) as tmp:
            df.to_csv(tmp, index=False, float_format="%.6g")
    plot_paired_differences(runs, paths["plot"], title=title)
    return paths


#: stages per (seed, ratio): uniform 6, half 4 (labels, train, evaluate, suggest), suggest 6
STAGES_PER_PAIR = 16


@flow(name="labelling-study", validate_parameters=False)
def labelling_study_flow(params: str | None = "params.yaml", overrides: list[str] | None = None,
                         out: str = "artifacts/labelling_study", preset: str = "small", steps: int = 150,
                         seeds: Sequence[int] = (0, 1, 2, 3, 4), ratios: Sequence[float] = (0.05,)) -> dict:
    """Run (or resume) the study; returns {"ran": stages run, "paths": {runs, results, plot}}."""
    overrides = list(overrides or [])
    ctx = labelling_context(params, overrides, out, preset, steps)
    _check_settings(ctx.root, {"preset": preset, "steps": steps, "overrides": overrides})
    _prepare_dataset(ctx, overrides)
    p = _Progress(STAGES_PER_PAIR * len(seeds) * len(ratios))
    title = f"suggested vs uniform frames: synth {preset}, {steps} steps per round"
    paths: dict[str, Path] = {}
    try:
        for seed in seeds:
            for ratio in ratios:
                _seed_ratio(p, ctx, int(seed), float(ratio))
            paths = write_outputs(ctx.root, seeds, ratios, title)
    finally:
        if not paths:
            paths = write_outputs(ctx.root, seeds, ratios, title)
    return {"ran": p.ran, "paths": {k: str(v) for k, v in paths.items()}}
