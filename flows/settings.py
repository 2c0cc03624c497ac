"""The pipeline's settings around the core: orchestration (Prefect task runner, Dask), MLflow, the DVC
remote and ``leod study``, in ``params.yaml`` beside the core's sections.

``leod_core`` never reads these (it imports no Prefect, DVC or MLflow): :class:`PipelineConfig` is the core
schema (:class:`leod_core.config.LeodConfig`) plus these sections, and :func:`load_config` loads and
validates a params file against it. Every command, flow and task loads its parameters through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leod_core import config as core
from leod_core.config import SYNTH_PRESET_NAMES, LeodConfig
from leod_core.config_schema import Check, at_least, distinct, knob, one_of, section

__all__ = ["OrchestrationConfig", "MlflowConfig", "DvcConfig", "StudyConfig", "Ablation", "STUDY_ABLATIONS",
           "PipelineConfig", "load_config"]

_RUNNERS = ("sequential", "thread", "dask")
_PORT = Check(lambda v: 1 <= v <= 65535, "a TCP port")


@dataclass(frozen=True)
class OrchestrationConfig:
    task_runner: str = knob("thread", "sequential | thread | dask", one_of(_RUNNERS))
    max_workers: int = knob(2, "threads of the thread runner; worker processes of a local Dask cluster", at_least(1))
    dask_address: str = knob("", "tcp://host:8786 of a running scheduler; empty = local cluster")
    prefect_port: int = knob(4200, "port of the local Prefect server (UI and API on 127.0.0.1)", _PORT)
    cron: str = knob("", 'e.g. "0 2 * * *" for the served self-training deployment')


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str = knob("sqlite:///mlflow.db", "MLflow store every run logs to; MLFLOW_TRACKING_URI overrides it")
    experiment: str = knob("", "empty = <camera>-<setting>-<ratio>")
    port: int = knob(5000, "port of the MLflow UI that leod serve starts on 127.0.0.1", _PORT)


@dataclass(frozen=True)
class DvcConfig:
    remote_url: str = knob(
        "../leod-dvc-remote",
        "the DVC remote `leod` (python -m flows.dvc_remote); LEOD_DVC_REMOTE overrides")


@dataclass(frozen=True)
class Ablation:
    """One ablation of ``leod study``: its row in ablations.csv and the overrides of its self-training rounds."""

    label: str
    overrides: tuple[str, ...]


#: the study's ablations (LEOD paper, Table 4 style), by the name ``study.ablations`` uses. None of them
#: changes round 0 (GT boxes have confidence 1, so ``soft`` equals ``ignore`` there), which is why an
#: ablation run shares round 0 with the plain run of the same setting, ratio and seed.
STUDY_ABLATIONS: dict[str, Ablation] = {
    "no_tta": Ablation("without TTA", ("pseudo.tta.hflip=false", "pseudo.tta.tflip=false")),
    "no_tracking": Ablation("without tracking filter", ("pseudo.tracker.enable=false",)),
    "no_inpaint": Ablation("without inpainting", ("pseudo.tracker.inpaint=false",)),
    "soft": Ablation("soft targets", ("loss.target_mode=soft",)),
    # the baseline: no model, the sparse GT carried by the tracker
    "tracker_only": Ablation("tracker only (baseline, no model)", ("pseudo.method=tracker_only",)),
}


@dataclass(frozen=True)
class StudyConfig:
    """``leod study``: label ratio x seed grid + ablations on a smaller dataset, fewer steps."""

    synth_preset: str = knob(
        "small",
        "the study's own synthetic dataset (artifacts/study/data); default | small | micro | gen1like",
        one_of(SYNTH_PRESET_NAMES))
    dataset: str = knob("", "a preprocessed dataset (RVT layout) to study instead; empty = synthesise")
    steps: int = knob(150, "train.steps of every study run (round 0); 2 workers: 1 h 38 min measured on 2 cores",
                      at_least(1))
    steps_self_train: int = knob(150, "train.steps_self_train (rounds >= 1)", at_least(1))
    rounds: int = knob(2, "self-training rounds after round 0", at_least(0))
    seeds: tuple[int, ...] = knob(
        (0, 1, 2),
        "subsample.split_offset (and train.seed) of the repetitions",
        distinct(lambda v: len(v) >= 1 and all(x >= 0 for x in v), "a non-empty list of distinct integers >= 0"))
    wsod_ratios: tuple[float, ...] = knob(
        (0.01, 0.02, 0.05, 0.1),
        "WSOD label ratios of the main runs (LEOD's)",
        distinct(lambda v: all(0 < x <= 0.5 for x in v), "distinct ratios in (0, 0.5]"))
    ssod_ratios: tuple[float, ...] = knob(
        (0.05, 0.1),
        "SSOD ratios (fraction of sequences labelled) of the main runs",
        distinct(lambda v: all(0 < x < 1 for x in v), "distinct ratios in (0, 1)"))
    full_labels: bool = knob(True, "one fully supervised run per seed")
    ablations: tuple[str, ...] = knob(
        ("no_tta", "no_tracking", "no_inpaint", "soft", "tracker_only"),
        "ablation runs (self-training rounds only; tracker_only: the baseline), see STUDY_ABLATIONS",
        distinct(lambda v: all(x in STUDY_ABLATIONS for x in v), f"distinct names among {', '.join(STUDY_ABLATIONS)}"))
    ablation_ratio: float = knob(0.0, "WSOD ratio of the ablations; 0 = subsample.ratio",
                                 Check(lambda v: 0 <= v <= 0.5, "0 (= subsample.ratio) or a WSOD ratio in (0, 0.5]"))
    ablation_rounds: int = knob(1, "self-training rounds of an ablation run", at_least(1))
    overrides: tuple[str, ...] = knob(
        ("train.ckpt_every=50",),
        "extra key=value for every study run (50: a killed run resumes close by)",
        Check(lambda v: all("=" in x and not x.startswith("study.") for x in v),
              "a list of key=value strings (not study.* keys)"))


@dataclass(frozen=True)
class PipelineConfig(LeodConfig):
    """Everything ``params.yaml`` holds: the core's sections, then orchestration, MLflow, DVC and the study."""

    orchestration: OrchestrationConfig = section(OrchestrationConfig)
    mlflow: MlflowConfig = section(MlflowConfig)
    dvc: DvcConfig = section(DvcConfig)
    study: StudyConfig = section(
        StudyConfig,
        "`leod study` (make study): WSOD/SSOD label ratios x seeds, full labels, ablations; one resumable flow. "
        "Every study run = these params + the keys below, in artifacts/study/<run>/ (see flows/study_plan.py).")

    def experiment_name(self) -> str:
        return self.mlflow.experiment or f"{self.camera.name}-{self.subsample.setting}-{self.subsample.ratio:g}"


def load_config(path: str | Path | None = "params.yaml", overrides: list[str] | None = None) -> PipelineConfig:
    """``params.yaml`` (or an overlay on it) and ``key=value`` overrides, validated against the whole schema
    (:func:`leod_core.config.load_config` with :class:`PipelineConfig`)."""
    cfg = core.load_config(path, overrides, schema=PipelineConfig)
    assert isinstance(cfg, PipelineConfig)
    return cfg
