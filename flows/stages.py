"""The DVC stages written once: each stage's command, data inputs, parameters and outputs, from which
``dvc.yaml`` is generated (``make dvc-yaml``; a test fails when the committed file is out of date).

A stage's code dependencies are not listed by hand: they are the **import closure** of the ``leod``
sub-command it runs (every module of this repository that the command's module imports, directly or
through others, at import time or inside a function, with the packages' ``__init__`` files), so editing
any code a stage can execute marks that stage stale, and editing code it cannot reach does not.

The same specs give each stage of a run its fingerprint (:func:`stage_fingerprints`: declared params,
paths, and the fingerprints of the stages it reads), the key ``leod study`` caches stages under: one
definition of "stale" for DVC and the study.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from flows.cli_args import Arg, arg
from leod_core.config import SYNTH_PRESET_NAMES
from leod_core.round_layout import ArtifactLayout

__all__ = ["WHEN", "StageSpec", "STAGES", "spec_of", "Stage", "round_stages", "pipeline_stages",
           "stage_order", "first_round", "check_round", "stage_flow", "stage_config", "spec_args", "stage_commands",
           "StageInstance", "stage_instances", "declared_values", "stage_fingerprints", "import_closure",
           "code_deps", "render_dvc_yaml", "main"]

ROOT = Path(__file__).resolve().parents[1]
#: the repository's own top-level packages: imports of anything else (torch, prefect) are not code deps
PACKAGES = ("leod_core", "flows")
DVC_YAML = "dvc.yaml"

#: what every stage that runs a model reads besides its own section: the torch thread count changes the
#: floats (oneDNN splits its reductions by thread), so it is a result-changing parameter of each
_MODEL_RUNTIME = ["train.threads"]
#: what a training reads besides its train keys: the loader's mode (WSOD sparse frames or not) and, when it
#: validates (train.val_every > 0: best.pt, best_ap), the evaluation keys its validation uses
_TRAIN_READS = ["subsample.setting", "subsample.ratio", "eval.nms_iou", "eval.batch_size"]


#: when a spec's stage runs: once before the rounds, in round 0, in every round k >= 1, in every round, once
#: after the last round (dvc.yaml's ``foreach`` over rounds.yaml for the per-round ones)
WHEN = ("once", "round0", "self_train", "every_round", "end")
_FOREACH = {"self_train": "${self_train}", "every_round": "${all_rounds}"}


@dataclass(frozen=True)
class StageSpec:
    """One stage kind: its ``leod`` command, inputs, parameters and outputs, the module that runs it, and
    when it runs. dvc.yaml, the ``leod`` sub-command list, the per-round stage order (``leod self-train``,
    ``leod study``) and the study's stage fingerprints are all generated from these.

    Paths use dvc.yaml's templating (``${paths.artifacts}``, ``${key}``, ``${item}``); ``outs``,
    ``metrics`` and ``plots`` entries are a path or ``(path, options)``. ``module`` is the stage's one
    orchestration module (its Prefect flow and tasks, MLflow logging, and the command's ``run``; the
    command's options are ``args`` here, so ``--help`` never imports it): its import closure is the
    stage's code dependency.
    """

    name: str
    module: str
    cmd: str
    deps: list[str]
    params: list[str]
    outs: list[str | tuple[str, dict]] = field(default_factory=list)
    metrics: list[str | tuple[str, dict]] = field(default_factory=list)
    plots: list[str | tuple[str, dict]] = field(default_factory=list)
    when: str = "once"
    summary: str = ""  # the command's one-line help
    cli: str = ""  # the ``leod`` sub-command that runs it, default the second word of ``cmd``
    args: tuple[Arg, ...] = ()  # the command's options besides --params / -S (its module's ``run`` reads them)
    kind: str = ""  # the stage kind (flow) it runs, default its name: round 0's ``pretrain`` runs ``train``
    flow: str = ""  # the Prefect flow in ``module`` that ``leod study`` runs (per-round stages)
    #: keys its core code reads besides ``params`` that cannot change its outputs (resume points, progress):
    #: readable through :func:`stage_config`, tracked by neither DVC nor the fingerprints
    reads: tuple[str, ...] = ()
    comment: str = ""

    def __post_init__(self) -> None:
        if self.when not in WHEN:
            raise ValueError(f"stage {self.name}: when must be one of {WHEN}, got {self.when!r}")

    @property
    def stage_kind(self) -> str:
        return self.kind or self.name

    @property
    def command(self) -> str:
        """The ``leod`` sub-command (``cli``, else the second word of ``cmd``)."""
        return self.cli or self.cmd.split()[1]

    @property
    def foreach(self) -> str | None:
        return _FOREACH.get(self.when)

    @property
    def takes_round(self) -> bool:
        """Whether its command (and flow) take the round: ``--round`` is among its options."""
        return any("--round" in a.flags for a in self.args)

    def runs_in(self, k: int) -> bool:
        """Whether this per-round stage has an instance in round ``k``."""
        return (self.when == "round0" and k == 0) or (self.when == "self_train" and k >= 1) or \
            self.when == "every_round"


_NO_CACHE = {"cache": False}
#: the artifact layout with dvc.yaml's templates for its folder and rounds: every path below is spelled by
#: leod_core/round_layout.py, the module the stages write through, so a file name has one home
_LAYOUT = ArtifactLayout("${paths.artifacts}")
_R0, _RK, _RPREV, _RI = (_LAYOUT.round(k) for k in (0, "${key}", "${item.prev}", "${item}"))
_RLAST = _LAYOUT.round("${last_round}")
#: the person's ground truth (leod import-labels): an input no stage makes, committed to git (an empty
#: table until someone labels); round 0 never reads it, so it stays LEOD's sparse-GT protocol
_HUMAN = "${paths.human_labels}"
#: inputs no stage makes whose *content* a fingerprint hashes (small files edited between runs)
_CONTENT_DEPS = (_HUMAN,)


def _round(help_text: str) -> Arg:
    return arg("--round", type=int, required=True, dest="round_idx", help=help_text)


_DATASET = arg("--dataset", default=None, help="dataset root (default: paths.dataset)")
_DEVICE = arg("--device", default=None, help="torch device (default: cuda if available, else cpu)")
#: ``leod train``'s options: round 0 (``pretrain``) and rounds >= 1 (``train``) are one command
_TRAIN_ARGS = (_round("round index K (0 = supervised)"),
               arg("--labels", default=None, help="label table (default: <artifacts>/round_K/labels/labels.parquet)"),
               arg("--out", default=None, help="output folder (default: <artifacts>/round_K/model)"),
               arg("--init", default=None,
                   help="initial weights (default: round K-1's last.pt when train.init_from_previous)"),
               _DATASET)
#: what a training reads that cannot change its weights: where it checkpoints (a resumed run is bit-exact)
_TRAIN_RUNTIME = ("train.ckpt_every",)
_WORKERS = arg("--workers", type=int, default=1, help="parallel worker processes (default: 1)")

STAGES: list[StageSpec] = [
    StageSpec(
        "synth", "flows.synth", "leod synth ${paths.synth} --preset ${synth.preset} --seed ${synth.seed}", [],
        ["synth.preset", "synth.seed", "synth.height", "synth.width", "synth.num_classes", "synth.label_format",
         "dataset.camera"],
        outs=["${paths.synth}"], summary="write the synthetic event-camera dataset as raw Prophesee files",
        args=(arg("dst", help="output folder (replaced atomically)"),
              arg("--preset", default="default", choices=list(SYNTH_PRESET_NAMES),
                  help="dataset preset (default: default; gen1like: Gen1-like labels, motion and noise)"),
              arg("--seed", type=int, default=0, help="dataset seed (default: 0)"), _WORKERS),
        comment="its own path, so a paths.raw pointed at real data is never an out DVC deletes before a run"),
    StageSpec("import", "flows.import_data", "leod import-prophesee ${paths.raw} ${paths.dataset}", ["${paths.raw}"],
              ["dataset.camera"], outs=["${paths.dataset}"], cli="import",
              summary="event recordings (.dat .raw .aedat4, RVT .h5) + .npy/.csv labels -> RVT layout",
              args=(arg("src", help="raw dataset folder (train/ val/ test/ of recordings + labels) or an RVT "
                                    "preprocessed folder"),
                    arg("dst", help="output dataset root (RVT layout)"),
                    arg("--camera", default=None, help="gen1 | gen4 | synth or a camera YAML file (default: "
                                                      "dataset.camera of the params)"),
                    _WORKERS)),
    StageSpec("subsample", "flows.subsample", f"leod subsample --out {_R0.labels_dir}",
              ["${paths.dataset}/train/labels_full.parquet"], ["subsample", "data.sequence_length"],
              outs=[f"{_R0.labels_dir}"], when="round0", flow="subsample_flow",
              summary="write the round-0 sparse label table (WSOD/SSOD) and the withheld GT",
              args=(arg("--out", default=None, help="output folder (default: <paths.artifacts>/round_0/labels)"),)),
    StageSpec(
        "pretrain", "flows.train", "leod train --round 0",
        # where the dropped labels were comes from the dataset's label index, never from withheld.parquet
        [f"{_R0.labels}", "${paths.dataset}/train"],
        ["dataset.camera", "model", "data", "full_labels", "loss.target_mode", "loss.reg_weight", "train.steps",
         "train.lr", "train.pct_start", "train.div_factor", "train.final_div_factor", "train.clip_value",
         "train.val_every", "train.val_conf_threshold", "train.devices", "train.seed",
         *_TRAIN_READS, *_MODEL_RUNTIME],
        outs=[f"{_R0.weights}"], metrics=[(f"{_R0.train_summary}", _NO_CACHE)],
        plots=[(f"{_R0.loss_curve}", {"x": "step", "y": "loss", **_NO_CACHE})],
        when="round0", kind="train", flow="train_flow", summary="train the detector of one round",
        args=_TRAIN_ARGS, reads=_TRAIN_RUNTIME,
        comment="round 0: supervised pre-training on the sparse ground truth"),
    StageSpec(
        "pseudo_label", "flows.pseudo_label", "leod pseudo-label --round ${key}",
        [f"{_RPREV.weights}", f"{_R0.labels}", _HUMAN, "${paths.dataset}/train"],
        ["dataset.camera", "data.sequence_length", "full_labels.sequence_length", "pseudo", *_MODEL_RUNTIME],
        outs=[f"{_RK.labels}", (f"{_RK.export_dir}", _NO_CACHE)],
        when="self_train", flow="pseudo_label_flow",
        summary="pseudo-label the training set with the previous round's model",
        args=(_round("round index K >= 1"),
              arg("--ckpt", default=None, help="checkpoint (default: <artifacts>/round_{K-1}/model/last.pt)"),
              arg("--out", default=None, help="output folder (default: <artifacts>/round_K/labels)"),
              _DATASET, _DEVICE),
        comment="rounds k >= 1: pseudo-label with round k-1's model (GT: round 0's + paths.human_labels), "
                "measure the labels, retrain"),
    StageSpec(
        "pseudo_quality", "flows.pseudo_quality", "leod pseudo-quality --round ${key}",
        [f"{_RK.labels}", f"{_LAYOUT.withheld}", _HUMAN],
        ["dataset.camera"],
        metrics=[(f"{_RK.quality}", _NO_CACHE)], plots=[f"{_RK.quality_plot}"], when="self_train",
        flow="pseudo_quality_flow", summary="precision/recall/AP of a round's pseudo labels vs withheld GT",
        args=(_round("round index K (>= 1)"),
              arg("--labels", default=None,
                  help="pseudo-label table (default: <artifacts>/round_K/labels/labels.parquet)"),
              arg("--withheld", default=None,
                  help="withheld GT table (default: <artifacts>/round_0/labels/withheld.parquet)"),
              arg("--out", default=None, help="output folder (default: <artifacts>/round_K/quality)"))),
    StageSpec(
        "train", "flows.train", "leod train --round ${key}",
        [f"{_RK.labels}", f"{_RPREV.weights}", "${paths.dataset}/train"],
        ["dataset.camera", "model", "data", "full_labels", "loss", "train.steps_self_train", "train.lr_self_train",
         "train.init_from_previous", "train.pct_start", "train.div_factor", "train.final_div_factor",
         "train.clip_value", "train.val_every", "train.val_conf_threshold", "train.devices",
         "train.seed", *_TRAIN_READS, *_MODEL_RUNTIME],
        outs=[f"{_RK.weights}"], metrics=[(f"{_RK.train_summary}", _NO_CACHE)],
        plots=[(f"{_RK.loss_curve}", {"x": "step", "y": "loss", **_NO_CACHE})],
        when="self_train", flow="train_flow", summary="train the detector of one round", args=_TRAIN_ARGS,
        reads=_TRAIN_RUNTIME),
    StageSpec(
        "evaluate", "flows.evaluate", "leod evaluate --round ${item}",
        [f"{_RI.weights}", "${paths.dataset}/test"],
        ["dataset.camera", "data.sequence_length", "full_labels.sequence_length", "eval", *_MODEL_RUNTIME],
        outs=[f"{_RI.eval_frames()}", f"{_RI.detections()}"], metrics=[(f"{_RI.metrics()}", _NO_CACHE)],
        plots=[(f"{_RI.pr_table()}", {"x": "recall", "y": "precision", **_NO_CACHE}), f"{_RI.pr_plot()}"],
        when="every_round", flow="evaluate_flow", summary="Prophesee mAP of a round's checkpoint on test/val",
        args=(_round("round index K"),
              arg("--split", choices=["test", "val"], default=None, help="split (default: eval.split)"),
              arg("--ckpt", default=None, help="checkpoint (default: <artifacts>/round_K/model/last.pt)"),
              arg("--out", default=None, help="output folder (default: <artifacts>/round_K/eval[_val])"),
              _DATASET, _DEVICE)),
    StageSpec(
        "report", "flows.report", f"leod compare --source files --out {_LAYOUT.report_dir}",
        [f"{_R0.metrics()}", f"{_RLAST.metrics()}", f"{_RLAST.quality}"],
        ["rounds", "eval.split"],
        outs=[f"{_LAYOUT.report_plot}"], when="end",
        summary="table and plot of all rounds (their metrics files, or MLflow)",
        args=(arg("--out", default=None, help="output folder (default: <paths.artifacts>/report)"),
              arg("--source", choices=["files", "mlflow"], default="files",
                  help="read round metrics from the round folders' metrics.json and quality.json (default: "
                       "what DVC tracks) or from the latest finished MLflow runs of the experiment")),
        plots=[(f"{_LAYOUT.report_table}", {"x": "round", "y": "AP", **_NO_CACHE})],
        comment="reads every round's metrics.json and quality.json (not MLflow, which it only logs to); "
                "the first and last are its deps, every round in between is upstream of the last one"),
]


#: sections whose values ``load_config`` folds into ``data`` / ``train`` for full-label runs only: DVC must
#: track them (it sees params.yaml, not the folded config), a fingerprint reads the folded sections instead
_FOLDED = ("full_labels",)


def spec_of(kind: str, round_idx: int | None) -> StageSpec:
    """The spec a pipeline stage (its kind and round) is an instance of."""
    for spec in STAGES:
        if spec.stage_kind == kind and (round_idx is None or spec.when in ("once", "end") or spec.runs_in(round_idx)):
            return spec
    raise KeyError(f"no stage {kind!r} in round {round_idx}")


@dataclass(frozen=True)
class Stage:
    """One stage of a run: its kind (the flow it runs) and round (None: once per run)."""

    kind: str
    round: int | None = None

    @property
    def name(self) -> str:
        """The run-level name (``train@0``, ``pseudo_label@1``; ``subsample``): study markers, logs."""
        return self.kind if self.round is None or self.kind == "subsample" else f"{self.kind}@{self.round}"

    @property
    def dvc_name(self) -> str:
        """The name dvc.yaml gives it: a per-round spec's name ``@K`` (``pseudo_label@1``), else the spec's
        name (``pretrain``, ``subsample``)."""
        spec = spec_of(self.kind, self.round)
        return f"{spec.name}@{self.round}" if spec.foreach else spec.name


def round_stages(k: int) -> list[Stage]:
    """The stages of round ``k`` in order (the specs that run in it, in STAGES order): round 0
    subsamples, trains and evaluates; round k >= 1 pseudo-labels with round k-1's model, measures the
    labels, retrains and evaluates."""
    return [Stage(spec.stage_kind, k) for spec in STAGES if spec.runs_in(k)]


def pipeline_stages(rounds: int) -> list[Stage]:
    """Every stage of the DAG with ``rounds`` self-training rounds, in an order that respects its deps."""
    stages = [Stage(spec.stage_kind) for spec in STAGES if spec.when == "once"]
    for k in range(rounds + 1):
        stages += round_stages(k)
    return stages + [Stage(spec.stage_kind) for spec in STAGES if spec.when == "end"]


def stage_order(rounds: int) -> list[str]:
    """DVC stage names in pipeline order (``leod self-train`` runs them one by one)."""
    return [s.dvc_name for s in pipeline_stages(rounds)]


def first_round(kind: str) -> int:
    """The smallest round index the per-round stage ``kind`` runs in (0, or 1 for the self-training ones)."""
    return min(k for k in (0, 1) for spec in STAGES if spec.stage_kind == kind and spec.runs_in(k))


def check_round(kind: str, k: int) -> int:
    """``k`` if stage ``kind`` exists for round ``k``, else the one-line ``--round`` error (commands call it
    before Prefect starts)."""
    lo = first_round(kind)
    if k < lo:
        why = " (round 0 uses the sparse GT only)" if lo == 1 else ""
        raise ValueError(f"--round must be >= {lo}{why}, got {k}")
    return k


def stage_flow(kind: str, k: int) -> tuple[Any, dict[str, int]]:
    """(Prefect flow, its round argument) of per-round stage ``kind`` in round ``k``, as ``leod study`` runs
    it in its run folders: the spec's flow, with ``{"round_idx": k}`` when the stage takes the round."""
    import importlib

    spec = spec_of(kind, k)
    flow = getattr(importlib.import_module(spec.module), spec.flow)
    return flow, ({"round_idx": k} if spec.takes_round else {})


def stage_config(cfg: Any, kind: str, round_idx: int | None = None) -> Any:
    """What the core code of stage ``kind`` (in round ``round_idx``) is handed: ``cfg`` restricted to the
    spec's ``params`` and ``reads`` (leod_core/config_view.py), so reading any other key raises instead of
    changing an output that DVC and the study's cache would call up to date. Folded sections
    (``full_labels``) stay declared: their values reach the stage through the sections they replace."""
    from leod_core.config_view import restrict

    spec = spec_of(kind, round_idx)
    return restrict(cfg, spec.params, owner=f"stage {spec.name}", reads=spec.reads)


def spec_args(command: str) -> tuple[Arg, ...] | None:
    """The options of a stage's ``leod`` sub-command (by its name or dvc.yaml's), None for other commands."""
    for spec in STAGES:
        if command in (spec.command, spec.cmd.split()[1]):
            return spec.args
    return None


def stage_commands() -> list[tuple[str, str, str]]:
    """(command, module, one-line help) of the stages' ``leod`` sub-commands, in pipeline order."""
    seen: dict[str, tuple[str, str, str]] = {}
    for spec in STAGES:
        seen.setdefault(spec.command, (spec.command, spec.module, spec.summary))
    return list(seen.values())


@dataclass(frozen=True)
class StageInstance:
    """One stage of a run's DAG with its paths resolved for its round."""

    name: str  # the run-level name: subsample, train@0, pseudo_label@1, report
    spec: StageSpec
    deps: tuple[str, ...]
    outs: tuple[str, ...]


def _resolve(path: str, k: int | None, rounds: int, paths: dict[str, Any]) -> str:
    """A spec path for round ``k``: dvc.yaml's round templating and ``${paths.X}`` replaced."""
    for var, value in (("${item.prev}", None if k is None else k - 1), ("${key}", k), ("${item}", k),
                       ("${last_round}", rounds)):
        if var in path:
            path = path.replace(var, str(value))
    return re.sub(r"\$\{paths\.(\w+)\}", lambda m: str(paths[m.group(1)]), path)


def _paths_of(entries: list[str | tuple[str, dict]]) -> list[str]:
    return [e if isinstance(e, str) else e[0] for e in entries]


def stage_instances(rounds: int, paths: dict[str, Any]) -> list[StageInstance]:
    """Every stage of the DAG with ``rounds`` self-training rounds, in pipeline order, paths resolved."""
    out = []
    for stage in pipeline_stages(rounds):
        spec = spec_of(stage.kind, stage.round)
        res = [_resolve(p, stage.round, rounds, paths) for p in spec.deps]
        outs = [_resolve(p, stage.round, rounds, paths) for p in _paths_of(spec.outs + spec.metrics + spec.plots)]
        out.append(StageInstance(stage.name, spec, tuple(res), tuple(outs)))
    return out


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def declared_values(config: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """{key: value} of dotted ``keys`` (a section name takes the whole section) in a config dict."""
    values = {}
    for key in keys:
        node: Any = config
        for part in key.split("."):
            node = node[part]
        values[key] = node
    return values


def stage_fingerprints(cfg: Any, rounds: int | None = None, fixed: dict[str, str] | None = None) -> dict[str, str]:
    """{stage name: fingerprint} of a run's DAG: a hash of what the stage's spec declares (its resolved
    input and output paths, the values of its ``params``, the bytes of the inputs a person edits that no
    stage makes: ``paths.human_labels``) and of the fingerprints of the stages whose outputs it reads. The one definition of "what makes a stage stale" besides code: DVC tracks the same
    ``params`` (dvc.yaml is generated from the specs) and the same inputs; ``leod study`` keys its cached
    stages by it, so changing an evaluation setting re-runs the evaluations and nothing upstream.
    ``fixed``: fingerprints given for some stages (a study's shared dataset, an ablation's shared round 0)."""
    from leod_core.config import config_to_dict

    config = config_to_dict(cfg)
    rounds = config["rounds"] if rounds is None else rounds
    fps: dict[str, str] = dict(fixed or {})
    made: list[StageInstance] = []
    for inst in stage_instances(rounds, config["paths"]):
        upstream = sorted({u.name for u in made for d in inst.deps for o in u.outs if _under(d, o) or _under(o, d)})
        made.append(inst)
        if inst.name in fps:
            continue
        keys = [k for k in inst.spec.params if k.split(".")[0] not in _FOLDED]
        record = {"stage": inst.spec.name, "deps": inst.deps, "outs": inst.outs,
                  "params": declared_values(config, keys), "upstream": [fps[u] for u in upstream]}
        content = {d: _file_sha256(_resolve(d, None, rounds, config["paths"]))
                   for d in inst.spec.deps if d in _CONTENT_DEPS}
        if content:
            record["content"] = content
        fps[inst.name] = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return fps


def _file_sha256(path: str) -> str | None:
    """sha256 of a file's bytes; None when there is none (read as an empty table)."""
    p = Path(path)
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None


def _module_file(module: str, root: Path) -> Path | None:
    """The file of a repository module (``a/b.py`` or ``a/b/__init__.py``); None if it is not one."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Repository modules ``path`` names in any import statement (``from a import b`` names ``a.b`` too,
    since ``b`` may be a submodule)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def import_closure(module: str) -> tuple[str, ...]:
    """Repository files (relative paths, sorted) that importing ``module`` and calling into it can
    execute: the module, every repository module it imports transitively, and their packages' ``__init__``."""
    return _import_closure(module, ROOT)


@lru_cache(maxsize=None)
def _import_closure(module: str, root: Path) -> tuple[str, ...]:
    # cached per repository root: a closure computed in another tree (a test's) never answers for this one
    seen: set[str] = set()
    files: set[Path] = set()
    todo = [module]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        parts = mod.split(".")
        for i in range(1, len(parts)):  # importing a.b.c runs a/__init__.py and a/b/__init__.py first
            todo.append(".".join(parts[:i]))
        path = _module_file(mod, root)
        if path is None:
            continue
        files.add(path)
        todo.extend(_imports(path, mod))
    return tuple(sorted(str(p.relative_to(root)) for p in files))


def code_deps(spec: StageSpec) -> list[str]:
    """The stage's code dependencies: the import closure of its orchestration module."""
    return list(import_closure(spec.module))


def _entry(item: str | tuple[str, dict], indent: str) -> list[str]:
    if isinstance(item, str):
        return [f"{indent}- {item}"]
    path, opts = item
    return [f"{indent}- {path}:"] + [f"{indent}    {k}: {str(v).lower() if isinstance(v, bool) else v}"
                                     for k, v in opts.items()]


def render_dvc_yaml(stages: list[StageSpec] = STAGES) -> str:
    """dvc.yaml's text: every stage's command, deps (data inputs, then its code), params, outs."""
    lines = [
        "# GENERATED by `python -m flows.stages` (make dvc-yaml) from flows/stages.py: do not edit by hand.",
        "# Rounds are templated: `foreach` over rounds.yaml, generated from params.yaml `rounds` by",
        "# `python -m flows.dvc_rounds` (make run / leod self-train do it). params.yaml is loaded as vars too.",
        "# Per stage: deps = its inputs + the import closure of its leod command's module (every repository",
        "# module it can run), params = the keys it reads, outs = its files.",
        "vars:",
        "  - rounds.yaml",
        "",
        "stages:",
    ]
    for spec in stages:
        key = "      " if spec.foreach else "    "
        item = key + "  "
        if spec.comment:
            lines.append(f"  # {spec.comment}")
        lines.append(f"  {spec.name}:")
        if spec.foreach:
            lines += [f"    foreach: {spec.foreach}", "    do:"]
        lines.append(f"{key}cmd: {spec.cmd}")
        lines.append(f"{key}deps:")
        lines += [f"{item}- {d}" for d in spec.deps + code_deps(spec)]
        lines.append(f"{key}params:")
        lines += [f"{item}- {p}" for p in spec.params]
        for section in ("outs", "metrics", "plots"):
            entries = getattr(spec, section)
            if entries:
                lines.append(f"{key}{section}:")
                for e in entries:
                    lines += _entry(e, item)
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.stages", description="write (or --check) dvc.yaml")
    parser.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is not what the specs generate")
    args = parser.parse_args(argv)
    path = ROOT / DVC_YAML
    text = render_dvc_yaml()
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print(f"stages: {DVC_YAML} is out of date: run `make dvc-yaml`", file=sys.stderr)
            return 1
        return 0
    if not path.is_file() or path.read_text() != text:
        from leod_core.atomic import atomic_path

        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)
        print(f"stages: wrote {DVC_YAML} ({len(STAGES)} stages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
