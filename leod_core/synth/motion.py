"""Forward ego-motion through a street (``motion: street``, the gen1like preset): a pinhole camera on a car,
the ego trajectory, and world objects whose screen position, size and depth follow from perspective.

World axes: X to the right, Y down (the ground is at Y = cam_height), Z forward, in metres. The camera sits
at (0, 0, s(t)) looking along +Z; slow steering (yaw) and pitch shake are small angles, modelled as a shift
of the principal point. A ground point (X, Z) at relative depth z = Z - s(t) projects to
``x = cx(t) + f X / z``, ``y = cy(t) + f cam_height / z``, and S metres to ``f S / z`` pixels: objects grow
as they come closer (looming), and nearer things move faster on screen (parallax).

Everything here is sampled once per sequence from a ``np.random.Generator`` (same seed, same street).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from leod_core.synth.render import BlobShape, CarShape, PedShape, periodic_noise

__all__ = ["StreetParams", "EgoPath", "WorldObject", "StreetScene", "sample_ego_path", "sample_street_scene",
           "PoleShape"]

CAR, PED, DISTRACTOR = 0, 1, -1  # as leod_core.synth.scene


@dataclass(frozen=True)
class StreetParams:
    """The street scene of ``motion: street``: camera, ego speed, street layout and traffic densities."""

    hfov_deg: float = 65.0  # horizontal field of view
    horizon: float = 0.42  # horizon row as a fraction of the sensor height
    cam_height_m: float = 1.3
    ego_speed_mps: tuple[float, float] = (5.0, 12.0)  # cruising speed (18-43 km/h, urban)
    ego_modes: tuple[float, float, float] = (0.55, 0.3, 0.15)  # probabilities: cruise, stop-and-go, standing
    road_half_m: tuple[float, float] = (3.5, 5.0)  # kerb distance from the camera's line
    sidewalk_m: tuple[float, float] = (2.0, 4.0)  # kerb to facade
    parked_per_100m: tuple[float, float] = (3.0, 9.0)  # parked cars per side and 100 m of street
    lead_cars: tuple[int, int] = (1, 2)  # cars 7-40 m ahead in the camera's lane (a frame is rarely empty)
    oncoming_per_s: tuple[float, float] = (0.08, 0.3)
    crossing_per_s: tuple[float, float] = (0.05, 0.2)  # cars crossing at intersections
    intersection_every_m: tuple[float, float] = (60.0, 160.0)
    walkers_per_100m: tuple[float, float] = (0.5, 2.5)  # pedestrians per side and 100 m of sidewalk
    ped_crossing_per_s: tuple[float, float] = (0.0, 0.04)  # pedestrians crossing the street
    poles_per_100m: tuple[float, float] = (2.0, 6.0)  # unlabelled static distractors (poles, signs)
    z_near_m: float = 1.5  # closer objects are not drawn (they left the view)
    z_far_m: float = 80.0  # farther objects are not drawn (a few pixels at most)
    #: amplitude range of the camera's pitch shake in pixels at 10 m/s (a car's body bouncing on the road);
    #: it is what makes a car ahead at the same speed, or parked at a distance, fire events at its edges
    pitch_shake_px: tuple[float, float] = (0.1, 0.5)


@dataclass(frozen=True)
class PoleShape:
    """Unlabelled pole or sign post: a thin upright bar, sometimes with a plate on top."""

    w: float
    h: float
    plate: float  # plate size as a fraction of h (0: none)

    def half_extent(self, phase: float = 0.0) -> tuple[float, float]:
        return max(self.w / 2, self.plate * self.h / 2) + 1.0, self.h / 2 + 1.0

    def render(self, u: np.ndarray, v: np.ndarray, phase: float) -> tuple[np.ndarray, np.ndarray]:
        from leod_core.synth.render import _rrect  # noqa: PLC2701 (the shared anti-aliased primitive)

        alpha = _rrect(u, v, 0.0, 0.0, max(self.w / 2, 0.5), self.h / 2, 0.0)
        if self.plate > 0:
            r = self.plate * self.h / 2
            alpha = np.maximum(alpha, _rrect(u, v, 0.0, -self.h / 2 + r, r, r, 0.3 * r))
        return alpha, np.zeros_like(alpha)


@dataclass(frozen=True)
class EgoPath:
    """The camera per render step k = 0..K: travelled distance, principal point (yaw, pitch shake)."""

    s_m: np.ndarray  # (K+1,) distance travelled along Z
    cx: np.ndarray  # (K+1,) principal point column (slow steering)
    cy: np.ndarray  # (K+1,) horizon row (pitch shake, grows with speed)
    speed: np.ndarray  # (K+1,) m/s
    mode: str  # cruise | stop-and-go | standing


@dataclass(frozen=True)
class WorldObject:
    """One object in the world: class, shape in metres (w, h), look, ground position per step."""

    obj_id: int
    class_id: int  # CAR, PED or DISTRACTOR (unlabelled; still occludes)
    shape: CarShape | PedShape | BlobShape | PoleShape  # w, h in metres
    base: float  # mean log intensity
    texture: np.ndarray  # float32 periodic texture, texel_m metres per texel
    texel_m: float
    x_m: np.ndarray  # (K+1,) lateral position (may be a broadcast scalar)
    z_m: np.ndarray  # (K+1,) world Z
    phase: np.ndarray  # (K+1,) articulation phase (pedestrians), zeros otherwise
    lift_m: float = 0.0  # height of the shape's bottom above the ground


@dataclass(frozen=True)
class StreetScene:
    """A whole street sequence: camera, ego path, street layout, textures and objects."""

    height: int
    width: int
    step_us: int
    n_steps: int
    focal: float  # pixels
    params: StreetParams
    ego: EgoPath
    road_half_m: float
    wall_left_m: float  # facade distances (X = -wall_left, X = +wall_right)
    wall_right_m: float
    intersections_m: np.ndarray  # world Z of the cross streets (gaps in the facades)
    gap_half_m: float
    ground_tex: np.ndarray  # float32 periodic textures (0.25 m texels)
    facade_tex: tuple[np.ndarray, np.ndarray]  # left, right: (rows = height above ground, cols = Z)
    roof_m: tuple[np.ndarray, np.ndarray]  # building height per facade texture column
    sky: float
    objects: tuple[WorldObject, ...]

    @property
    def ego_motion(self) -> bool:
        return bool(self.ego.s_m[-1] - self.ego.s_m[0] > 1.0)


def sample_ego_path(rng: np.random.Generator, p: StreetParams, t_s: np.ndarray, height: int, width: int,
                    focal: float) -> EgoPath:
    """Speed profile (cruise / stop-and-go / standing), distance, steering and pitch shake per step."""
    mode = str(rng.choice(["cruise", "stop-and-go", "standing"], p=list(p.ego_modes)))
    v0 = rng.uniform(*p.ego_speed_mps)
    dur = float(t_s[-1]) if len(t_s) else 0.0
    wob = 1.0 + rng.uniform(0.0, 0.15) * np.sin(2 * np.pi * rng.uniform(0.03, 0.1) * t_s + rng.uniform(0, 2 * np.pi))
    if mode == "cruise":
        v = v0 * wob
    elif mode == "standing":
        v = np.zeros_like(t_s)
    else:  # brake to a stop, wait, accelerate again
        t_b = rng.uniform(0.1, 0.5) * dur
        dec, acc = rng.uniform(1.5, 3.0), rng.uniform(1.0, 2.5)
        t_s0 = t_b + v0 / dec
        t_g = t_s0 + rng.uniform(3.0, 10.0)
        v = np.where(t_s < t_b, v0, np.clip(v0 - dec * (t_s - t_b), 0.0, None))
        v = np.where(t_s >= t_g, np.minimum(acc * (t_s - t_g), v0), v) * wob
    dt = float(t_s[1] - t_s[0]) if len(t_s) > 1 else 0.0
    s = np.concatenate([[0.0], np.cumsum(v[:-1]) * dt])
    vn = v / 10.0  # shake grows with speed; a standing car does not shake
    yaw = math.radians(rng.uniform(0.3, 2.0)) * np.sin(2 * np.pi * rng.uniform(0.03, 0.12) * t_s + rng.uniform(0, 6.3))
    cx = width / 2 + focal * np.tan(yaw * np.clip(vn, 0.0, 1.0))
    bump_a, bump_f = rng.uniform(*p.pitch_shake_px), rng.uniform(1.5, 4.0)
    pitch = bump_a * np.sin(2 * np.pi * bump_f * t_s + rng.uniform(0, 6.3)) \
        + 0.3 * bump_a * np.sin(2 * np.pi * 2.7 * bump_f * t_s + rng.uniform(0, 6.3))
    cy = p.horizon * height + pitch * np.clip(vn, 0.0, 1.5)
    return EgoPath(s_m=s, cx=cx, cy=cy, speed=v, mode=mode)


def _poisson_positions(rng: np.random.Generator, per_100m: float, lo: float, hi: float) -> np.ndarray:
    n = int(rng.poisson(max(per_100m, 0.0) * max(hi - lo, 0.0) / 100.0))
    return np.sort(rng.uniform(lo, hi, n))


def _arrivals(rng: np.random.Generator, rate: float, lo: float, hi: float) -> np.ndarray:
    n = int(rng.poisson(max(rate, 0.0) * max(hi - lo, 0.0)))
    return np.sort(rng.uniform(lo, hi, n))


def _car_shape(rng: np.random.Generator, side_view: bool) -> CarShape:
    if side_view:  # crossing traffic: long silhouette, cabin off centre
        w, h, cabin = rng.uniform(3.9, 4.7), rng.uniform(1.35, 1.6), rng.choice([-1.0, 1.0]) * rng.uniform(-0.05, 0.15)
    else:  # seen from behind or in front: about as wide as high
        w, h, cabin = rng.uniform(1.65, 1.95), rng.uniform(1.35, 1.65), rng.uniform(-0.02, 0.02)
    return CarShape(w=w, h=h, cabin_dx=cabin, window_delta=rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.5),
                    wheel_delta=-rng.uniform(0.3, 0.7))


def _ped_shape(rng: np.random.Generator) -> PedShape:
    return PedShape(w=rng.uniform(0.45, 0.7), h=rng.uniform(1.55, 1.9), swing=rng.uniform(0.3, 0.5),
                    head_delta=rng.uniform(-0.3, 0.3), leg_delta=rng.uniform(-0.4, 0.4))


def _look(rng: np.random.Generator, low_contrast_prob: float) -> tuple[float, np.ndarray]:
    contrast = rng.uniform(0.08, 0.2) if rng.random() < low_contrast_prob else rng.uniform(0.25, 0.8)
    tex = periodic_noise(rng, (32, 32), beta=rng.uniform(1.0, 2.5), std=rng.uniform(0.1, 0.3), cutoff=0.5)
    return float(rng.choice([-1.0, 1.0]) * contrast), tex


def _ramp(a: float, b: float, n: int) -> np.ndarray:
    return np.broadcast_to(np.float64(a), (n,)) if b == 0 else a + b * np.arange(n, dtype=np.float64)


def sample_street_scene(rng: np.random.Generator, preset, height: int, width: int, num_classes: int = 2) -> StreetScene:
    """Sample the ego path, the street (facades, cross streets, textures) and its traffic for one sequence.

    Classes: 0 cars (parked, leading, oncoming, crossing), 1 pedestrians (walking on the sidewalks, crossing);
    with one class only cars; more than two classes are not drawn by the street scene.
    """
    if num_classes > 2:
        raise ValueError(f"synth motion 'street' draws 1 or 2 classes (cars, pedestrians), not {num_classes}")
    p: StreetParams = preset.street
    step_s = preset.step_us * 1e-6
    n_steps = round(preset.duration_s * 1e6 / preset.step_us)
    t = np.arange(n_steps + 1) * step_s
    dur = float(t[-1])
    focal = (width / 2) / math.tan(math.radians(p.hfov_deg) / 2)
    ego = sample_ego_path(rng, p, t, height, width, focal)
    s_end = float(ego.s_m[-1])
    road = rng.uniform(*p.road_half_m)
    wall_l, wall_r = road + rng.uniform(*p.sidewalk_m), road + rng.uniform(*p.sidewalk_m)
    # cross streets: gaps in the facades; a standing camera waits at one
    first = rng.uniform(8.0, 25.0) if ego.mode != "cruise" else rng.uniform(10.0, 60.0)
    inter = [first]
    while inter[-1] < s_end + p.z_far_m:
        inter.append(inter[-1] + rng.uniform(*p.intersection_every_m))
    if ego.mode == "stop-and-go":  # the stop is before a cross street
        stop_at = float(ego.s_m[np.flatnonzero(ego.speed < 0.05)[0]]) if np.any(ego.speed < 0.05) else None
        if stop_at is not None:
            inter.append(stop_at + rng.uniform(6.0, 14.0))
    intersections = np.sort(np.asarray(inter))
    gap_half = rng.uniform(5.0, 8.0)
    from leod_core.synth.streetview import facade_texture, ground_texture

    ground = ground_texture(rng)
    facades, roofs = zip(*(facade_texture(rng) for _ in range(2)))
    sky = rng.uniform(0.3, 0.9)

    objects: list[WorldObject] = []
    k1 = n_steps + 1
    z_lo, z_hi = -5.0, s_end + p.z_far_m

    def add(class_id, shape, x, z, phase=None, lift=0.0, low_contrast=0.15, texel=0.1):
        base, tex = _look(rng, low_contrast)
        ph = np.broadcast_to(np.float64(0.0), (k1,)) if phase is None else phase
        objects.append(WorldObject(obj_id=len(objects), class_id=class_id, shape=shape, base=base, texture=tex,
                                   texel_m=texel, x_m=x, z_m=z, phase=ph, lift_m=lift))

    def walk_phase(speed: float) -> np.ndarray:
        if speed == 0:
            return np.broadcast_to(np.float64(rng.uniform(0, 6.3)), (k1,))
        return rng.uniform(0, 2 * np.pi) + 2 * np.pi * (abs(speed) / 1.4) * rng.uniform(0.8, 1.2) * t

    ped_cls = PED if num_classes == 2 else None
    # parked cars along both kerbs (static: they loom and stream past at the sides)
    for side, x_kerb in ((-1.0, -road), (1.0, road)):
        for z in _poisson_positions(rng, rng.uniform(*p.parked_per_100m), z_lo, z_hi):
            add(CAR, _car_shape(rng, False), _ramp(x_kerb - side * rng.uniform(0.9, 1.2), 0, k1), _ramp(z, 0, k1))
    # cars ahead in the camera's lane: keep a varying gap to the ego car
    for i in range(int(rng.integers(p.lead_cars[0], p.lead_cars[1] + 1))):
        near = rng.uniform(7.0, 16.0) if i == 0 else rng.uniform(20.0, 40.0)  # the first is close enough to be labelled
        gap = near + rng.uniform(0.0, 4.0) * np.sin(2 * np.pi * t / rng.uniform(8, 20) + rng.uniform(0, 6.3))
        add(CAR, _car_shape(rng, False), _ramp(rng.uniform(-0.4, 0.4), 0, k1), ego.s_m + gap)
    # oncoming cars in the other lane, appearing at z_far
    for ta in _arrivals(rng, rng.uniform(*p.oncoming_per_s), -p.z_far_m / 8.0, dur):
        v = rng.uniform(6.0, 14.0)
        z_at = float(np.interp(ta, t, ego.s_m)) + p.z_far_m
        add(CAR, _car_shape(rng, False), _ramp(-rng.uniform(2.6, 3.6), 0, k1), z_at - v * (t - ta))
    # crossing traffic at the cross streets within reach
    for ta in _arrivals(rng, rng.uniform(*p.crossing_per_s), -3.0, dur):
        s_a = float(np.interp(ta, t, ego.s_m))
        near = intersections[(intersections > s_a + 6.0) & (intersections < s_a + 50.0)]
        if not len(near):
            continue
        zi = float(near[0]) + rng.uniform(-3.0, 3.0)
        direction = rng.choice([-1.0, 1.0])
        v = rng.uniform(5.0, 11.0)
        add(CAR, _car_shape(rng, True), -direction * 30.0 + direction * v * (t - ta), _ramp(zi, 0, k1))
    if ped_cls is not None:
        # pedestrians on both sidewalks, walking along the street or standing
        for side, lo in ((-1.0, road), (1.0, road)):
            wall = wall_l if side < 0 else wall_r
            for z in _poisson_positions(rng, rng.uniform(*p.walkers_per_100m), z_lo, z_hi):
                v = 0.0 if rng.random() < 0.2 else rng.choice([-1.0, 1.0]) * rng.uniform(0.9, 1.6)
                x = side * rng.uniform(lo + 0.4, wall - 0.4)
                add(ped_cls, _ped_shape(rng), _ramp(x, 0, k1), z + v * t, phase=walk_phase(v))
        # pedestrians crossing the street at a cross street
        for ta in _arrivals(rng, rng.uniform(*p.ped_crossing_per_s), -5.0, dur):
            s_a = float(np.interp(ta, t, ego.s_m))
            near = intersections[(intersections > s_a + 5.0) & (intersections < s_a + 40.0)]
            if not len(near):
                continue
            direction = rng.choice([-1.0, 1.0])
            v = rng.uniform(1.0, 1.7)
            zi = float(near[0]) - gap_half + rng.uniform(0.5, 2.5)
            add(ped_cls, _ped_shape(rng), -direction * (road + 2.0) + direction * v * (t - ta), _ramp(zi, 0, k1),
                phase=walk_phase(v))
    # poles and sign posts at the kerbs (unlabelled, static)
    for side in (-1.0, 1.0):
        for z in _poisson_positions(rng, rng.uniform(*p.poles_per_100m), z_lo, z_hi):
            h = rng.uniform(2.5, 6.0)
            shape = PoleShape(w=rng.uniform(0.08, 0.25), h=h, plate=rng.uniform(0.08, 0.15) if rng.random() < 0.4 else 0.0)
            add(DISTRACTOR, shape, _ramp(side * (road + rng.uniform(0.2, 0.6)), 0, k1), _ramp(z, 0, k1))
    return StreetScene(height=height, width=width, step_us=preset.step_us, n_steps=n_steps, focal=focal, params=p,
                       ego=ego, road_half_m=road, wall_left_m=wall_l, wall_right_m=wall_r,
                       intersections_m=intersections, gap_half_m=gap_half, ground_tex=ground,
                       facade_tex=tuple(facades), roof_m=tuple(roofs), sky=sky, objects=tuple(objects))
