"""Random scenes for the synthetic event camera: background, objects and their trajectories.

A scene is sampled once per sequence from a ``np.random.Generator``; trajectories are precomputed for
every render step, so rendering a step is a pure function of (scene, step index).
World vs screen: the background is a periodic texture seen through a window that translates by
``bg_offset[k]`` (camera ego-motion). An object's screen position is its world position minus that
offset, so a stopped object moves with the background when the camera moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from leod_core.synth.presets import SynthPreset
from leod_core.synth.render import BlobShape, CarShape, PedShape, periodic_noise

__all__ = ["ObjectKind", "OBJECT_KINDS", "SceneObject", "Scene", "sample_scene", "CAR", "PED", "DISTRACTOR"]

CAR, PED = 0, 1  # class ids of CAMERAS['synth'] ('car', 'ped')
DISTRACTOR = -1  # moving but unlabelled (it still occludes)


@dataclass(frozen=True)
class ObjectKind:
    """How the objects of one class look and move: the car or pedestrian shape and statistics, scaled."""

    shape: str  # "car" | "ped"
    size: float = 1.0  # factor on the shape's width and height
    speed: float = 1.0  # factor on the preset's car / pedestrian speed range
    texture: float = 1.0  # factor on the texture's contrast (std)


#: class id -> kind. A scene of N classes uses the first N; 0 and 1 are the synth camera's car and ped.
OBJECT_KINDS: tuple[ObjectKind, ...] = (
    ObjectKind("car"),
    ObjectKind("ped"),
    ObjectKind("car", size=1.6, speed=0.6, texture=0.6),  # long, slow, plain (a truck)
    ObjectKind("ped", size=0.8, speed=2.5, texture=1.3),  # small and fast (a runner or cyclist)
    ObjectKind("car", size=0.6, speed=1.4, texture=1.5),  # small vehicle, busy texture
    ObjectKind("ped", size=1.4, speed=0.5, texture=0.7),  # tall and slow
    ObjectKind("car", size=1.2, speed=1.8, texture=1.0),  # fast vehicle
    ObjectKind("ped", size=0.6, speed=1.0, texture=1.8),  # small, busy texture
)
_BG_CANVAS = (256, 512)  # periodic background canvas (rows, cols): wider, since ego-motion is mostly horizontal
_OBJ_TEX = (32, 32)


@dataclass(frozen=True)
class SceneObject:
    """One object: class, look, and screen trajectory per render step (NaN-free, may be off-screen)."""

    obj_id: int
    class_id: int  # CAR, PED or DISTRACTOR
    shape: CarShape | PedShape | BlobShape
    base: float  # mean log intensity
    texture: np.ndarray  # float32 periodic texture attached to the object
    cx: np.ndarray  # float64 (K+1,) screen centre x per step
    cy: np.ndarray  # float64 (K+1,)
    phase: np.ndarray  # float64 (K+1,) articulation phase (pedestrians; zeros for cars)
    depth: float  # larger = closer to the camera (drawn later)


@dataclass(frozen=True)
class Scene:
    """A whole sequence: background, ego-motion offsets per step, objects sorted far to near."""

    height: int
    width: int
    step_us: int
    n_steps: int  # K: steps 0..K cover [0, K * step_us]
    bg_texture: np.ndarray  # float32 periodic canvas
    bg_offset: np.ndarray  # float64 (K+1, 2): (oy, ox) of the view into the canvas per step
    ego_motion: bool
    objects: tuple[SceneObject, ...]


def _background(rng: np.random.Generator) -> np.ndarray:
    """Smooth noise plus soft rectangles/ellipses (buildings, poles, markings) on a periodic canvas."""
    ch, cw = _BG_CANVAS
    tex = periodic_noise(rng, _BG_CANVAS, beta=rng.uniform(1.2, 2.4), std=rng.uniform(0.12, 0.4), cutoff=0.4)
    for _ in range(int(rng.integers(10, 40))):
        bh, bw = rng.uniform(3, 40), rng.uniform(3, 40)
        pad = 2
        ys = np.arange(-int(bh / 2) - pad, int(bh / 2) + pad + 1)
        xs = np.arange(-int(bw / 2) - pad, int(bw / 2) + pad + 1)
        if rng.random() < 0.5:  # rectangle
            d = np.maximum(np.abs(ys)[:, None] - bh / 2, np.abs(xs)[None, :] - bw / 2)
        else:  # ellipse (distance approximated by scaling)
            d = (np.hypot(ys[:, None] / (bh / 2), xs[None, :] / (bw / 2)) - 1.0) * min(bh, bw) / 2
        patch = np.clip(0.5 - d, 0.0, 1.0) * rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 0.5)
        r0, c0 = int(rng.integers(0, ch)), int(rng.integers(0, cw))
        tex[np.ix_((r0 + ys) % ch, (c0 + xs) % cw)] += patch.astype(np.float32)
    return tex


def _ego_offsets(rng: np.random.Generator, preset: SynthPreset, t_s: np.ndarray, ego: bool):
    """View offset (oy, ox) as a function of time (seconds, any sign) and the mean ego velocity."""
    y0, x0 = rng.uniform(0, _BG_CANVAS[0]), rng.uniform(0, _BG_CANVAS[1])
    if not ego:
        return (lambda t: (np.full_like(t, y0), np.full_like(t, x0))), (0.0, 0.0)
    vx = rng.choice([-1.0, 1.0]) * rng.uniform(*preset.ego_speed_px_s)
    vy = rng.uniform(-0.25, 0.25) * abs(vx)
    amp, freq, ph = rng.uniform(0.3, 2.0), rng.uniform(1.0, 3.0), rng.uniform(0, 2 * np.pi, 2)

    def offset(t: np.ndarray):  # constant drift plus camera shake
        return (y0 + vy * t + amp * np.sin(2 * np.pi * freq * t + ph[0]),
                x0 + vx * t + 0.5 * amp * np.sin(2 * np.pi * freq * t + ph[1]))
    return offset, (vy, vx)


def _speed_factor(rng: np.random.Generator, t: np.ndarray, stop: tuple[float, float] | None,
                  ramp: float) -> np.ndarray:
    """Multiplier of the object's own velocity: mild wobble, and 0 during a stop (linear ramps)."""
    f = 1.0 + rng.uniform(0.0, 0.15) * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 2 * np.pi))
    if stop is not None:
        t_b, t_c = stop  # fully stopped in [t_b, t_c]
        f = f * np.clip(np.maximum((t_b - t) / ramp, (t - t_c) / ramp), 0.0, 1.0)
    return f


def _sample_body(rng: np.random.Generator, preset: SynthPreset, kind: int, look: ObjectKind, is_ped: bool,
                 side: float, height: int) -> tuple[CarShape | PedShape | BlobShape, tuple[float, float], float, float]:
    """Shape, velocity relative to the moving camera (vy, vx; px/s), starting row and speed ramp (s)
    of one object of ``kind`` travelling in direction ``side``."""
    if kind == DISTRACTOR:
        shape = BlobShape(w=rng.uniform(6, 26), h=rng.uniform(6, 26))
        speed = rng.uniform(10.0, 60.0)
        heading = rng.uniform(-0.9, 0.9)
        v_rel = (speed * math.sin(heading), side * speed * math.cos(heading))
        cy0 = rng.uniform(0.1, 0.9) * height
        ramp = 0.3
    elif is_ped:
        shape = PedShape(w=rng.uniform(8, 14) * look.size, h=rng.uniform(20, 34) * look.size,
                         swing=rng.uniform(0.3, 0.5), head_delta=rng.uniform(-0.3, 0.3), leg_delta=rng.uniform(-0.4, 0.4))
        speed = rng.uniform(*preset.ped_speed_px_s) * look.speed
        heading = rng.uniform(-0.3, 0.3)
        v_rel = (speed * math.sin(heading), side * speed * math.cos(heading))
        cy0 = rng.uniform(0.3, 0.85) * height
        ramp = 0.2
    else:
        cw, ch = rng.uniform(28, 45) * look.size, rng.uniform(14, 22) * look.size
        shape = CarShape(w=cw, h=ch, cabin_dx=side * rng.uniform(-0.05, 0.15),
                         window_delta=rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.5),
                         wheel_delta=-rng.uniform(0.3, 0.7))
        speed = rng.uniform(*preset.car_speed_px_s) * look.speed
        v_rel = (rng.uniform(-0.06, 0.06) * speed, side * speed)
        cy0 = rng.uniform(0.35, 0.9) * height
        ramp = 0.4
    return shape, v_rel, cy0, ramp


def _sample_object(rng: np.random.Generator, preset: SynthPreset, obj_id: int, kind: int, height: int, width: int,
                   duration: float, step_s: float, n_steps: int, offset_fn, ego_v) -> SceneObject:
    # a distractor draws nothing from its kind; the factors of classes 0 and 1 are 1.0 (exact: same scenes)
    look = OBJECT_KINDS[max(kind, 0)]
    is_ped = kind != DISTRACTOR and look.shape == "ped"
    side = rng.choice([-1.0, 1.0])  # screen direction of travel: +1 left -> right
    shape, v_rel, cy0, ramp = _sample_body(rng, preset, kind, look, is_ped, side, height)
    hx, _ = shape.half_extent()
    t_cross = (width + 2 * hx) / abs(v_rel[1])
    t_spawn = rng.uniform(-0.9 * min(t_cross, 8.0), duration - 0.5)
    stop = None
    if rng.random() < preset.stop_prob:
        # stop while on screen, and never before 0.3 s: an object must be seen moving before it goes silent
        t_b = max(t_spawn + rng.uniform(0.25, 0.75) * t_cross, rng.uniform(0.3, 1.0))
        stop = (t_b, t_b + rng.uniform(*preset.stop_duration_s))
    k_spawn = math.floor(t_spawn / step_s)
    t = np.arange(k_spawn, n_steps + 1) * step_s  # object's own time grid, spawn -> end
    f = _speed_factor(rng, t, stop, ramp)
    v_world = (v_rel[0] + ego_v[0], v_rel[1] + ego_v[1])
    # world position by integrating the object's velocity; start just outside the entry edge on screen
    oy, ox = offset_fn(t)
    cx_s0 = -hx - 1.0 if side > 0 else width + hx + 1.0
    wy = np.concatenate([[0.0], np.cumsum(f[:-1]) * step_s * v_world[0]]) + cy0 + oy[0]
    wx = np.concatenate([[0.0], np.cumsum(f[:-1]) * step_s * v_world[1]]) + cx_s0 + ox[0]
    cy, cx = wy - oy, wx - ox
    if is_ped:
        phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * rng.uniform(0.8, 1.8) * np.concatenate(
            [[0.0], np.cumsum(f[:-1]) * step_s])
    else:
        phase = np.zeros_like(t)
    keep = slice(-(n_steps + 1), None)  # steps 0..K
    if k_spawn > 0:  # not spawned yet: park it far outside the view
        pad = np.full(k_spawn, -1e4)
        cx, cy, phase = (np.concatenate([pad, a]) for a in (cx, cy, phase))
    tex = periodic_noise(rng, _OBJ_TEX, beta=rng.uniform(1.0, 2.5),
                         std=rng.uniform(0.12, 0.4) * (look.texture if kind != DISTRACTOR else 1.0), cutoff=0.5)
    contrast = rng.uniform(0.08, 0.2) if rng.random() < preset.low_contrast_prob else rng.uniform(0.25, 0.8)
    base = rng.choice([-1.0, 1.0]) * contrast
    depth = cy0 + (shape.h / 2) + rng.normal(0, 2.0)  # lower in the image = closer
    return SceneObject(obj_id=obj_id, class_id=kind, shape=shape, base=float(base),
                       texture=tex, cx=np.ascontiguousarray(cx[keep]), cy=np.ascontiguousarray(cy[keep]),
                       phase=np.ascontiguousarray(phase[keep]), depth=float(depth))


def _draw_kind(rng: np.random.Generator, preset: SynthPreset, num_classes: int) -> int:
    """Class of one object: 2 classes as the synth camera (pedestrians at ``ped_fraction``), 1 class cars
    only, more classes uniformly."""
    if num_classes == 2:
        return PED if rng.random() < preset.ped_fraction else CAR
    return CAR if num_classes == 1 else int(rng.integers(0, num_classes))


def sample_scene(rng: np.random.Generator, preset: SynthPreset, height: int, width: int,
                 num_classes: int = 2) -> Scene:
    """Sample background, ego-motion and objects (of ``num_classes`` kinds, :data:`OBJECT_KINDS`) of one sequence."""
    if not 1 <= num_classes <= len(OBJECT_KINDS):
        raise ValueError(f"synth: {num_classes} classes; allowed: 1 to {len(OBJECT_KINDS)} (OBJECT_KINDS)")
    step_s = preset.step_us * 1e-6
    n_steps = round(preset.duration_s * 1e6 / preset.step_us)
    duration = n_steps * step_s
    bg = _background(rng)
    ego = bool(rng.random() < preset.ego_motion_fraction)
    offset_fn, ego_v = _ego_offsets(rng, preset, np.zeros(1), ego)
    oy, ox = offset_fn(np.arange(n_steps + 1) * step_s)
    n_obj = int(rng.integers(preset.objects_per_sequence[0], preset.objects_per_sequence[1] + 1))
    kinds = [_draw_kind(rng, preset, num_classes) for _ in range(n_obj)]
    kinds += [DISTRACTOR] * int(rng.integers(preset.distractors_per_sequence[0],
                                             preset.distractors_per_sequence[1] + 1))
    objects = [_sample_object(rng, preset, i, kind, height, width, duration, step_s, n_steps, offset_fn, ego_v)
               for i, kind in enumerate(kinds)]
    objects.sort(key=lambda o: o.depth)
    return Scene(height=height, width=width, step_us=preset.step_us, n_steps=n_steps, bg_texture=bg,
                 bg_offset=np.stack([oy, ox], axis=1), ego_motion=ego, objects=tuple(objects))
