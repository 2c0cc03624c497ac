"""Log-intensity rendering for the synthetic event camera: periodic textures and object shapes.

Everything is in log intensity (the quantity a DVS pixel thresholds). Shapes are drawn from signed
distance functions with a one-pixel soft edge (alpha = area coverage approximation), so sub-pixel motion
changes the image continuously and the sensor sees smooth edges instead of pixel-sized jumps.
Coordinates: pixel (row i, col j) has its centre at (j + 0.5, i + 0.5); the frame spans [0, W] x [0, H].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "periodic_noise", "wrap_pad", "sample_shifted", "CarShape", "PedShape", "BlobShape", "Sprite", "ObjectLayer",
    "render_sprite", "blend_sprites", "place_sprite",
]


def periodic_noise(rng: np.random.Generator, size_hw: tuple[int, int], beta: float, std: float,
                   cutoff: float = 0.2) -> np.ndarray:
    """Smooth periodic noise (power spectrum ~ 1/f^beta, Gaussian roll-off above ``cutoff`` cycles/px).

    Returns float32 ``size_hw`` with zero mean and standard deviation ``std``. Periodic, so it can be
    sampled at any (wrapped) offset for camera ego-motion.
    """
    h, w = size_hw
    spec = np.fft.rfft2(rng.standard_normal((h, w)))
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    f[0, 0] = 1.0
    amp = f ** (-beta / 2.0) * np.exp(-((f / cutoff) ** 2))
    amp[0, 0] = 0.0  # zero mean
    tex = np.fft.irfft2(spec * amp, s=(h, w))
    tex *= std / max(float(tex.std()), 1e-12)
    return tex.astype(np.float32)


def wrap_pad(tex: np.ndarray, h: int, w: int) -> np.ndarray:
    """Periodic ``tex`` extended by h+1 rows and w+1 columns, so every (h+1, w+1) window is a slice."""
    return np.pad(tex, ((0, h + 1), (0, w + 1)), mode="wrap")


def sample_shifted(ext: np.ndarray, period_hw: tuple[int, int], oy: float, ox: float, h: int, w: int) -> np.ndarray:
    """Bilinear sample of a periodic texture (``ext = wrap_pad(tex, h, w)``, ``period_hw = tex.shape``) on
    the grid (oy + i, ox + j), i < h, j < w -> float32 (h, w).

    A pure translation has the same fractional part everywhere: one window view and two lerps.
    """
    iy, ix = math.floor(oy), math.floor(ox)
    fy, fx = np.float32(oy - iy), np.float32(ox - ix)
    r0, c0 = iy % period_hw[0], ix % period_hw[1]
    blk = ext[r0:r0 + h + 1, c0:c0 + w + 1]
    top = blk[:-1] + fy * (blk[1:] - blk[:-1])
    return top[:, :-1] + fx * (top[:, 1:] - top[:, :-1])


def _alpha(sd: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside, pixels) -> coverage in [0, 1] with a one-pixel ramp (in place)."""
    np.subtract(0.5, sd, out=sd)
    np.maximum(sd, 0.0, out=sd)
    return np.minimum(sd, 1.0, out=sd)


def _rrect(u: np.ndarray, v: np.ndarray, cx: float, cy: float, hx: float, hy: float, r: float) -> np.ndarray:
    """Coverage of an axis-aligned rounded rectangle; u is (1, W') and v is (H', 1) local coordinates."""
    r = min(r, hx, hy)
    qx = np.abs(u - cx) - (hx - r)
    qy = np.abs(v - cy) - (hy - r)
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    inside = np.minimum(np.maximum(qx, qy), 0.0)
    return _alpha(outside + inside - r)


def _capsule(u: np.ndarray, v: np.ndarray, ax: float, ay: float, bx: float, by: float, r: float) -> np.ndarray:
    """Coverage of a segment a->b thickened by radius r (a limb)."""
    pax, pay = u - ax, v - ay
    bax, bay = bx - ax, by - ay
    inv = 1.0 / (bax * bax + bay * bay + 1e-9)
    hh = pax * (bax * inv) + pay * (bay * inv)  # projection parameter along the segment, clamped to [0, 1]
    np.maximum(hh, 0.0, out=hh)
    np.minimum(hh, 1.0, out=hh)
    dx = pax - bax * hh
    dy = hh
    np.multiply(hh, -bay, out=dy)
    dy += pay
    d = np.hypot(dx, dy, out=dx)
    d -= r
    return _alpha(d)


@dataclass(frozen=True)
class CarShape:
    """Car silhouette: body, cabin with a window, two wheels. Sizes in pixels (nominal box w x h)."""

    w: float
    h: float
    cabin_dx: float  # horizontal cabin offset as a fraction of w (sign = facing)
    window_delta: float  # log-intensity offset of the window
    wheel_delta: float  # log-intensity offset of the wheels

    def half_extent(self, phase: float = 0.0) -> tuple[float, float]:
        """Half width and half height of a box that contains the whole shape."""
        return self.w / 2 + 1.0, self.h / 2 + 1.0

    def render(self, u: np.ndarray, v: np.ndarray, phase: float) -> tuple[np.ndarray, np.ndarray]:
        w, h = self.w, self.h
        body = _rrect(u, v, 0.0, 0.15 * h, w / 2, 0.25 * h, 0.12 * h)
        ccx = self.cabin_dx * w
        cabin = _rrect(u, v, ccx, -0.24 * h, 0.3 * w, 0.26 * h, 0.2 * h)
        window = _rrect(u, v, ccx, -0.24 * h, 0.3 * w - 1.5, 0.26 * h - 1.5, 0.15 * h)
        r_wheel = 0.12 * h
        wheels = np.maximum(_rrect(u, v, -0.3 * w, 0.5 * h - r_wheel, r_wheel, r_wheel, r_wheel),
                            _rrect(u, v, 0.3 * w, 0.5 * h - r_wheel, r_wheel, r_wheel, r_wheel))
        alpha = np.maximum(np.maximum(body, cabin), wheels)
        delta = self.window_delta * window + self.wheel_delta * wheels
        return alpha, delta


@dataclass(frozen=True)
class PedShape:
    """Walking pedestrian: head, torso, two swinging legs and arms (articulation phase in radians)."""

    w: float  # body width (torso ~ 0.6 w)
    h: float  # height, head top to feet
    swing: float  # leg swing amplitude in radians
    head_delta: float
    leg_delta: float

    def half_extent(self, phase: float = 0.0) -> tuple[float, float]:
        legs = 0.47 * self.h * math.sin(self.swing) + self._limb_r()
        return max(0.35 * self.w, legs) + 1.5, self.h / 2 + 1.5

    def _limb_r(self) -> float:
        return max(0.9, 0.12 * self.w)

    def render(self, u: np.ndarray, v: np.ndarray, phase: float) -> tuple[np.ndarray, np.ndarray]:
        w, h = self.w, self.h
        rh = min(0.11 * h, 0.4 * w)
        head = _rrect(u, v, 0.0, -0.5 * h + rh, rh, rh, rh)
        torso = _rrect(u, v, 0.0, -0.14 * h, 0.35 * w, 0.17 * h, 0.25 * w)
        a = self.swing * math.sin(phase)
        leg_len, arm_len = 0.47 * h, 0.3 * h
        hip_y, sh_y, r_leg, r_arm = 0.02 * h, -0.27 * h, self._limb_r(), max(0.7, 0.08 * w)
        sa, ca = math.sin(a), math.cos(a)
        legs = np.maximum(_capsule(u, v, 0.0, hip_y, leg_len * sa, hip_y + leg_len * ca, r_leg),
                          _capsule(u, v, 0.0, hip_y, -leg_len * sa, hip_y + leg_len * ca, r_leg))
        sb, cb = math.sin(0.8 * a), math.cos(0.8 * a)
        arms = np.maximum(_capsule(u, v, 0.0, sh_y, -arm_len * sb, sh_y + arm_len * cb, r_arm),
                          _capsule(u, v, 0.0, sh_y, arm_len * sb, sh_y + arm_len * cb, r_arm))
        alpha = np.maximum(np.maximum(head, torso), np.maximum(legs, arms))
        delta = self.head_delta * head + self.leg_delta * legs
        return alpha, delta


@dataclass(frozen=True)
class BlobShape:
    """Unlabelled distractor: a textured ellipse (ball, bag, animal...) moving in any direction."""

    w: float
    h: float

    def half_extent(self, phase: float = 0.0) -> tuple[float, float]:
        return self.w / 2 + 1.0, self.h / 2 + 1.0

    def render(self, u: np.ndarray, v: np.ndarray, phase: float) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.w / 2, self.h / 2
        sd = (np.hypot(u / a, v / b) - 1.0) * min(a, b)  # approximate signed distance of an ellipse
        alpha = _alpha(sd.astype(np.float32))
        return alpha, np.zeros_like(alpha)


@dataclass(frozen=True)
class Sprite:
    """An object drawn once in its own frame: (2, hs, ws) float32 = (alpha, alpha * log intensity).

    Sprite pixel (i, j) samples the object at local offset (j - ox, i - oy) from its centre.
    Premultiplied alpha makes bilinear shifting and blending of sprites exact compositing.
    """

    data: np.ndarray
    oy: int
    ox: int


@dataclass(frozen=True)
class ObjectLayer:
    """One object placed in the frame: window origin (clipped to the frame), coverage, premultiplied value."""

    y0: int
    x0: int
    alpha: np.ndarray  # float32 (h', w') coverage
    premult: np.ndarray  # float32 (h', w') alpha * log intensity


def render_sprite(shape: CarShape | PedShape | BlobShape, texture: np.ndarray, base: float, phase: float) -> Sprite:
    """Draw an object (articulation ``phase``) centred on an integer grid, texture attached to it."""
    hx, hy = shape.half_extent(phase)
    ox, oy = math.ceil(hx) + 1, math.ceil(hy) + 1
    u = np.arange(-ox, ox + 1, dtype=np.float32)[None, :]
    v = np.arange(-oy, oy + 1, dtype=np.float32)[:, None]
    alpha, delta = shape.render(u, v, phase)
    th, tw = texture.shape
    tex = texture[np.ix_((np.arange(-oy, oy + 1) + th // 2) % th, (np.arange(-ox, ox + 1) + tw // 2) % tw)]
    data = np.stack([alpha, alpha * (tex + delta + np.float32(base))]).astype(np.float32)
    return Sprite(data=data, oy=oy, ox=ox)


def blend_sprites(a: Sprite, b: Sprite, w: float) -> Sprite:
    """(1 - w) * a + w * b for two sprites of the same geometry (articulation in between two phases)."""
    return Sprite(data=a.data * np.float32(1.0 - w) + b.data * np.float32(w), oy=a.oy, ox=a.ox)


def place_sprite(sprite: Sprite, cx: float, cy: float, height: int, width: int) -> ObjectLayer | None:
    """Bilinear-shift a sprite to centre (cx, cy) in the frame; None when it is out of view.

    Frame pixel c samples sprite coordinate c + s with s = 0.5 - cx + ox (a pure translation), so the
    interpolation weights are the same for the whole window.
    """
    _, hs, ws = sprite.data.shape
    sx, sy = 0.5 - cx + sprite.ox, 0.5 - cy + sprite.oy
    nx, ny = math.floor(sx), math.floor(sy)
    fx, fy = np.float32(sx - nx), np.float32(sy - ny)
    x0, x1 = max(-nx, 0), min(ws - 1 - nx, width)  # frame columns whose two taps lie in the sprite
    y0, y1 = max(-ny, 0), min(hs - 1 - ny, height)
    if x1 <= x0 or y1 <= y0:
        return None
    blk = sprite.data[:, y0 + ny:y1 + ny + 1, x0 + nx:x1 + nx + 1]
    top = blk[:, :-1] * (1 - fy) + blk[:, 1:] * fy
    out = top[:, :, :-1] * (1 - fx) + top[:, :, 1:] * fx
    return ObjectLayer(y0=y0, x0=x0, alpha=out[0], premult=out[1])
