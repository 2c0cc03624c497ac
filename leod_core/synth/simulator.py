"""Synthetic event camera: the project's default dataset, written as raw Prophesee files.

``simulate_sequence(spec, rng)`` is a pure function (scene sampling, rendering at a fine internal step,
DVS pixel model, noise, visible-extent boxes every ``preset.label_period_us``: 20 Hz but for gen1like's
4 Hz); ``write_synth_dataset`` maps it over the sequences of a preset and writes
``DST/{train,val,test}/<name>_td.dat`` + ``<name>_bbox.npy``, which go through ``leod import-prophesee``
exactly like real data. Presets with ``motion: street`` (gen1like) are simulated by
:mod:`leod_core.synth.street`; their ``clean_label_splits`` also get ``<name>_bbox_clean.npy`` (the
noise-free labels, which the importer does not read).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leod_core.atomic import atomic_dir
from leod_core.cameras import CAMERAS, CameraSpec
from leod_core.config import SynthConfig
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.synth.presets import SYNTH_PRESETS, SynthPreset, get_synth_preset
from leod_core.synth.render import (
    ObjectLayer, PedShape, Sprite, blend_sprites, place_sprite, render_sprite, sample_shifted,
    wrap_pad,
)
from leod_core.synth.scene import Scene, SceneObject, sample_scene
from leod_core.synth.sensor import DvsSensor, noise_events
from leod_core.synth.street import simulate_street
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.labels.label_files import write_label_file

__all__ = [
    "SynthPreset", "SYNTH_PRESETS", "get_synth_preset", "SequenceSpec", "SynthSequenceSummary", "SPLITS",
    "LABEL_PERIOD_US", "MIN_VISIBLE_FRACTION", "SynthGeometry", "synth_geometry", "sequence_specs", "sequence_rng",
    "simulate_sequence", "generate_sequence_files", "write_synth_dataset", "CLEAN_SUFFIX",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
LABEL_PERIOD_US = 50_000  # the default presets' label period: 20 Hz labels, first one at 50 ms
CLEAN_SUFFIX = "_bbox_clean.npy"  # noise-free labels beside the noisy ones (ignored by the importer)
MIN_VISIBLE_FRACTION = 0.3  # objects with less of their in-view area unoccluded are not labelled


@dataclass(frozen=True)
class SynthGeometry:
    """The rendered sensor and the number of object classes (leod_core.synth.scene.OBJECT_KINDS)."""

    height: int
    width: int
    num_classes: int


#: the synth camera's sensor and classes: the default and micro datasets
SYNTH_CAMERA_GEOMETRY = SynthGeometry(*CAMERAS["synth"].sensor_hw, CAMERAS["synth"].num_classes)


def synth_geometry(synth: SynthConfig, camera: CameraSpec) -> SynthGeometry:
    """``synth.height/width/num_classes``, 0 standing for ``camera``'s sensor size and class count."""
    return SynthGeometry(synth.height or camera.sensor_hw[0], synth.width or camera.sensor_hw[1],
                         synth.num_classes or camera.num_classes)


@dataclass(frozen=True)
class SequenceSpec:
    """What to simulate: one sequence of a preset (the RNG is passed separately)."""

    name: str
    split: str
    index: int
    preset: SynthPreset
    height: int
    width: int
    num_classes: int = 2


@dataclass(frozen=True)
class SynthSequenceSummary:
    """Statistics of one generated sequence (returned by the mapped writer)."""

    name: str
    split: str
    n_events: int
    n_boxes_per_class: tuple[int, ...]
    duration_s: float
    ego_motion: bool
    seconds: float  # generation wall time
    cpu_seconds: float  # CPU time of the generating thread (comparable on a busy machine)


def sequence_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Independent generator per (seed, split, index): results do not depend on the mapping order."""
    return np.random.default_rng([int(seed), SPLITS.index(split), int(index)])


def sequence_specs(preset: SynthPreset, geometry: SynthGeometry = SYNTH_CAMERA_GEOMETRY) -> list[SequenceSpec]:
    """All sequences of a preset, in split order."""
    counts = {"train": preset.n_train, "val": preset.n_val, "test": preset.n_test}
    return [SequenceSpec(name=f"synth_{split}_{i:03d}", split=split, index=i, preset=preset,
                         height=geometry.height, width=geometry.width, num_classes=geometry.num_classes)
            for split in SPLITS for i in range(counts[split])]


_N_PHASES = 48  # pedestrian articulation drawn at 48 phases per gait cycle, blended in between


class _SpriteBank:
    """Sprites of one sequence's objects, drawn lazily (cars once, pedestrians once per phase bin)."""

    def __init__(self) -> None:
        self._sprites: dict[tuple[int, int], Sprite] = {}

    def _get(self, obj: SceneObject, idx: int) -> Sprite:
        key = (obj.obj_id, idx)
        if key not in self._sprites:
            phase = 2 * math.pi * idx / _N_PHASES
            self._sprites[key] = render_sprite(obj.shape, obj.texture, obj.base, phase)
        return self._sprites[key]

    def sprite(self, obj: SceneObject, phase: float) -> Sprite:
        if not isinstance(obj.shape, PedShape):
            return self._get(obj, 0)
        q = (phase % (2 * math.pi)) / (2 * math.pi) * _N_PHASES
        i0 = min(int(q), _N_PHASES - 1)
        w = q - i0
        a = self._get(obj, i0)
        return a if w < 1e-6 else blend_sprites(a, self._get(obj, (i0 + 1) % _N_PHASES), w)


def _layers(scene: Scene, k: int, bank: _SpriteBank,
            cache: dict[int, tuple[tuple[float, float, float], ObjectLayer | None]]
            ) -> list[tuple[SceneObject, ObjectLayer]]:
    """Place every object at step k (far to near), reusing the last layer of objects that did not move."""
    out = []
    for obj in scene.objects:
        key = (obj.cx[k], obj.cy[k], obj.phase[k])
        hit = cache.get(obj.obj_id)
        if hit is not None and hit[0] == key:
            layer = hit[1]
        elif -60 < key[0] < scene.width + 60 and -60 < key[1] < scene.height + 60:
            layer = place_sprite(bank.sprite(obj, key[2]), key[0], key[1], scene.height, scene.width)
            cache[obj.obj_id] = (key, layer)
        else:  # far out of view: skip drawing its sprite
            layer = None
        if layer is not None:
            out.append((obj, layer))
    return out


def _compose(background: np.ndarray, layers: list[tuple[SceneObject, ObjectLayer]]) -> np.ndarray:
    frame = background.copy()
    for _, lay in layers:
        h, w = lay.alpha.shape
        win = frame[lay.y0:lay.y0 + h, lay.x0:lay.x0 + w]
        win *= 1.0 - lay.alpha
        win += lay.premult
    return frame


def _frame_boxes(layers: list[tuple[SceneObject, ObjectLayer]], height: int, width: int, t_us: int) -> list[tuple]:
    """Visible-extent boxes at one label time: front to back, pixels covered (alpha >= 0.5) by a nearer
    object are hidden; objects with < MIN_VISIBLE_FRACTION of their in-view pixels visible are skipped."""
    occupied = np.zeros((height, width), dtype=bool)
    rows_out = []
    for obj, lay in reversed(layers):
        mask = lay.alpha >= 0.5
        h, w = mask.shape
        region = occupied[lay.y0:lay.y0 + h, lay.x0:lay.x0 + w]
        visible = mask & ~region
        region |= mask
        if obj.class_id < 0:  # distractor: occludes, never labelled
            continue
        n_in, n_vis = int(mask.sum()), int(visible.sum())
        if n_vis == 0 or n_vis < MIN_VISIBLE_FRACTION * n_in:
            continue
        ys, xs = np.flatnonzero(visible.any(axis=1)), np.flatnonzero(visible.any(axis=0))
        rows_out.append((t_us, lay.x0 + xs[0], lay.y0 + ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1,
                         obj.class_id, obj.obj_id, 1.0))
    return rows_out


def simulate_sequence(spec: SequenceSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one sequence -> (events sorted by t in EVENT_DTYPE, boxes in PROPHESEE_BBOX_DTYPE).

    Pure given ``rng``. Boxes: top-left xywh in sensor pixels of the visible extent, every
    ``preset.label_period_us`` (50 ms but for gen1like) from then on, class id, track id = object id,
    class_confidence 1; a street preset's boxes carry its label noise.
    """
    if spec.preset.motion == "street":
        events, boxes, _, _ = simulate_street(spec, rng)
        return events, boxes
    events, boxes, _ = _simulate(spec, rng)
    return events, boxes


def _simulate(spec: SequenceSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Scene]:
    preset = spec.preset
    scene = sample_scene(rng, preset, spec.height, spec.width, spec.num_classes)
    h, w, step = spec.height, spec.width, scene.step_us
    bg_ext = wrap_pad(scene.bg_texture, h, w)

    def background(k: int) -> np.ndarray:
        return sample_shifted(bg_ext, scene.bg_texture.shape, scene.bg_offset[k, 0], scene.bg_offset[k, 1], h, w)

    static_bg = None if scene.ego_motion else background(0)
    cache: dict = {}
    bank = _SpriteBank()
    frame = _compose(static_bg if static_bg is not None else background(0), _layers(scene, 0, bank, cache))
    sensor = DvsSensor(rng, frame, step, preset.contrast_mean, preset.contrast_std, preset.refractory_us)
    label_every = preset.label_period_us // step
    boxes: list[tuple] = []
    for k in range(1, scene.n_steps + 1):
        layers = _layers(scene, k, bank, cache)
        frame = _compose(static_bg if static_bg is not None else background(k), layers)
        sensor.step(frame, (k - 1) * step)
        if k % label_every == 0:
            boxes.extend(_frame_boxes(layers, h, w, k * step))
    duration_us = scene.n_steps * step
    noise = noise_events(rng, h, w, duration_us, rng.uniform(*preset.noise_rate_hz),
                         int(rng.integers(preset.hot_pixels[0], preset.hot_pixels[1] + 1)), preset.hot_rate_hz)
    events = np.concatenate([sensor.events(), noise])
    events = events[np.argsort(events["t"], kind="stable")]
    box_arr = np.array(boxes, dtype=[("t", "<i8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                                     ("class_id", "<u4"), ("track_id", "<u4"), ("class_confidence", "<f4")])
    out = np.zeros(len(box_arr), dtype=PROPHESEE_BBOX_DTYPE)
    for name in box_arr.dtype.names:
        out[name] = box_arr[name]
    return events.astype(EVENT_DTYPE, copy=False), out, scene


@dataclass(frozen=True)
class _Job:
    spec: SequenceSpec
    seed: int
    out_dir: Path
    label_format: str = "npy"  # a key of LABEL_FORMATS


def generate_sequence_files(job: _Job) -> SynthSequenceSummary:
    """Simulate one sequence and write its ``_td.dat`` and ``_bbox.npy`` / ``_bbox.csv`` (each atomically)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    spec = job.spec
    rng = sequence_rng(job.seed, spec.split, spec.index)
    if spec.preset.motion == "street":
        events, boxes, clean, scene = simulate_street(spec, rng)
    else:
        (events, boxes, scene), clean = _simulate(spec, rng), None
    write_dat(job.out_dir / f"{spec.name}_td.dat", events, spec.height, spec.width)
    write_label_file(job.out_dir / spec.name, boxes, job.label_format)
    if clean is not None and spec.split in spec.preset.clean_label_splits:
        from leod_core.atomic import atomic_path

        with atomic_path(job.out_dir / f"{spec.name}{CLEAN_SUFFIX}") as tmp:
            np.save(tmp, clean)
    n_cls = spec.num_classes
    per_class = tuple(int(n) for n in np.bincount(boxes["class_id"], minlength=n_cls)[:n_cls])
    summary = SynthSequenceSummary(name=spec.name, split=spec.split, n_events=len(events), n_boxes_per_class=per_class,
                              duration_s=spec.preset.duration_s, ego_motion=scene.ego_motion,
                              seconds=time.perf_counter() - t0, cpu_seconds=time.thread_time() - c0)
    log.info("%s: %d events, boxes per class %s, %.1f s", spec.name, len(events), per_class, summary.seconds)
    return summary


def write_synth_dataset(dst: str | Path, preset: SynthPreset | str, seed: int,
                        map_fn: Callable[[Callable, Iterable], Iterator] = map,
                        geometry: SynthGeometry = SYNTH_CAMERA_GEOMETRY,
                        label_format: str = "npy") -> list[SynthSequenceSummary]:
    """Write the whole dataset of a preset under ``dst`` (replaced atomically); returns per-sequence stats.

    ``geometry``: sensor size and class count rendered (default: the synth camera's, 120 x 160, 2 classes).
    ``label_format``: ``npy`` (Prophesee ``_bbox.npy``) or ``csv`` (``_bbox.csv``, the same boxes).

    ``map_fn`` maps the per-sequence writer (e.g. ``ProcessPoolExecutor.map``); output is identical for
    any mapping since every sequence has its own RNG.
    """
    if isinstance(preset, str):
        preset = get_synth_preset(preset)
    dst = Path(dst)
    specs = sequence_specs(preset, geometry)
    with atomic_dir(dst) as tmp:
        for split in SPLITS:
            (tmp / split).mkdir()
        jobs = [_Job(spec=s, seed=seed, out_dir=tmp / s.split, label_format=label_format) for s in specs]
        summaries = list(map_fn(generate_sequence_files, jobs))
    return summaries
