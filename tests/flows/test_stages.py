"""dvc.yaml is generated from the stage specs (flows/stages.py), and each stage's code deps are the import
closure of its module. DVC's own view of staleness is probed in test_e2e.py on a real run."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from flows.cli import commands
from flows.stages import DVC_YAML, ROOT, STAGES, code_deps, import_closure, main, render_dvc_yaml
from flows.stages import pipeline_stages, spec_args, stage_order


def _spec(name: str):
    return next(s for s in STAGES if s.name == name)


def test_committed_dvc_yaml_is_generated_from_the_specs() -> None:
    assert (ROOT / DVC_YAML).read_text() == render_dvc_yaml(), "dvc.yaml is out of date: run `make dvc-yaml`"
    assert main(["--check"]) == 0


def test_check_names_a_stale_file(tmp_path: Path, monkeypatch, capsys) -> None:
    # the module as sys.modules has it now (the docs generator re-imports the code it documents)
    stages = importlib.import_module("flows.stages")
    monkeypatch.setattr(stages, "ROOT", tmp_path)
    (tmp_path / DVC_YAML).write_text("stages: {}\n")
    assert stages.main(["--check"]) == 1
    assert "dvc.yaml is out of date: run `make dvc-yaml`" in capsys.readouterr().err
    assert stages.main([]) == 0 and stages.main(["--check"]) == 0
    monkeypatch.undo()  # what the scratch tree's closures were must not answer for the repository's
    assert "flows/pseudo_label.py" in stages.code_deps(_spec("pseudo_label"))


def test_specs_cover_the_pipeline_and_run_their_command() -> None:
    # the stage names DVC knows = the pipeline's stage kinds (round 0's training is "pretrain")
    dvc_names = {s.dvc_name.split("@")[0] for s in pipeline_stages(2)}
    assert {s.name for s in STAGES} == dvc_names
    modules = {cmd: mod for cmd, mod, _ in commands()}
    for spec in STAGES:
        words = spec.cmd.split()
        # dvc.yaml's command runs the spec's module (import-prophesee is `leod import`'s other name)
        assert words[0] == "leod" and modules[words[1]] == modules[spec.command] == spec.module, spec.name
        module = importlib.import_module(spec.module)
        assert callable(module.run) and not hasattr(module, "add_arguments"), spec.name  # options: spec.args
        if spec.when != "once" and spec.when != "end":  # a per-round stage: leod study runs its flow
            assert spec.flow and hasattr(getattr(module, spec.flow), "fn"), spec.name
        # the specs of one command declare the same options (round 0's training and the later rounds')
        assert spec.args == spec_args(spec.command), spec.name
    stages = yaml.safe_load(render_dvc_yaml())["stages"]
    assert list(stages) == [s.name for s in STAGES]
    assert stage_order(1)[:4] == ["synth", "import", "subsample", "pretrain"]


def test_import_closure_follows_every_import_and_stops_at_the_repository() -> None:
    deps = set(code_deps(_spec("pseudo_label")))
    # what pseudo-labelling runs, directly or through other modules (the hand-listed deps missed some)
    for f in ("flows/pseudo_label.py",
              "leod_core/pseudo/tracker.py", "leod_core/pseudo/track_filter.py", "leod_core/config.py",
              "leod_core/cameras.py", "leod_core/events/h5_store.py", "leod_core/labels/table.py",
              "leod_core/model/detector.py", "leod_core/__init__.py", "leod_core/pseudo/__init__.py"):
        assert f in deps, f
    # and nothing it cannot reach: the evaluator, training loop, other commands
    assert not {d for d in deps if d.startswith(("leod_core/eval/", "leod_core/synth/", "flows/train.py",
                                                   "flows/commands/"))}
    assert all((ROOT / d).is_file() and d.endswith(".py") for d in deps)
    assert "leod_core/events/h5_store.py" in code_deps(_spec("pretrain"))  # the loader reads through it
    assert "leod_core/pseudo/tracker.py" not in code_deps(_spec("pretrain"))


def test_import_closure_of_a_small_package(tmp_path: Path, monkeypatch) -> None:
    """Relative imports, ``from pkg import submodule``, imports inside functions, packages' __init__."""
    stages = importlib.import_module("flows.stages")

    pkg = tmp_path / "leod_core"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\nfrom .sub import c\n")
    (pkg / "b.py").write_text("def f():\n    from leod_core.sub.d import g\n    import torch\n")
    (pkg / "sub" / "c.py").write_text("from ..e import h\n")
    (pkg / "sub" / "d.py").write_text("")
    (pkg / "e.py").write_text("")
    (pkg / "unused.py").write_text("")
    monkeypatch.setattr(stages, "ROOT", tmp_path)
    got = stages.import_closure("leod_core.a")
    assert got == ("leod_core/__init__.py", "leod_core/a.py", "leod_core/b.py", "leod_core/e.py",
                   "leod_core/sub/__init__.py", "leod_core/sub/c.py", "leod_core/sub/d.py")


def test_result_changing_parameters_are_tracked() -> None:
    # the torch thread count moves round 0 by 1.5 AP (issue 28): every stage that runs a model tracks it
    for name in ("pretrain", "train", "evaluate", "pseudo_label"):
        assert "train.threads" in _spec(name).params, name


def _changed(overrides: list[str], rounds: int = 2) -> set[str]:
    from flows.stages import stage_fingerprints
    from flows.settings import load_config

    base = stage_fingerprints(load_config(None, [f"rounds={rounds}"]))
    other = stage_fingerprints(load_config(None, [f"rounds={rounds}", *overrides]))
    return {name for name in base if base[name] != other[name]}


@pytest.mark.parametrize("override, stale", [
    # a key changes the stages that declare it and everything that reads their outputs, nothing else
    ("eval.memory_reset_every=1", {"evaluate@0", "evaluate@1", "evaluate@2", "report"}),
    ("pseudo.tracker.q=0.5", {"pseudo_label@1", "pseudo_quality@1", "train@1", "evaluate@1", "pseudo_label@2",
                              "pseudo_quality@2", "train@2", "evaluate@2", "report"}),
    ("train.steps_self_train=7", {"train@1", "evaluate@1", "pseudo_label@2", "pseudo_quality@2", "train@2",
                                  "evaluate@2", "report"}),
    ("subsample.ratio=0.1", None),  # every stage after the data: None = all but synth and import
    ("train.threads=1", None),
    ("data.num_workers=2", None),
    ("synth.seed=3", "all"),
    ("orchestration.task_runner=dask", set()),
    ("mlflow.experiment=x", set()),
    # full_labels is folded into data / train by load_config for full-label runs only
    ("full_labels.tflip=0.5", set()),
])
def test_stage_fingerprints_change_exactly_downstream_of_a_declared_key(override, stale):
    from flows.stages import stage_order

    names = {n if n != "pretrain" else "train@0" for n in stage_order(2)}
    expected = names if stale == "all" else (names - {"synth", "import"} if stale is None else stale)
    if override.startswith(("train.threads", "data.num_workers")):
        expected = expected - {"subsample"}
    assert _changed([override]) == expected


def test_stage_fingerprints_of_a_round_do_not_depend_on_the_round_count():
    from flows.stages import stage_fingerprints
    from flows.settings import load_config

    two, three = (stage_fingerprints(load_config(None, [f"rounds={r}"])) for r in (2, 3))
    assert {n: f for n, f in two.items() if n != "report"} == {n: two_f for n, two_f in three.items()
                                                            if n in two and n != "report"}
    assert two["report"] != three["report"]


def test_full_label_runs_fingerprint_their_folded_sections():
    from flows.stages import stage_fingerprints
    from flows.settings import load_config

    full = stage_fingerprints(load_config(None, ["subsample.ratio=1.0"]))
    flip = stage_fingerprints(load_config(None, ["subsample.ratio=1.0", "full_labels.tflip=0.5"]))
    assert full["train@0"] != flip["train@0"] and full["subsample"] == flip["subsample"]
