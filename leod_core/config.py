"""``params.yaml`` -> typed, validated settings.

Loaded once with OmegaConf onto frozen dataclasses: an unknown key, a wrong type or a value out of range
stops with one line naming the key and what is allowed, before any work starts. Derived values (padded
input size, partition size, class count) come from :mod:`leod_core.cameras`, never written back.

A params file with a top-level ``base: FILE`` is an overlay (the presets): FILE (relative to the overlay)
is loaded first and the overlay's keys replace its values, so a key added to params.yaml reaches every
preset. Order: schema defaults <- base <- overlay <- ``key=value`` overrides.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from leod_core.labels.label_files import LABEL_FORMATS
from leod_core.round_layout import ArtifactLayout

from leod_core.cameras import (
    CAMERAS, CameraError, CameraSpec, camera_from_mapping, is_camera_file, load_camera_file, resolve_camera,
)

log = logging.getLogger(__name__)

__all__ = [
    "ConfigError", "Setting", "TargetMode", "LeodConfig", "FullLabelsConfig", "StudyConfig", "STUDY_ABLATIONS",
    "load_config", "config_to_dict", "BASE_KEY", "APPLIED_KEY",
]


class ConfigError(ValueError):
    """A bad parameter; the message is one line naming the key."""


class Setting(str, Enum):
    WSOD = "wsod"  # every sequence sparsely labelled (LEOD "_ss")
    SSOD = "ssod"  # some sequences fully labelled, the rest unlabelled (LEOD "_seq")


class TargetMode(str, Enum):
    IGNORE = "ignore"  # LEOD: low-confidence / rejected / inpainted boxes become ignore regions
    SOFT = "soft"  # beyond LEOD: pseudo boxes' confidences scale their positive targets


@dataclass(frozen=True)
class PathsConfig:
    synth: str = "data/raw"  # where the synth stage writes the synthetic camera's raw files
    raw: str = "data/raw"  # raw Prophesee files (*_td.dat + *_bbox.npy) the import stage reads
    dataset: str = "data/dataset"  # RVT-preprocessed layout + labels_full.parquet per split
    artifacts: str = "artifacts"  # round_k/{labels,model,eval,quality}, report/
    # the person's ground truth (leod import-labels merges into it; pseudo-labelling of rounds >= 1 reads it)
    human_labels: str = "labels/human.parquet"


@dataclass(frozen=True)
class DatasetConfig:
    # a built-in name (gen1 | gen4 | synth), a camera mapping (leod_core.cameras.CAMERA_FIELDS) or a camera
    # YAML file (relative to the params file naming it); after loading: a built-in name or a full mapping
    camera: Any = "synth"


@dataclass(frozen=True)
class SynthConfig:
    preset: str = "default"  # default | small | micro | gen1like
    seed: int = 0  # random seed of the synthetic recordings and labels
    # the rendered sensor and class count; 0 = those of dataset.camera (the synth camera: 120 x 160, 2)
    height: int = 0
    width: int = 0
    num_classes: int = 0  # classes >= 2 are more kinds of the car / pedestrian shapes (leod_core/synth/scene.py)
    label_format: str = "npy"  # npy (Prophesee NAME_bbox.npy) | csv (NAME_bbox.csv, docs/how-to/formats.md)


@dataclass(frozen=True)
class SubsampleConfig:
    setting: str = "wsod"  # wsod | ssod (see Setting)
    ratio: float = 0.05  # WSOD: fraction of label frames kept; SSOD: fraction of sequences kept
    split_offset: int = 0  # which of the label splits (the paper averages 3)


@dataclass(frozen=True)
class AugmentConfig:
    hflip: float = 0.5  # random-access and streaming: probability of a horizontal flip
    zoom_random: float = 0.8  # random-access: probability of a zoom
    zoom_in_weight: float = 0.8  # random-access: zoom-in vs zoom-out 8:2
    zoom_in_max: float = 1.5  # zoom-in factor ~ U[1, zoom_in_max]
    zoom_out_max: float = 1.2  # zoom-out factor ~ U[1, zoom_out_max]
    zoom_stream: float = 0.5  # streaming: zoom-out only
    tflip: float = 0.5  # LEOD label-efficient configs


@dataclass(frozen=True)
class DataConfig:
    sequence_length: int = 5  # L
    batch_size: int = 8  # per process; split between streaming and random by the weights
    w_stream: float = 1.0  # weight of the streaming part of a batch (LEOD 1:1 with w_random)
    w_random: float = 1.0  # weight of the random-access part (0 = all streaming)
    num_workers: int = 0  # DataLoader worker processes; > 0: LEOD's per-worker stream sets
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class FullLabelsConfig:
    """LEOD's full-label dataset configs (``config/dataset/gen1.yaml`` / ``gen4.yaml``) differ from its
    label-efficient ones: with all labels (``subsample.ratio`` 1) these values replace ``data.sequence_length``,
    ``data.augment.tflip`` and ``train.steps`` in the loaded config (0 = keep that value)."""

    sequence_length: int = 0  # LEOD: gen4 5 (10 label-efficient); gen1 21 in both
    tflip: float = 0.0  # LEOD: 0 (0.5 label-efficient)
    steps: int = 0  # round 0; LEOD/RVT: 400k steps on full data


@dataclass(frozen=True)
class ModelConfig:
    preset: str = "nano"  # nano | tiny | small | base


@dataclass(frozen=True)
class LossConfig:
    target_mode: str = "ignore"  # ignore | soft (see TargetMode)
    ignore_bbox_thresh: tuple[float, ...] = (0.7, 0.35)  # per class [car, ped]; gen4 expands
    reg_weight: float = 5.0  # weight of the IoU loss (obj and cls weigh 1)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000  # round 0 (supervised on sparse labels)
    steps_self_train: int = 1000  # rounds >= 1
    lr: float = 3e-3  # peak OneCycle learning rate of round 0 (LEOD/RVT gen1: 2e-4)
    lr_self_train: float = 3e-3  # rounds >= 1 (LEOD: 5e-4)
    pct_start: float = 0.005  # OneCycle warm-up fraction of the steps
    div_factor: float = 20.0  # initial lr = lr / div_factor
    final_div_factor: float = 10000.0  # final lr = lr / final_div_factor
    clip_value: float = 1.0  # gradient clipping by value
    ckpt_every: int = 200  # steps between resume checkpoints
    val_every: int = 0  # 0 = no validation during training
    val_conf_threshold: float = 0.1  # score threshold of that validation (LEOD/RVT 0.1)
    init_from_previous: bool = False  # LEOD option: round k starts from round k-1 weights
    devices: int = 1  # > 1 launches torchrun DDP
    seed: int = 0  # initial weights and the loader's draws (+ 1009 x rank)
    threads: int = 2  # torch intra-op threads: results are bit-exact for a fixed count; 0 = torch default (all cores)


@dataclass(frozen=True)
class EvalConfig:
    split: str = "test"  # val | test: what leod evaluate scores and the report compares
    conf_threshold: float = 0.001  # score threshold of the boxes evaluated (RVT/LEOD)
    nms_iou: float = 0.45  # class-wise NMS IoU
    batch_size: int = 8  # sequences streamed together per forward pass
    num_vis_frames: int = 6  # example frames drawn into eval/frames/
    memory_reset_every: int = 0  # 0: LSTM states kept over the stream (RVT); N: zeroed every N steps


@dataclass(frozen=True)
class TTAConfig:
    hflip: bool = True  # horizontally flipped view
    tflip: bool = True  # time-flipped view (the sequence backwards)


@dataclass(frozen=True)
class TrackerConfig:
    enable: bool = True  # false: no tracking filter (the no_tracking ablation)
    iou_threshold: float = 0.45  # IoU matching a box to a track
    q: float = 0.9  # track confidence decay per missed frame
    min_conf: float = 0.55  # a track below this confidence ends
    min_track_len: int = 6  # frames a finished track must span, else its boxes become ignore boxes
    inpaint: bool = True  # a kept track's missed frames become ignore boxes


@dataclass(frozen=True)
class PseudoConfig:
    method: str = "leod"  # leod: the model's detections, TTA and tracker | tracker_only: the GT carried by the tracker
    conf_threshold: float = 0.01  # raw predictions and merged views (LEOD 0.01)
    nms_iou: float = 0.45  # class-wise NMS IoU, per view and after merging
    obj_thresh: tuple[float, ...] = (0.6, 0.3)  # per class; gen4 2-lists expand to [ped, ped, car]
    cls_thresh: tuple[float, ...] = (0.6, 0.3)  # per class, like obj_thresh
    use_gt: bool = True  # kept GT frames copied verbatim, not predicted
    batch_size: int = 8  # forward-pass rows (one sequence at a time, its TTA views in one batch)
    tta: TTAConfig = field(default_factory=TTAConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)


@dataclass(frozen=True)
class PredictConfig:
    """``leod predict``: a detector streamed over recordings (leod_core/predict)."""

    conf_threshold: float = 0.001  # boxes written; = eval.conf_threshold, so evaluate-boxes scores like leod evaluate
    nms_iou: float = 0.45  # class-wise NMS IoU of the boxes written
    every_ms: int = 50  # predict every that many ms (a multiple of the 50 ms window); the stream sees every window
    score_threshold: float = 0.3  # boxes drawn in the video and fed to the tracker (--track)
    speed: float = 1.0  # video frame rate = real time x speed (20 fps for 50 ms at 1.0)
    gif_seconds: float = 5.0  # length of the --gif clip (from the start), in video seconds
    video_height: int = 240  # event frames are scaled up by an integer factor to at least this height


@dataclass(frozen=True)
class OrchestrationConfig:
    task_runner: str = "thread"  # sequential | thread | dask
    max_workers: int = 2  # threads of the thread runner; processes of a local Dask cluster
    dask_address: str = ""  # a running Dask scheduler; empty = start a local cluster
    prefect_port: int = 4200  # the local Prefect server (127.0.0.1)
    cron: str = ""  # schedule of the served self-training deployment; empty = none


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str = "sqlite:///mlflow.db"  # MLFLOW_TRACKING_URI overrides it
    experiment: str = ""  # empty = "<camera>-<setting>-<ratio>"
    port: int = 5000  # the MLflow UI of leod serve (127.0.0.1)


@dataclass(frozen=True)
class DvcConfig:
    remote_url: str = "../leod-dvc-remote"  # the DVC remote (flows/dvc_remote.py); LEOD_DVC_REMOTE overrides it


#: how a self-training round's labels are made (``pseudo.method``): LEOD's pseudo-labels, or the baseline
#: without a model (leod_core/pseudo/propagate.py)
PSEUDO_METHODS = ("leod", "tracker_only")

#: the study's ablations (LEOD paper, Table 4 style): name -> overrides of the self-training rounds only.
#: None of them changes round 0 (GT boxes have confidence 1, so ``soft`` equals ``ignore`` there), which
#: is why an ablation run shares round 0 with the plain run of the same setting, ratio and seed.
STUDY_ABLATIONS: dict[str, tuple[str, ...]] = {
    "no_tta": ("pseudo.tta.hflip=false", "pseudo.tta.tflip=false"),
    "no_tracking": ("pseudo.tracker.enable=false",),
    "no_inpaint": ("pseudo.tracker.inpaint=false",),
    "soft": ("loss.target_mode=soft",),
    "tracker_only": ("pseudo.method=tracker_only",),  # the baseline: no model, the sparse GT carried by the tracker
}


@dataclass(frozen=True)
class StudyConfig:
    """``leod study``: label ratio x seed grid + ablations on a smaller dataset, fewer steps."""

    synth_preset: str = "small"  # the study's own synthetic dataset (under <study>/data)
    dataset: str = ""  # a preprocessed dataset to study instead (RVT layout); empty = synthesise
    steps: int = 150  # train.steps of every study run (round 0)
    steps_self_train: int = 150  # train.steps_self_train (rounds >= 1)
    rounds: int = 2  # self-training rounds after round 0
    seeds: tuple[int, ...] = (0, 1, 2)  # label split offset (and train.seed) per repetition
    wsod_ratios: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1)  # WSOD label ratios of the main runs
    ssod_ratios: tuple[float, ...] = (0.05, 0.1)  # SSOD ratios (fraction of sequences) of the main runs
    full_labels: bool = True  # one fully supervised run per seed (the "full labels" column)
    ablations: tuple[str, ...] = ("no_tta", "no_tracking", "no_inpaint", "soft", "tracker_only")  # STUDY_ABLATIONS
    ablation_ratio: float = 0.0  # WSOD ratio of the ablations; 0 = subsample.ratio
    ablation_rounds: int = 1  # self-training rounds of each ablation run
    overrides: tuple[str, ...] = ("train.ckpt_every=50",)  # extra key=value for every study run (resume points)


@dataclass(frozen=True)
class LeodConfig:
    rounds: int = 1
    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    subsample: SubsampleConfig = field(default_factory=SubsampleConfig)
    data: DataConfig = field(default_factory=DataConfig)
    full_labels: FullLabelsConfig = field(default_factory=FullLabelsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    pseudo: PseudoConfig = field(default_factory=PseudoConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    orchestration: OrchestrationConfig = field(default_factory=OrchestrationConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    dvc: DvcConfig = field(default_factory=DvcConfig)
    study: StudyConfig = field(default_factory=StudyConfig)

    @functools.cached_property
    def camera(self) -> CameraSpec:
        """The camera ``dataset.camera`` stands for (resolved once per config object)."""
        return resolve_camera(self.dataset.camera)

    def per_class(self, values: tuple[float, ...]) -> tuple[float, ...]:
        """Expand a per-class list to the camera's classes (LEOD rule: gen4 [car, ped] -> [ped, ped, car])."""
        n = self.camera.num_classes
        if len(values) == n:
            return tuple(values)
        if self.camera.class_names == CAMERAS["gen4"].class_names and len(values) == 2:
            return (values[1], values[1], values[0])
        raise ConfigError(f"per-class list {list(values)} has {len(values)} values; camera needs {n}")

    @property
    def all_labels(self) -> bool:
        """A full-label run (WSOD or SSOD ratio 1): :class:`FullLabelsConfig` applies."""
        return self.subsample.ratio == 1.0

    def experiment_name(self) -> str:
        return self.mlflow.experiment or f"{self.camera.name}-{self.subsample.setting}-{self.subsample.ratio:g}"

    @property
    def layout(self) -> ArtifactLayout:
        """Where this run's rounds keep their files (``paths.artifacts``; leod_core/round_layout.py)."""
        return ArtifactLayout(self.paths.artifacts)


# ----------------------------------------------------------------------------------------------- checks
_PRESETS = ("nano", "tiny", "small", "base")
_SYNTH_PRESETS = ("default", "small", "micro", "gen1like")  # leod_core/synth/presets.py
_SYNTH_MAX_CLASSES = 8  # object kinds of leod_core/synth/scene.py (checked against it in tests)
_RUNNERS = ("sequential", "thread", "dask")
_SPLITS = ("val", "test")


def _prob(v: float) -> bool:
    return 0.0 <= v <= 1.0


# (dotted key, predicate, allowed-values text)
_CHECKS: list[tuple[str, Any, str]] = [
    ("rounds", lambda v: v >= 0, "an integer >= 0"),
    ("paths.human_labels", lambda v: str(v).endswith(".parquet"), "a .parquet file path"),
    ("synth.preset", lambda v: v in _SYNTH_PRESETS, f"one of {', '.join(_SYNTH_PRESETS)}"),
    ("synth.height", lambda v: v == 0 or 32 <= v <= 2048, "0 (= dataset.camera's) or pixels in [32, 2048]"),
    ("synth.label_format", lambda v: v in LABEL_FORMATS, f"one of {', '.join(LABEL_FORMATS)}"),
    ("synth.width", lambda v: v == 0 or 32 <= v <= 2048, "0 (= dataset.camera's) or pixels in [32, 2048]"),
    ("synth.num_classes", lambda v: 0 <= v <= _SYNTH_MAX_CLASSES,
     f"0 (= dataset.camera's) or a class count in [1, {_SYNTH_MAX_CLASSES}]"),
    ("subsample.setting", lambda v: v in {s.value for s in Setting}, "one of wsod, ssod"),
    ("loss.target_mode", lambda v: v in {m.value for m in TargetMode}, "one of ignore, soft"),
    ("subsample.ratio", lambda v: 0.0 < v <= 1.0, "a ratio in (0, 1]"),
    ("subsample.split_offset", lambda v: v >= 0, "an integer >= 0"),
    ("data.sequence_length", lambda v: v >= 1, "an integer >= 1"),
    ("data.batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("data.w_stream", lambda v: v >= 0, "a weight >= 0"),
    ("data.w_random", lambda v: v >= 0, "a weight >= 0"),
    ("data.num_workers", lambda v: v >= 0, "an integer >= 0"),
    ("data.augment.hflip", _prob, "a probability in [0, 1]"),
    ("data.augment.zoom_random", _prob, "a probability in [0, 1]"),
    ("data.augment.zoom_in_weight", _prob, "a probability in [0, 1]"),
    ("data.augment.zoom_in_max", lambda v: v >= 1, "a factor >= 1"),
    ("data.augment.zoom_out_max", lambda v: v >= 1, "a factor >= 1"),
    ("data.augment.zoom_stream", _prob, "a probability in [0, 1]"),
    ("data.augment.tflip", _prob, "a probability in [0, 1]"),
    ("full_labels.sequence_length", lambda v: v >= 0, "an integer >= 0 (0 = data.sequence_length)"),
    ("full_labels.tflip", _prob, "a probability in [0, 1]"),
    ("full_labels.steps", lambda v: v >= 0, "an integer >= 0 (0 = train.steps)"),
    ("model.preset", lambda v: v in _PRESETS, f"one of {', '.join(_PRESETS)}"),
    ("loss.ignore_bbox_thresh", lambda v: all(_prob(x) for x in v), "probabilities in [0, 1]"),
    ("loss.reg_weight", lambda v: v > 0, "a weight > 0"),
    ("train.steps", lambda v: v >= 1, "an integer >= 1"),
    ("train.steps_self_train", lambda v: v >= 1, "an integer >= 1"),
    ("train.lr", lambda v: v > 0, "a learning rate > 0"),
    ("train.lr_self_train", lambda v: v > 0, "a learning rate > 0"),
    ("train.pct_start", lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    ("train.div_factor", lambda v: v > 0, "a factor > 0"),
    ("train.final_div_factor", lambda v: v > 0, "a factor > 0"),
    ("train.clip_value", lambda v: v > 0, "a value > 0"),
    ("train.ckpt_every", lambda v: v >= 1, "an integer >= 1"),
    ("train.val_every", lambda v: v >= 0, "an integer >= 0 (0 = off)"),
    ("train.devices", lambda v: v >= 1, "an integer >= 1"),
    ("train.threads", lambda v: v >= 0, "an integer >= 0"),
    ("eval.split", lambda v: v in _SPLITS, f"one of {', '.join(_SPLITS)}"),
    ("eval.conf_threshold", _prob, "a threshold in [0, 1]"),
    ("eval.nms_iou", _prob, "an IoU in [0, 1]"),
    ("eval.batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("eval.memory_reset_every", lambda v: v >= 0, "an integer >= 0 (0 = never reset)"),
    ("pseudo.method", lambda v: v in PSEUDO_METHODS, f"one of {', '.join(PSEUDO_METHODS)}"),
    ("pseudo.conf_threshold", _prob, "a threshold in [0, 1]"),
    ("pseudo.nms_iou", _prob, "an IoU in [0, 1]"),
    ("pseudo.obj_thresh", lambda v: all(_prob(x) for x in v), "probabilities in [0, 1]"),
    ("pseudo.cls_thresh", lambda v: all(_prob(x) for x in v), "probabilities in [0, 1]"),
    ("pseudo.batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("pseudo.tracker.iou_threshold", _prob, "an IoU in [0, 1]"),
    ("pseudo.tracker.q", lambda v: 0 < v < 1, "a decay in (0, 1)"),
    ("pseudo.tracker.min_conf", _prob, "a confidence in [0, 1]"),
    ("pseudo.tracker.min_track_len", lambda v: v >= 1, "an integer >= 1"),
    ("predict.conf_threshold", _prob, "a threshold in [0, 1]"),
    ("predict.nms_iou", _prob, "an IoU in [0, 1]"),
    ("predict.every_ms", lambda v: v >= 50 and v % 50 == 0, "a multiple of the 50 ms window (50, 100, ...)"),
    ("predict.score_threshold", _prob, "a threshold in [0, 1]"),
    ("predict.speed", lambda v: 0 < v <= 100, "a factor in (0, 100]"),
    ("predict.gif_seconds", lambda v: v > 0, "seconds > 0"),
    ("predict.video_height", lambda v: 16 <= v <= 4320, "pixels in [16, 4320]"),
    ("orchestration.task_runner", lambda v: v in _RUNNERS, f"one of {', '.join(_RUNNERS)}"),
    ("orchestration.max_workers", lambda v: v >= 1, "an integer >= 1"),
    ("orchestration.prefect_port", lambda v: 1 <= v <= 65535, "a TCP port"),
    ("mlflow.port", lambda v: 1 <= v <= 65535, "a TCP port"),
    ("study.synth_preset", lambda v: v in _SYNTH_PRESETS, f"one of {', '.join(_SYNTH_PRESETS)}"),
    ("study.steps", lambda v: v >= 1, "an integer >= 1"),
    ("study.steps_self_train", lambda v: v >= 1, "an integer >= 1"),
    ("study.rounds", lambda v: v >= 0, "an integer >= 0"),
    ("study.seeds", lambda v: len(v) >= 1 and len(set(v)) == len(v) and all(x >= 0 for x in v),
     "a non-empty list of distinct integers >= 0"),
    ("study.wsod_ratios", lambda v: len(set(v)) == len(v) and all(0 < x <= 0.5 for x in v),
     "distinct ratios in (0, 0.5]"),
    ("study.ssod_ratios", lambda v: len(set(v)) == len(v) and all(0 < x < 1 for x in v), "distinct ratios in (0, 1)"),
    ("study.ablations", lambda v: len(set(v)) == len(v) and all(x in STUDY_ABLATIONS for x in v),
     f"distinct names among {', '.join(STUDY_ABLATIONS)}"),
    ("study.ablation_ratio", lambda v: 0 <= v <= 0.5, "0 (= subsample.ratio) or a WSOD ratio in (0, 0.5]"),
    ("study.ablation_rounds", lambda v: v >= 1, "an integer >= 1"),
    ("study.overrides", lambda v: all("=" in x and not x.startswith("study.") for x in v),
     "a list of key=value strings (not study.* keys)"),
]


def _get(cfg: LeodConfig, dotted: str) -> Any:
    obj: Any = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _validate(cfg: LeodConfig) -> None:
    try:
        cfg.camera  # noqa: B018 (resolves and validates dataset.camera first: the other checks use it)
    except CameraError as exc:
        raise ConfigError(f"params: {exc}") from None
    for key, ok, allowed in _CHECKS:
        value = _get(cfg, key)
        if not ok(value):
            raise ConfigError(f"params: {key}={value!r} is invalid; allowed: {allowed}")
    if cfg.subsample.setting == Setting.WSOD.value and cfg.subsample.ratio > 0.5 and cfg.subsample.ratio != 1.0:
        raise ConfigError(f"params: subsample.ratio={cfg.subsample.ratio} is invalid for wsod; allowed: <= 0.5 or 1.0 (full)")
    for key in ("loss.ignore_bbox_thresh", "pseudo.obj_thresh", "pseudo.cls_thresh"):
        try:
            cfg.per_class(_get(cfg, key))
        except ConfigError:
            raise ConfigError(
                f"params: {key}={list(_get(cfg, key))} is invalid; allowed: one value per class of camera "
                f"{cfg.camera.name} ({cfg.camera.num_classes}), or [car, ped] for gen4") from None


def _one_line(exc: OmegaConfBaseException) -> str:
    msg = str(exc).strip().splitlines()[0]
    key = getattr(exc, "full_key", None)
    if "Key '" in msg and "not in" in msg:
        return f"params: unknown key '{key}'" if key else f"params: {msg}"
    value = getattr(exc, "value", None)
    return f"params: {key}={value!r} is invalid; {msg}" if key else f"params: {msg}"


def _make_writable(node: Any) -> None:
    """Frozen dataclasses make every schema node read-only; merging overrides needs them writable."""
    OmegaConf.set_readonly(node, None)
    if OmegaConf.is_dict(node):
        for key in node.keys():
            child = node._get_node(key)
            if OmegaConf.is_config(child):
                _make_writable(child)


# Top-level keys a params *file* may hold besides the schema's; removed before the schema merge, so they
# are never LeodConfig fields nor ``-S`` overrides.
#: this file is an overlay on the named params file (a path relative to this file)
BASE_KEY = "base"
#: this full file was written from that overlay (a path relative to this file) by ``python -m flows.preset``
APPLIED_KEY = "applied_preset"


def _read_layers(path: Path, overlays: tuple[Path, ...] = ()) -> list[tuple[Path, DictConfig]]:
    """``path`` and, before it, the files it is an overlay on (``base``), each without the reserved keys.

    ``overlays``: the files that led here, the requested one first, each naming the next as its base.
    """
    named_by = overlays[-1] if overlays else None
    if not path.exists():
        raise ConfigError(f"params file not found: {path}" + (f" (base of {named_by})" if named_by else ""))
    if path.resolve() in {p.resolve() for p in overlays}:
        raise ConfigError(f"params: {BASE_KEY} in {named_by} is invalid; {path} is already an overlay in this chain")
    try:
        loaded = OmegaConf.load(path)
    except yaml.YAMLError as exc:
        raise ConfigError(f"params: {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if loaded is None:  # an empty file
        loaded = OmegaConf.create({})
    if not isinstance(loaded, DictConfig):
        raise ConfigError(f"params: {path} is not a mapping of keys")
    base = loaded.pop(BASE_KEY, None)
    applied = loaded.pop(APPLIED_KEY, None)
    if named_by is not None and applied is not None and \
            Path(path.parent, str(applied)).resolve() != named_by.resolve():
        # an overlay holds only its differences from the defaults: on another preset's values it would
        # silently keep that preset's values of every key it does not name
        raise ConfigError(f"params: {named_by} is an overlay on {path}, which has {applied} applied; restore the "
                          f"defaults first (git checkout {path})")
    if base is None:
        return [(path, loaded)]
    if not isinstance(base, str) or not base:
        raise ConfigError(f"params: {BASE_KEY}={base!r} in {path} is invalid; allowed: a params file path "
                          "relative to it")
    # normpath keeps "presets/../params.yaml" readable as "params.yaml" in messages
    return _read_layers(Path(os.path.normpath(path.parent / base)), (*overlays, path)) + [(path, loaded)]


def load_config(path: str | Path | None = "params.yaml", overrides: list[str] | None = None) -> LeodConfig:
    """Merge ``params.yaml`` (or an overlay on it, see ``base``) and ``key=value`` overrides onto the schema
    and validate every key.

    Raises ConfigError with a one-line message on any unknown key or invalid value; a key a file brings
    names that file.
    """
    schema = OmegaConf.structured(LeodConfig)
    _make_writable(schema)
    layers: list[tuple[Path | None, Any]] = list(_read_layers(Path(path))) if path is not None else []
    try:
        # one layer per override, in order: `-S dataset.camera=gen4 -S dataset.camera.all_classes=true` refines
        # gen4 (in one dotlist the second key would replace the first)
        layers += [(None, OmegaConf.from_dotlist([o])) for o in overrides or ()]
        merged = schema
        for source, layer in layers:
            in_source = f" (in {source})" if source is not None else ""
            _drop_retired_keys(layer, in_source)
            try:
                _prepare_camera(layer, merged, source.parent if source is not None else Path())
            except CameraError as exc:
                raise ConfigError(f"params: {exc}" + ("" if " (in " in str(exc) else in_source)) from None
            try:
                merged = OmegaConf.merge(merged, layer)
            except OmegaConfBaseException as exc:
                raise ConfigError(_one_line(exc) + in_source) from None
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(_one_line(exc)) from None
    assert isinstance(cfg, LeodConfig)
    cfg = _freeze_lists(cfg)
    _validate(cfg)
    cfg = _apply_full_labels(cfg)
    return _canonical_camera(cfg)


#: keys that older params files have and nothing reads any more -> what to set instead; dropped with a warning
RETIRED_KEYS = {"seed": "train.seed (training) and synth.seed (the synthetic data)"}


def _drop_retired_keys(layer: Any, in_source: str) -> None:
    if not isinstance(layer, DictConfig):
        return
    for key, instead in RETIRED_KEYS.items():
        if key in layer:
            log.warning("params: '%s'%s is no longer read and is ignored; use %s", key, in_source, instead)
            del layer[key]


_CAMERA_KEY = "dataset.camera"


def _prepare_camera(layer: DictConfig, merged: DictConfig, base_dir: Path) -> None:
    """A layer's ``dataset.camera`` before it is merged. A camera file becomes its (checked) mapping, the
    path relative to ``base_dir``; a mapping that names a camera (``name`` or ``base``) replaces the current
    one whole; a mapping of fields only refines it (on a built-in: ``-S dataset.camera.all_classes=true``)."""
    dataset = layer.get("dataset") if isinstance(layer, DictConfig) else None
    if not OmegaConf.is_dict(dataset) or "camera" not in dataset:
        return
    node = dataset.camera
    if is_camera_file(node):
        path = Path(os.path.normpath(Path(node) if Path(node).is_absolute() else base_dir / node))
        mapping = load_camera_file(path, _CAMERA_KEY)
        try:
            camera_from_mapping(mapping, _CAMERA_KEY)
        except CameraError as exc:
            raise CameraError(f"{exc} (in {path})") from None
        dataset.camera = mapping
        node = dataset.camera
    if OmegaConf.is_dict(node):
        current = OmegaConf.select(merged, _CAMERA_KEY)
        if "name" in node or "base" in node:
            merged.dataset.camera = None  # not merged field by field with the previous camera's
        elif isinstance(current, str):
            node["base"] = current


def _canonical_camera(cfg: LeodConfig) -> LeodConfig:
    """``dataset.camera`` as a built-in's name or the camera's full mapping (what checkpoints and MLflow
    record); a built-in given by name is left as it is."""
    cam = cfg.camera
    value = cam.name if cam.is_builtin else cam.to_dict()
    if value == cfg.dataset.camera:
        return cfg
    out = dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, camera=value))
    out.__dict__["camera"] = cam  # the resolved camera, as cached_property would store it
    return out


def _apply_full_labels(cfg: LeodConfig) -> LeodConfig:
    """With all labels, LEOD's full-label values (:class:`FullLabelsConfig`) in place of the label-efficient
    ones, so training, pseudo-labelling and evaluation of that run all see them."""
    if not cfg.all_labels:
        return cfg
    fl = cfg.full_labels
    data = dataclasses.replace(cfg.data, sequence_length=fl.sequence_length or cfg.data.sequence_length,
                               augment=dataclasses.replace(cfg.data.augment, tflip=fl.tflip))
    return dataclasses.replace(cfg, data=data, train=dataclasses.replace(cfg.train, steps=fl.steps or cfg.train.steps))


def _freeze_lists(obj: Any) -> Any:
    """OmegaConf returns lists for tuple fields; convert back so the dataclasses stay hashable/frozen."""
    if dataclasses.is_dataclass(obj):
        changes = {f.name: _freeze_lists(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return dataclasses.replace(obj, **changes)
    if isinstance(obj, list):
        return tuple(obj)
    return obj


def config_to_dict(cfg: LeodConfig) -> dict[str, Any]:
    """Plain nested dict (enums as values): for logging params and storing in checkpoints."""
    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Enum):
            return v.value
        if isinstance(v, tuple):
            return [conv(x) for x in v]
        return v
    return conv(cfg)
