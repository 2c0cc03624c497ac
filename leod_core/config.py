"""``params.yaml`` -> typed, validated settings: the core's sections (data, model, training, evaluation,
pseudo-labels, prediction). The pipeline's own sections (orchestration, MLflow, DVC, study) extend this
schema in ``flows/settings.py``; ``leod_core`` never reads them.

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
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from leod_core.labels.label_files import LABEL_FORMATS
from leod_core.config_schema import (Check, Knob, at_least, distinct, in_unit, knob, knobs, one_of, positive,
                                     section, unit)
from leod_core.round_layout import ArtifactLayout

from leod_core.cameras import (
    CAMERAS, CameraError, CameraSpec, camera_from_mapping, is_camera_file, load_camera_file, resolve_camera,
)

log = logging.getLogger(__name__)

__all__ = [
    "ConfigError", "Setting", "TargetMode", "LeodConfig", "FullLabelsConfig", "SYNTH_PRESET_NAMES",
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


# ------------------------------------------------------------------ allowed values and their checks
_PRESETS = ("nano", "tiny", "small", "base")
SYNTH_PRESET_NAMES = ("default", "small", "micro", "gen1like")  # leod_core/synth/presets.py
_SYNTH_MAX_CLASSES = 8  # object kinds of leod_core/synth/scene.py (checked against it in tests)
_SPLITS = ("val", "test")
#: how a self-training round's labels are made (``pseudo.method``): LEOD's pseudo-labels, or the baseline
#: without a model (leod_core/pseudo/propagate.py)
PSEUDO_METHODS = ("leod", "tracker_only")


@dataclass(frozen=True)
class PathsConfig:
    synth: str = knob("data/raw", "the synth stage's output (DVC owns and may delete it)")
    raw: str = knob("data/raw", "raw Prophesee files (*_td.dat + *_bbox.npy) to import; point at real data freely")
    dataset: str = knob("data/dataset", "RVT preprocessed layout (+ labels_full.parquet per split)")
    artifacts: str = knob("artifacts", "the rounds' outputs: round_<k>/{labels,model,eval,quality}, report/")
    human_labels: str = knob(
        "labels/human.parquet",
        "a person's ground truth (leod import-labels); pseudo-labelling of rounds >= 1 uses it",
        Check(lambda v: str(v).endswith(".parquet"), "a .parquet file path"))


@dataclass(frozen=True)
class DatasetConfig:
    camera: Any = knob(
        "synth",
        "gen1 | gen4 | synth, a camera block or a camera YAML file (docs/tutorials/own-camera.md)")


@dataclass(frozen=True)
class SynthConfig:
    preset: str = knob("default", "default | small | micro | gen1like", one_of(SYNTH_PRESET_NAMES))
    seed: int = knob(0, "random seed of the synthetic recordings and labels (leod synth --seed)")
    height: int = knob(0, "rendered sensor rows; 0 = dataset.camera's (synth: 120)",
                       Check(lambda v: v == 0 or 32 <= v <= 2048, "0 (= dataset.camera's) or pixels in [32, 2048]"))
    width: int = knob(0, "rendered sensor columns; 0 = dataset.camera's (synth: 160)",
                      Check(lambda v: v == 0 or 32 <= v <= 2048, "0 (= dataset.camera's) or pixels in [32, 2048]"))
    num_classes: int = knob(
        0,
        "0 = dataset.camera's; classes >= 2 are more kinds of the car / pedestrian shapes",
        Check(lambda v: 0 <= v <= _SYNTH_MAX_CLASSES,
              f"0 (= dataset.camera's) or a class count in [1, {_SYNTH_MAX_CLASSES}]"))
    label_format: str = knob("npy", "npy (NAME_bbox.npy) | csv (NAME_bbox.csv: t,x,y,w,h,class,...)",
                             one_of(LABEL_FORMATS))


@dataclass(frozen=True)
class SubsampleConfig:
    setting: str = knob("wsod", "wsod (sparse frames in every sequence) | ssod (some sequences fully labelled)",
                        Check(lambda v: v in {s.value for s in Setting}, "one of wsod, ssod"))
    ratio: float = knob(0.05, "wsod: keep every round(1/ratio)-th label frame; ssod: fraction of sequences",
                        Check(lambda v: 0.0 < v <= 1.0, "a ratio in (0, 1]"))
    split_offset: int = knob(0, "label split; the paper averages splits 0, 1, 2", at_least(0))


@dataclass(frozen=True)
class AugmentConfig:
    hflip: float = knob(0.5, "probability of a horizontal flip, random-access and streaming (LEOD 0.5)",
                        unit("a probability"))
    zoom_random: float = knob(0.8, "random-access samples: probability of a zoom (LEOD 0.8)", unit("a probability"))
    zoom_in_weight: float = knob(0.8, "random-access zooms: probability that it zooms in, else out (LEOD 8:2)",
                                 unit("a probability"))
    zoom_in_max: float = knob(1.5, "zoom-in factor drawn from U[1, zoom_in_max], window around a box (LEOD 1.5)",
                              Check(lambda v: v >= 1, "a factor >= 1"))
    zoom_out_max: float = knob(1.2, "zoom-out factor drawn from U[1, zoom_out_max] (LEOD 1.2)",
                               Check(lambda v: v >= 1, "a factor >= 1"))
    zoom_stream: float = knob(0.5, "streaming samples: probability of a zoom-out, once per sequence (LEOD 0.5)",
                              unit("a probability"))
    tflip: float = knob(0.5, "probability of a time flip (LEOD 0.5 label-efficient; RVT 0)", unit("a probability"))


@dataclass(frozen=True)
class DataConfig:
    sequence_length: int = knob(
        5,
        "L (truncated BPTT length); 5 on the synthetic camera: 2x the steps of L=10 per CPU-minute",
        at_least(1))
    batch_size: int = knob(8, "per process, streaming + random", at_least(1))
    w_stream: float = knob(1.0, "streaming share of a batch: random = round(B*w_random/(w_stream+w_random)) (LEOD 1:1)",
                           Check(lambda v: v >= 0, "a weight >= 0"))
    w_random: float = knob(1.0, "random-access share of a batch (0 = all streaming; LEOD 1)",
                           Check(lambda v: v >= 0, "a weight >= 0"))
    num_workers: int = knob(
        0,
        "DataLoader worker processes; > 0: LEOD's per-worker stream sets (LEOD 8); 0 = in-process",
        at_least(0))
    augment: AugmentConfig = section(AugmentConfig)


@dataclass(frozen=True)
class FullLabelsConfig:
    """LEOD's full-label dataset configs (``config/dataset/gen1.yaml`` / ``gen4.yaml``) differ from its
    label-efficient ones: with all labels (``subsample.ratio`` 1) these values replace ``data.sequence_length``,
    ``data.augment.tflip`` and ``train.steps`` in the loaded config (0 = keep that value)."""

    sequence_length: int = knob(
        0,
        "data.sequence_length, 0 = keep (LEOD gen4: 5, 10 label-efficient; gen1: 21 in both)",
        at_least(0, "0 = data.sequence_length"))
    tflip: float = knob(0.0, "data.augment.tflip (LEOD 0 with all labels, 0.5 label-efficient)", unit("a probability"))
    steps: int = knob(0, "train.steps of round 0, 0 = keep (LEOD/RVT: 400k on full data)",
                      at_least(0, "0 = train.steps"))


@dataclass(frozen=True)
class ModelConfig:
    preset: str = knob("nano", "nano | tiny | small | base", one_of(_PRESETS))


@dataclass(frozen=True)
class LossConfig:
    target_mode: str = knob("ignore", "ignore (LEOD) | soft",
                            Check(lambda v: v in {m.value for m in TargetMode}, "one of ignore, soft"))
    ignore_bbox_thresh: tuple[float, ...] = knob(
        (0.7, 0.35),
        "rounds >= 1, target_mode ignore: boxes with obj or cls conf < it are ignored (LEOD)",
        Check(lambda v: all(in_unit(x) for x in v), "probabilities in [0, 1]"))
    reg_weight: float = knob(5.0, "weight of the IoU loss: total = reg_weight x IoU + obj + cls (YOLOX/LEOD 5)",
                             positive("a weight"))


@dataclass(frozen=True)
class TrainConfig:
    steps: int = knob(500, "make run within 25 min on 2 cores; round-1 gain resolved (docs/results/default-run.md)",
                      at_least(1))
    steps_self_train: int = knob(500, "train.steps of rounds >= 1 (LEOD: 150k)", at_least(1))
    lr: float = knob(
        3e-3,
        "LEOD/RVT use 2e-4 over 200k-400k steps; 500 CPU steps need more (val AP 0.21 vs 0.13 at 1e-3)",
        positive("a learning rate"))
    lr_self_train: float = knob(3e-3, "same as round 0: rounds differ only in their labels",
                                positive("a learning rate"))
    pct_start: float = knob(0.005, "OneCycle: fraction of the steps warming up to lr (LEOD/RVT 0.005)",
                            Check(lambda v: 0 < v < 1, "a fraction in (0, 1)"))
    div_factor: float = knob(20.0, "OneCycle: initial lr = lr / div_factor (LEOD/RVT 20)", positive("a factor"))
    final_div_factor: float = knob(10000.0, "OneCycle: final lr = lr / final_div_factor (LEOD/RVT 10000)",
                                   positive("a factor"))
    clip_value: float = knob(1.0, "gradient clipping by value (LEOD/RVT 1.0)", positive("a value"))
    ckpt_every: int = knob(200, "steps between resume checkpoints in the work folder", at_least(1))
    val_every: int = knob(0, "validate on the val split every N steps (keeps best.pt); 0 = no validation",
                          at_least(0, "0 = off"))
    val_conf_threshold: float = knob(0.1, "score threshold of that validation (LEOD/RVT 0.1)")
    init_from_previous: bool = knob(
        False,
        "round k >= 1 starts from round k-1's last.pt (a LEOD option); false = fresh weights")
    devices: int = knob(1, "training processes; > 1 relaunches under torchrun, DDP (docs/how-to/multi-gpu.md)",
                        at_least(1))
    seed: int = knob(0, "initial weights and the training loader's draws (per rank: seed + 1009 x rank)")
    threads: int = knob(
        2,
        "torch threads of train/evaluate/pseudo-label: results are bit-exact for a fixed count (0 = all cores)",
        at_least(0))


@dataclass(frozen=True)
class EvalConfig:
    split: str = knob("test", "val | test: the split leod evaluate scores and the report compares", one_of(_SPLITS))
    conf_threshold: float = knob(0.001, "score threshold of the boxes evaluated (RVT/LEOD 0.001)", unit("a threshold"))
    nms_iou: float = knob(0.45, "class-wise NMS IoU (RVT/LEOD 0.45)", unit("an IoU"))
    batch_size: int = knob(8, "sequences streamed together in one forward pass (RVT 8)", at_least(1))
    num_vis_frames: int = knob(6, "example frames drawn with labels and predictions (eval/frames/*.png)")
    memory_reset_every: int = knob(0, "0: keep the LSTM states over the stream (RVT); 1: no memory (an ablation)",
                                   at_least(0, "0 = never reset"))


@dataclass(frozen=True)
class TTAConfig:
    hflip: bool = knob(True, "test-time view: horizontal flip (LEOD true)")
    tflip: bool = knob(True, "test-time view: time flip, the sequence played backwards (LEOD true)")


@dataclass(frozen=True)
class TrackerConfig:
    enable: bool = knob(True, "run the tracking filter (false: the no_tracking ablation)")
    iou_threshold: float = knob(0.45, "IoU matching a box to a track (LEOD 0.45)", unit("an IoU"))
    q: float = knob(0.9, "track confidence decay per missed frame (LEOD 0.9)",
                    Check(lambda v: 0 < v < 1, "a decay in (0, 1)"))
    min_conf: float = knob(0.55, "a track whose confidence falls below this ends (LEOD 0.55)", unit("a confidence"))
    min_track_len: int = knob(
        6,
        "frames a finished track must span, else its boxes become ignore boxes (LEOD 6 = 300 ms)",
        at_least(1))
    inpaint: bool = knob(True, "add a kept track's missed frames as ignore boxes (LEOD true)")


@dataclass(frozen=True)
class PseudoConfig:
    method: str = knob(
        "leod",
        "leod: the model's detections + TTA + tracker | tracker_only: the baseline, sparse GT carried by the "
        "tracker alone",
        one_of(PSEUDO_METHODS))
    conf_threshold: float = knob(0.01, "score threshold of the raw predictions and of the merged views (LEOD 0.01)",
                                 unit("a threshold"))
    nms_iou: float = knob(0.45, "class-wise NMS IoU, per view and after merging the views (LEOD 0.45)", unit("an IoU"))
    obj_thresh: tuple[float, ...] = knob(
        (0.6, 0.3),
        "per class: keep a predicted box iff objectness > this (LEOD [0.6, 0.3])",
        Check(lambda v: all(in_unit(x) for x in v), "probabilities in [0, 1]"))
    cls_thresh: tuple[float, ...] = knob((0.6, 0.3), "per class: ... and class confidence > this (LEOD [0.6, 0.3])",
                                         Check(lambda v: all(in_unit(x) for x in v), "probabilities in [0, 1]"))
    use_gt: bool = knob(True, "copy the kept GT frames verbatim instead of predicting them (LEOD true)")
    batch_size: int = knob(8, "forward-pass rows; a sequence is labelled alone, all its TTA views in one batch",
                           at_least(1))
    tta: TTAConfig = section(TTAConfig)
    tracker: TrackerConfig = section(TrackerConfig)


@dataclass(frozen=True)
class PredictConfig:
    """``leod predict``: a detector streamed over recordings (leod_core/predict)."""

    conf_threshold: float = knob(
        0.001,
        "boxes written: eval's threshold, so evaluate-boxes on them scores like leod evaluate",
        unit("a threshold"))
    nms_iou: float = knob(0.45, "class-wise NMS IoU of the boxes written (eval's 0.45)", unit("an IoU"))
    every_ms: int = knob(50, "a multiple of the 50 ms window; the detector still sees every window",
                         Check(lambda v: v >= 50 and v % 50 == 0, "a multiple of the 50 ms window (50, 100, ...)"))
    score_threshold: float = knob(0.3, "boxes drawn in --video/--gif and tracked by --track (pseudo.tracker settings)",
                                  unit("a threshold"))
    speed: float = knob(1.0, "video fps = 1000 / every_ms x speed (20 fps = real time at 50 ms)",
                        Check(lambda v: 0 < v <= 100, "a factor in (0, 100]"))
    gif_seconds: float = knob(5.0, "length of the --gif clip from the start, in video seconds", positive("seconds"))
    video_height: int = knob(240, "event frames scaled up by an integer factor to at least this height (synth: x2)",
                             Check(lambda v: 16 <= v <= 4320, "pixels in [16, 4320]"))


@dataclass(frozen=True)
class LeodConfig:
    rounds: int = knob(1, "self-training rounds after the supervised round 0", at_least(0))
    paths: PathsConfig = section(PathsConfig)
    dataset: DatasetConfig = section(DatasetConfig)
    synth: SynthConfig = section(SynthConfig)
    subsample: SubsampleConfig = section(SubsampleConfig)
    data: DataConfig = section(DataConfig)
    full_labels: FullLabelsConfig = section(
        FullLabelsConfig,
        "all labels (subsample.ratio 1): these replace the keys named, like LEOD's full-label configs")
    model: ModelConfig = section(ModelConfig)
    loss: LossConfig = section(LossConfig)
    train: TrainConfig = section(TrainConfig)
    eval: EvalConfig = section(EvalConfig)
    pseudo: PseudoConfig = section(PseudoConfig)
    predict: PredictConfig = section(
        PredictConfig,
        "leod predict (not a DVC stage); --every-ms / --speed override these")

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

    @property
    def layout(self) -> ArtifactLayout:
        """Where this run's rounds keep their files (``paths.artifacts``; leod_core/round_layout.py)."""
        return ArtifactLayout(self.paths.artifacts)


@functools.lru_cache(maxsize=None)
def _checked(schema: type) -> list[Knob]:
    """The parameters of ``schema`` with a check, in declaration order (the first invalid one is reported)."""
    return [k for k in knobs(schema) if k.check is not None]


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
    for k in _checked(type(cfg)):
        value = _get(cfg, k.key)
        if not k.check.ok(value):
            raise ConfigError(f"params: {k.key}={value!r} is invalid; allowed: {k.check.allowed}")
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


def load_config(path: str | Path | None = "params.yaml", overrides: list[str] | None = None,
                schema: type[LeodConfig] = LeodConfig) -> LeodConfig:
    """Merge ``params.yaml`` (or an overlay on it, see ``base``) and ``key=value`` overrides onto ``schema``
    and validate every key.

    ``schema`` is the core's sections alone by default; the pipeline loads its params files with
    ``flows.settings.PipelineConfig`` (the core plus orchestration, MLflow, DVC and the study).

    Raises ConfigError with a one-line message on any unknown key or invalid value; a key a file brings
    names that file.
    """
    structured = OmegaConf.structured(schema)
    _make_writable(structured)
    layers: list[tuple[Path | None, Any]] = list(_read_layers(Path(path))) if path is not None else []
    try:
        # one layer per override, in order: `-S dataset.camera=gen4 -S dataset.camera.all_classes=true` refines
        # gen4 (in one dotlist the second key would replace the first)
        layers += [(None, OmegaConf.from_dotlist([o])) for o in overrides or ()]
        merged = structured
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
    assert isinstance(cfg, schema)
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
