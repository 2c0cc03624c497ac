"""Rendering of a street scene (leod_core/synth/motion.py): the perspective background and scaled sprites.

Background, per pixel and render step: the camera ray hits the ground (road with lane markings, sidewalks),
a facade (left or right; gaps at cross streets, roofs at the building heights) or the sky. The hit point's
world coordinates index periodic textures, so forward motion makes the ground and facades stream outwards
from the horizon, faster near the camera. Textures fade to a blurred copy where one pixel covers many texels
(no aliasing flicker near the horizon). The per-pixel depth of the background is returned too: an object
behind a facade is hidden by it.

Objects are re-drawn at their current scale (pixels per metre, quantised to 1% steps) with the anti-aliased
shapes of :mod:`leod_core.synth.render`, then shifted to their sub-pixel position.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from leod_core.synth.render import ObjectLayer, PedShape, Sprite, periodic_noise, place_sprite

__all__ = ["TEXEL_M", "ground_texture", "facade_texture", "sample_periodic", "StreetBackground", "ObjectDrawer"]

TEXEL_M = 0.25  # metres per texel of the ground and facade textures
_SCALE_STEP = 0.01  # objects are re-drawn when their size changed by 1%
_N_PHASES = 24  # pedestrian articulation bins per gait cycle


def _blur(tex: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a periodic texture (FFT)."""
    h, w = tex.shape
    f2 = np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2
    out = np.fft.irfft2(np.fft.rfft2(tex) * np.exp(-2 * (math.pi * sigma) ** 2 * f2), s=(h, w))
    return out.astype(np.float32)


def ground_texture(rng: np.random.Generator) -> np.ndarray:
    """Asphalt / pavement texture (rows = Z, cols = X; 32 m x 32 m), stacked with its blurred copy."""
    tex = periodic_noise(rng, (128, 128), beta=rng.uniform(1.4, 2.2), std=rng.uniform(0.12, 0.3), cutoff=0.3)
    for _ in range(int(rng.integers(3, 10))):  # patches, manholes, stains
        r0, c0, rh, rw = (int(v) for v in (rng.integers(0, 128), rng.integers(0, 128), rng.integers(2, 10),
                                           rng.integers(2, 10)))
        tex[np.ix_(np.arange(r0, r0 + rh) % 128, np.arange(c0, c0 + rw) % 128)] += rng.uniform(-0.2, 0.2)
    return np.stack([tex, _blur(tex, 4.0)], axis=-1)


def facade_texture(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Building fronts along 128 m of street (rows = height above ground up to 16 m, cols = Z), stacked with
    a blurred copy, and each column's roof height (m)."""
    rows, cols = 64, 512
    tex = periodic_noise(rng, (rows, cols), beta=2.0, std=rng.uniform(0.08, 0.16), cutoff=0.3)
    roof = np.zeros(cols, dtype=np.float64)
    c = 0
    while c < cols:  # buildings of 8-25 m: own shade, height, window grid
        n = min(int(rng.uniform(8, 25) / TEXEL_M), cols - c)
        tex[:, c:c + n] += rng.uniform(-0.4, 0.4)
        roof[c:c + n] = rng.uniform(5.0, 15.5)
        win = rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.6)
        pw, ph = int(rng.integers(8, 14)), int(rng.integers(10, 14))  # window spacing (texels)
        ww, wh = int(rng.integers(3, pw - 2)), int(rng.integers(4, ph - 3))
        for r in range(3, rows - wh, ph):
            for cc in range(c + 2, c + n - ww - 1, pw):
                tex[r:r + wh, cc:cc + ww] += win
        c += n
    return np.stack([tex, _blur(tex, 4.0)], axis=-1), roof


def _wrap(i: np.ndarray, n: int) -> np.ndarray:
    return i & (n - 1) if n & (n - 1) == 0 else i % n


def sample_periodic(tex: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Bilinear sample of a periodic texture (h, w) or stack of textures (h, w, n) at fractional (row, col)
    texel coordinates (any shapes; a stack adds a last axis)."""
    h, w = tex.shape[:2]
    flat = tex.reshape(h * w, -1) if tex.ndim == 3 else tex.reshape(h * w)
    r0, c0 = np.floor(r), np.floor(c)
    fr, fc = (r - r0).astype(np.float32), (c - c0).astype(np.float32)
    if tex.ndim == 3:
        fr, fc = fr[..., None], fc[..., None]
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    ra, rb = _wrap(r0, h) * w, _wrap(r0 + 1, h) * w
    ca, cb = _wrap(c0, w), _wrap(c0 + 1, w)
    top = np.take(flat, ra + ca, axis=0)
    top += (np.take(flat, ra + cb, axis=0) - top) * fc
    bot = np.take(flat, rb + ca, axis=0)
    bot += (np.take(flat, rb + cb, axis=0) - bot) * fc
    top += (bot - top) * fr
    return top


def _cover(d: np.ndarray, half: float, foot: np.ndarray) -> np.ndarray:
    """Share of a pixel (footprint ``foot`` metres, centred ``d`` metres from a stripe's centre line) that a
    stripe of half width ``half`` covers."""
    ad = np.abs(d)
    return np.clip(np.minimum(ad + foot / 2, half) - np.maximum(ad - foot / 2, -half), 0.0, None) / foot


def _dash_cover(z: np.ndarray, foot: np.ndarray, period: float, length: float) -> np.ndarray:
    """Share of [z - foot/2, z + foot/2] covered by dashes [n P, n P + length) (exact box filter)."""
    def integral(x):
        return np.floor(x / period) * length + np.minimum(np.mod(x, period), length)
    return (integral(z + foot / 2) - integral(z - foot / 2)) / foot


def _lod(tex2: np.ndarray, r: np.ndarray, c: np.ndarray, foot_texels: np.ndarray) -> np.ndarray:
    """Texture value with detail fading by pixel footprint (fine -> blurred -> flat)."""
    both = sample_periodic(tex2, r, c)
    fine, coarse = both[..., 0], both[..., 1]
    w_f = 1.0 / (1.0 + (foot_texels / 1.5) ** 2)
    w_c = 1.0 / (1.0 + (foot_texels / 12.0) ** 2)
    return w_f * fine + (1.0 - w_f) * w_c * coarse


class StreetBackground:
    """Background log intensity and depth of a :class:`~leod_core.synth.motion.StreetScene` per step."""

    def __init__(self, scene) -> None:
        self.scene = scene
        self.jj = np.arange(scene.width, dtype=np.float64)[None, :] + 0.5
        self.ii = np.arange(scene.height, dtype=np.float64)[:, None] + 0.5
        self._last: tuple | None = None

    def render(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(log intensity float32 (H, W), depth float32 (H, W); inf = sky) at render step k."""
        sc, ego = self.scene, self.scene.ego
        key = (ego.s_m[k], ego.cx[k], ego.cy[k])
        if self._last is not None and self._last[0] == key:
            return self._last[1], self._last[2]
        f, hc = sc.focal, sc.params.cam_height_m
        dx = ((self.jj - ego.cx[k]) / f + np.zeros_like(self.ii)).astype(np.float32)
        dy = ((self.ii - ego.cy[k]) / f + np.zeros_like(self.jj)).astype(np.float32)
        s = ego.s_m[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            z_ground = np.where(dy > 1e-6, hc / dy, np.inf)
            z_left = np.where(dx < -1e-6, sc.wall_left_m / -dx, np.inf)
            z_right = np.where(dx > 1e-6, sc.wall_right_m / dx, np.inf)
        frame = np.float32(sc.sky) - np.float32(0.3) * np.clip(dy, -0.5, 0.0)
        depth = np.full(dx.shape, np.inf, dtype=np.float32)
        # facades: valid below the roof and outside the cross streets' gaps
        for z_w, tex, roof, wall in ((z_left, sc.facade_tex[0], sc.roof_m[0], sc.wall_left_m),
                                     (z_right, sc.facade_tex[1], sc.roof_m[1], sc.wall_right_m)):
            cand = np.flatnonzero(np.isfinite(z_w) & (z_w < z_ground))
            if not len(cand):
                continue
            z = z_w.ravel()[cand]
            zw = z + s
            col = zw / TEXEL_M
            height_up = hc - dy.ravel()[cand] * z  # metres above ground
            ok = height_up <= roof[col.astype(np.int64) % len(roof)]
            for zi in sc.intersections_m[(sc.intersections_m > s - sc.gap_half_m)
                                         & (sc.intersections_m < s + sc.params.z_far_m + sc.gap_half_m)]:
                ok &= np.abs(zw - zi) > sc.gap_half_m
            if ok.any():
                cand, z, col, height_up = cand[ok], z[ok], col[ok], height_up[ok]
                foot_z = z * z / (f * wall)  # metres of facade (along Z) per pixel
                val = _lod(tex, (tex.shape[0] - 1) - height_up / TEXEL_M, col, np.maximum(foot_z, z / f) / TEXEL_M)
                frame.ravel()[cand] = val
                depth.ravel()[cand] = z
        g = np.isfinite(z_ground) & (z_ground < depth)
        if g.any():
            z = z_ground[g]
            x = dx[g] * z
            zw = z + s
            foot_z, foot_x = z * z / (f * hc), z / f
            road = sc.road_half_m
            kerb = np.clip((np.abs(x) - road) / foot_x + 0.5, 0.0, 1.0)
            val = -0.35 + 0.4 * kerb
            marks = _cover(x + 1.6, 0.075, foot_x) * _dash_cover(zw, foot_z, 9.0, 3.0)
            marks += _cover(np.abs(x) - (road - 0.3), 0.075, foot_x)
            val += 0.7 * np.clip(marks, 0.0, 1.0)
            val += _lod(sc.ground_tex, zw / TEXEL_M, x / TEXEL_M, np.maximum(foot_z, foot_x) / TEXEL_M)
            frame[g] = val
            depth[g] = z
        out = (frame.astype(np.float32), depth)
        self._last = (key, *out)
        return out


def render_scaled_sprite(shape_m, texture: np.ndarray, texel_m: float, base: float, phase: float,
                         scale: float) -> Sprite:
    """An object drawn at ``scale`` pixels per metre (shape in metres), its texture scaled with it and faded
    where a texel is smaller than a pixel."""
    shape = replace(shape_m, w=shape_m.w * scale, h=shape_m.h * scale)
    hx, hy = shape.half_extent(phase)
    ox, oy = math.ceil(hx) + 1, math.ceil(hy) + 1
    u = np.arange(-ox, ox + 1, dtype=np.float32)[None, :]
    v = np.arange(-oy, oy + 1, dtype=np.float32)[:, None]
    alpha, delta = shape.render(u, v, phase)
    px_per_texel = scale * texel_m
    th, tw = texture.shape
    tex = sample_periodic(texture, v / px_per_texel + th / 2, u / px_per_texel + tw / 2)
    tex *= np.float32(min(1.0, px_per_texel) ** 2)
    data = np.stack([alpha, alpha * (tex + delta + np.float32(base))]).astype(np.float32)
    return Sprite(data=data, oy=oy, ox=ox)


class ObjectDrawer:
    """Screen layers of a street scene's objects per step: far to near, each hidden behind nearer facades."""

    def __init__(self, scene) -> None:
        self.scene = scene
        p = scene.params
        n, k1 = len(scene.objects), scene.n_steps + 1
        self.z_rel = np.empty((n, k1), dtype=np.float64)
        for i, o in enumerate(scene.objects):
            self.z_rel[i] = o.z_m - scene.ego.s_m
        self.alive = (self.z_rel > p.z_near_m) & (self.z_rel < p.z_far_m)
        self._cache: dict[int, tuple[tuple, Sprite]] = {}

    def _sprite(self, obj, scale: float, phase: float) -> Sprite:
        q = round(math.log(scale) / _SCALE_STEP)
        ph = int((phase % (2 * math.pi)) / (2 * math.pi) * _N_PHASES) % _N_PHASES if isinstance(obj.shape, PedShape) else 0
        key = (q, ph)
        hit = self._cache.get(obj.obj_id)
        if hit is None or hit[0] != key:
            sprite = render_scaled_sprite(obj.shape, obj.texture, obj.texel_m, obj.base,
                                          2 * math.pi * ph / _N_PHASES, math.exp(q * _SCALE_STEP))
            hit = (key, sprite)
            self._cache[obj.obj_id] = hit
        return hit[1]

    def layers(self, k: int, depth_bg: np.ndarray) -> list[tuple[object, ObjectLayer, float]]:
        """(object, layer, relative depth) at step k, far to near; alpha already hides facade-covered pixels."""
        sc, ego = self.scene, self.scene.ego
        idx = np.flatnonzero(self.alive[:, k])
        if not len(idx):
            return []
        idx = idx[np.argsort(-self.z_rel[idx, k], kind="stable")]
        out = []
        f, hc = sc.focal, sc.params.cam_height_m
        for i in idx:
            obj = sc.objects[i]
            z = float(self.z_rel[i, k])
            scale = f / z
            cx = ego.cx[k] + f * float(obj.x_m[k]) / z
            if not -0.5 * sc.width < cx < 1.5 * sc.width:
                continue
            cy = ego.cy[k] + f * (hc - obj.lift_m) / z - scale * obj.shape.h / 2
            lay = place_sprite(self._sprite(obj, scale, float(obj.phase[k])), cx, cy, sc.height, sc.width)
            if lay is None:
                continue
            h, w = lay.alpha.shape
            hidden = depth_bg[lay.y0:lay.y0 + h, lay.x0:lay.x0 + w] < z
            if hidden.any():
                keep = (~hidden).astype(np.float32)
                lay = ObjectLayer(y0=lay.y0, x0=lay.x0, alpha=lay.alpha * keep, premult=lay.premult * keep)
            out.append((obj, lay, z))
        return out
