"""The round layout and stage graph (leod_core/round_layout.py) against dvc.yaml and the stage flows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.dvc_rounds import render
from flows.settings import load_config
from leod_core.round_layout import ArtifactLayout
from flows.stages import Stage, check_round, first_round, pipeline_stages, round_stages, stage_order

REPO = Path(__file__).resolve().parents[1]


def _dvc_stages(tmp_path: Path, rounds: int) -> list:
    """dvc.yaml resolved by DVC itself (foreach expanded) for ``rounds`` rounds, in a scratch repo."""
    from dvc.repo import Repo

    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "rounds.yaml").write_text(render(rounds))
    Repo.init(str(tmp_path), no_scm=True)
    return list(Repo(str(tmp_path)).index.stages)


@pytest.mark.parametrize("rounds", [1, 3])
def test_dvc_yaml_spells_the_stage_graph(tmp_path, rounds):
    """Stage names and a dependency order: dvc.yaml == pipeline_stages; its paths are the layout's."""
    cfg = load_config(REPO / "params.yaml")
    layout = ArtifactLayout(cfg.paths.artifacts)
    dvc = {s.name: s for s in _dvc_stages(tmp_path, rounds)}
    graph = pipeline_stages(rounds)
    assert sorted(dvc) == sorted(stage_order(rounds))
    last = layout.round(rounds)
    outs = {str(o.def_path) for d in dvc.values() for o in d.outs}
    # the files the flows write through RoundPaths are the ones DVC tracks (resolved for this round count)
    assert {str(p) for p in (layout.round(0).labels_dir, last.weights, last.labels, last.export_dir,
                             last.eval_frames(), layout.report_plot)} <= outs
    metrics = {str(o.def_path) for d in dvc.values() for o in d.outs if o.metric}
    assert {str(last.metrics()), str(last.quality), str(last.train_summary)} <= metrics
    made: list[str] = []
    for stage in graph:
        d = dvc[stage.dvc_name]
        for dep in (str(x.def_path) for x in d.deps):
            if dep.startswith(("artifacts/", "data/")):  # made by the pipeline: by an earlier stage
                assert any(dep == m or dep.startswith(m + "/") for m in made), (stage.dvc_name, dep)
        made += [str(o.def_path) for o in d.outs]


def test_stage_names_and_rounds():
    assert stage_order(1) == ["synth", "import", "subsample", "pretrain", "evaluate@0", "pseudo_label@1",
                              "pseudo_quality@1", "train@1", "evaluate@1", "report"]
    assert [s.name for s in round_stages(0)] == ["subsample", "train@0", "evaluate@0"]
    assert [s.name for s in round_stages(2)] == ["pseudo_label@2", "pseudo_quality@2", "train@2", "evaluate@2"]
    for s in pipeline_stages(2):
        if s.round is not None and s.kind in ("train", "evaluate", "pseudo_label", "pseudo_quality"):
            assert s.round >= first_round(s.kind)
    assert Stage("train", 0).dvc_name == "pretrain" and Stage("train", 2).dvc_name == "train@2"


def test_check_round_is_the_one_rule():
    assert check_round("train", 0) == 0 and check_round("pseudo_label", 1) == 1
    with pytest.raises(ValueError, match=r"^--round must be >= 1 \(round 0 uses the sparse GT only\), got 0$"):
        check_round("pseudo_label", 0)
    with pytest.raises(ValueError, match=r"^--round must be >= 0, got -1$"):
        check_round("evaluate", -1)


def test_paths_of_a_round():
    lay = ArtifactLayout("art")
    r = lay.round(2)
    assert r.labels == Path("art/round_2/labels/labels.parquet")
    assert r.export_dir == Path("art/round_2/labels/leod_export")
    assert r.weights == Path("art/round_2/model/last.pt")
    assert r.work_dir == Path("art/.work/round_2/model")
    assert r.eval_dir("test") == Path("art/round_2/eval") and r.eval_dir("val") == Path("art/round_2/eval_val")
    assert r.quality == Path("art/round_2/quality/quality.json")
    assert lay.withheld == Path("art/round_0/labels/withheld.parquet") and lay.kept_labels == lay.round(0).labels
    assert lay.report_dir == Path("art/report")
