"""Parametric assets: each fills a layout box with a detailed trimesh object.

An asset builder takes the box size (sx, sy, sz), the layout colour and a numpy Generator and
returns parts in the box's local frame: x across, y front (-y) to back (+y), z up from 0 at
the floor. `build_asset` places them in the world (yaw, then translation). Proportions, part
counts and secondary materials vary with the generator; the main colour always comes from
the layout, so a "blue sofa" is blue.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import trimesh

from renderer.layout import Box

MATERIALS = ["paint", "wood", "fabric", "metal", "plastic", "glass", "screen", "leaf", "bark", "stone", "brick",
             "grass", "water", "ceramic", "paper", "light"]
MATERIAL_IDS = {m: i for i, m in enumerate(MATERIALS)}


@dataclass
class Geom:
    """A triangle soup: vertices [V, 3] float64, faces [F, 3] int64. Cheaper than a trimesh.Trimesh
    for the thousands of small parts a world has; `to_trimesh` gives the real thing for export."""

    vertices: np.ndarray
    faces: np.ndarray

    def apply_transform(self, matrix: np.ndarray) -> "Geom":
        self.vertices = self.vertices @ matrix[:3, :3].T + matrix[:3, 3]
        return self

    def to_trimesh(self) -> trimesh.Trimesh:
        return trimesh.Trimesh(self.vertices, self.faces, process=False)


@dataclass
class Part:
    mesh: Geom
    material: str
    rgb: tuple[float, float, float]


# Unit primitives are made once by trimesh and then scaled and moved as plain arrays.
@functools.lru_cache(maxsize=None)
def _unit(kind: str, detail: int) -> tuple[np.ndarray, np.ndarray]:
    if kind == "box":
        m = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    elif kind == "cylinder":  # radius 1, z in [-0.5, 0.5]
        m = trimesh.creation.cylinder(radius=1.0, height=1.0, sections=detail)
    elif kind == "cone":  # radius 1 at z = 0, apex at z = 1
        m = trimesh.creation.cone(radius=1.0, height=1.0, sections=detail)
    else:
        m = trimesh.creation.icosphere(subdivisions=detail, radius=1.0)
    return np.asarray(m.vertices, np.float64), np.asarray(m.faces, np.int64)


def _prim(kind: str, detail: int, scale, offset) -> Geom:
    v, f = _unit(kind, detail)
    return Geom(v * np.asarray(scale, float) + np.asarray(offset, float), f)


def _box(lo, hi) -> Geom:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return _prim("box", 0, np.maximum(hi - lo, 1e-4), (lo + hi) / 2)


def _cyl(x, y, z0, z1, r, sections=12) -> Geom:
    return _prim("cylinder", sections, (r, r, max(z1 - z0, 1e-4)), (x, y, (z0 + z1) / 2))


def _cone(x, y, z0, z1, r, sections=12) -> Geom:
    return _prim("cone", sections, (r, r, max(z1 - z0, 1e-4)), (x, y, z0))


def _blob(center, radii, subdivisions=1) -> Geom:
    return _prim("sphere", subdivisions, radii, center)


def _shade(rgb, f: float) -> tuple[float, float, float]:
    return tuple(float(min(max(c * f, 0.0), 1.0)) for c in rgb)  # type: ignore[return-value]


WOOD = (0.55, 0.38, 0.22)
DARK_WOOD = (0.33, 0.22, 0.13)
METAL = (0.62, 0.63, 0.65)
BLACK = (0.08, 0.08, 0.09)


def _legs(sx, sy, h, r, inset, rng) -> list[Geom]:
    square = rng.random() < 0.5
    out = []
    for x in (-sx / 2 + inset, sx / 2 - inset):
        for y in (-sy / 2 + inset, sy / 2 - inset):
            out.append(_box([x - r, y - r, 0], [x + r, y + r, h]) if square else _cyl(x, y, 0, h, r, 8))
    return out


def _uniform(rng: np.random.Generator, low: float, high: float, size=None):
    """rng.uniform that takes a range squeezed shut by a small box (high < low) as the point low."""
    return rng.uniform(low, max(low, high), size)


def _frame(axis, normal) -> np.ndarray:
    """A rotation [3, 3] whose columns are (width, thickness, axis) directions: the axis along
    `axis`, the thickness as close to `normal` as the axis allows."""
    a = np.asarray(axis, float)
    a = a / np.linalg.norm(a) if np.linalg.norm(a) > 1e-12 else np.array([0.0, 0.0, 1.0])  # a zero-length part
    side = np.cross(a, np.asarray(normal, float))
    if np.linalg.norm(side) < 1e-6:  # the normal lies along the axis: any perpendicular will do
        side = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
    side /= np.linalg.norm(side)
    return np.stack([side, np.cross(a, side), a], 1)  # right-handed, so the winding is kept


def _beam(p0, p1, width, thick, normal=(0.0, 0.0, 1.0)) -> Geom:
    """A box from point p0 to point p1 (a plank, a rail, a blade) of the given cross-section,
    its thickness along `normal` where it can be."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    v, f = _unit("box", 0)
    length = max(float(np.linalg.norm(p1 - p0)), 1e-4)
    return Geom((v * (width, thick, length)) @ _frame(p1 - p0, normal).T + (p0 + p1) / 2, f)


def _rod(p0, p1, r, sections=8) -> Geom:
    """A cylinder of radius r from point p0 to point p1."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    v, f = _unit("cylinder", sections)
    length = max(float(np.linalg.norm(p1 - p0)), 1e-4)
    return Geom((v * (r, r, length)) @ _frame(p1 - p0, (0.0, 0.0, 1.0)).T + (p0 + p1) / 2, f)


def _frustum(x, y, z0, z1, r0, r1, sections=16) -> Geom:
    """A cylinder tapering from radius r0 at z0 to r1 at z1 (a pot, a bin, a tower)."""
    v, f = _unit("cylinder", sections)
    radius = r0 + (v[:, 2:3] + 0.5) * (r1 - r0)
    return Geom(np.concatenate([v[:, :2] * radius + (x, y), z0 + (v[:, 2:3] + 0.5) * max(z1 - z0, 1e-4)], 1), f)


def _prism(profile, x0, x1) -> Geom:
    """A convex polygon `profile` of (y, z) points, counter-clockwise, extruded from x0 to x1 (a roof)."""
    pts = np.asarray(profile, float)
    n = len(pts)
    v = np.concatenate([np.c_[np.full(n, x0), pts], np.c_[np.full(n, x1), pts]])
    faces = [[i, (i + 1) % n, n + (i + 1) % n] for i in range(n)] + [[i, n + (i + 1) % n, n + i] for i in range(n)]
    faces += [[0, k + 1, k] for k in range(1, n - 1)] + [[n, n + k, n + k + 1] for k in range(1, n - 1)]
    return Geom(v, np.array(faces, np.int64))


def _swap_xy(g: Geom) -> Geom:
    """The same mesh with x and y exchanged (a mirror, so the winding flips back)."""
    return Geom(g.vertices[:, [1, 0, 2]], g.faces[:, ::-1].copy())


def _ring(center, radius, tube, axis="y", segments=16) -> list[Geom]:
    """A ring of rods (a wheel's tyre, a globe's meridian) around `center` in the plane normal to `axis`."""
    a = np.linspace(0, 2 * math.pi, segments + 1)
    u, w = {"x": (1, 2), "y": (0, 2), "z": (0, 1)}[axis]
    pts = np.zeros((segments + 1, 3)) + np.asarray(center, float)
    pts[:, u] += radius * np.cos(a)
    pts[:, w] += radius * np.sin(a)
    return [_rod(pts[k], pts[k + 1], tube, 6) for k in range(segments)]


def _lean(geoms: list[Geom], angle_deg: float, axis=(1.0, 0.0, 0.0), pivot=(0.0, 0.0, 0.0)) -> list[Geom]:
    """Rotate meshes in place by angle_deg about an axis through `pivot` (a guitar leaning back)."""
    m = trimesh.transformations.rotation_matrix(math.radians(angle_deg), axis, pivot)
    return [g.apply_transform(m) for g in geoms]


# ---- indoor ------------------------------------------------------------------------------------
def bed(s, c, rng):
    sx, sy, sz = s
    frame_h = sz * rng.uniform(0.25, 0.35)
    mattress_top = sz * rng.uniform(0.45, 0.6)
    frame = _shade(WOOD, rng.uniform(0.6, 1.2))
    parts = [Part(_box([-sx / 2, -sy / 2, 0], [sx / 2, sy / 2, frame_h]), "wood", frame),
             Part(_box([-sx / 2 + 0.03, -sy / 2 + 0.03, frame_h], [sx / 2 - 0.03, sy / 2 - 0.03, mattress_top]), "fabric", (0.93, 0.93, 0.9)),
             # The duvet carries the layout colour, over the foot two thirds of the mattress.
             Part(_box([-sx / 2 + 0.02, -sy / 2 + 0.02, mattress_top - 0.05], [sx / 2 - 0.02, sy / 2 - sy * 0.35, mattress_top + 0.04]), "fabric", c),
             Part(_box([-sx / 2, sy / 2 - 0.06, 0], [sx / 2, sy / 2, sz]), "wood", frame)]  # headboard
    n_pillows = 2 if sx > 1.2 else 1
    for k in range(n_pillows):
        x = -sx / 2 + (k + 0.5) * sx / n_pillows
        parts.append(Part(_blob([x, sy / 2 - 0.3, mattress_top + 0.06], [sx / n_pillows * 0.38, 0.17, 0.07]), "fabric", (0.97, 0.97, 0.95)))
    if rng.random() < 0.5:  # footboard
        parts.append(Part(_box([-sx / 2, -sy / 2, 0], [sx / 2, -sy / 2 + 0.05, mattress_top * rng.uniform(0.9, 1.2)]), "wood", frame))
    return parts


def sofa(s, c, rng, arms=True):
    sx, sy, sz = s
    seat_h = sz * rng.uniform(0.45, 0.55)
    arm_w = min(0.22, sx * 0.15) if arms else 0.0
    back_d = sy * rng.uniform(0.2, 0.3)
    legs = _legs(sx, sy, 0.08, 0.025, 0.06, rng)
    parts = [Part(m, "wood", DARK_WOOD) for m in legs]
    parts.append(Part(_box([-sx / 2, -sy / 2, 0.08], [sx / 2, sy / 2, seat_h - 0.12]), "fabric", _shade(c, 0.85)))
    n_cushions = max(1, int(round((sx - 2 * arm_w) / 0.65)))
    w = (sx - 2 * arm_w) / n_cushions
    for k in range(n_cushions):
        x0 = -sx / 2 + arm_w + k * w
        parts.append(Part(_box([x0 + 0.01, -sy / 2 + 0.02, seat_h - 0.12], [x0 + w - 0.01, sy / 2 - back_d, seat_h]), "fabric", c))
    parts.append(Part(_box([-sx / 2, sy / 2 - back_d, seat_h - 0.12], [sx / 2, sy / 2, sz]), "fabric", _shade(c, 0.9)))
    if arms:
        arm_h = seat_h + (sz - seat_h) * rng.uniform(0.3, 0.55)
        for x0 in (-sx / 2, sx / 2 - arm_w):
            parts.append(Part(_box([x0, -sy / 2, 0.08], [x0 + arm_w, sy / 2, arm_h]), "fabric", _shade(c, 0.92)))
    return parts


def armchair(s, c, rng):
    return sofa(s, c, rng, arms=True)


def chair(s, c, rng):
    sx, sy, sz = s
    seat_h = min(0.47, sz * 0.52)
    t = 0.04
    legs = _legs(sx, sy, seat_h - t, 0.02, 0.04, rng)
    wood = _shade(WOOD, rng.uniform(0.6, 1.3))
    parts = [Part(m, "wood", wood) for m in legs]
    parts.append(Part(_box([-sx / 2, -sy / 2, seat_h - t], [sx / 2, sy / 2, seat_h]), "fabric" if rng.random() < 0.5 else "wood", c))
    if rng.random() < 0.5:  # slatted back
        for k in range(3):
            x = -sx / 2 + 0.05 + k * (sx - 0.1) / 2
            parts.append(Part(_box([x - 0.015, sy / 2 - 0.04, seat_h], [x + 0.015, sy / 2, sz - 0.06]), "wood", wood))
        parts.append(Part(_box([-sx / 2, sy / 2 - 0.04, sz - 0.08], [sx / 2, sy / 2, sz]), "wood", wood))
    else:
        parts.append(Part(_box([-sx / 2, sy / 2 - 0.05, seat_h], [sx / 2, sy / 2, sz]), "wood", c))
    return parts


def table(s, c, rng):
    sx, sy, sz = s
    top_t = rng.uniform(0.03, 0.05)
    parts = [Part(_box([-sx / 2, -sy / 2, sz - top_t], [sx / 2, sy / 2, sz]), "wood", c)]
    if rng.random() < 0.3 and abs(sx - sy) < 0.3:  # pedestal table
        parts.append(Part(_cyl(0, 0, 0.03, sz - top_t, 0.06), "wood", _shade(c, 0.7)))
        parts.append(Part(_cyl(0, 0, 0, 0.03, min(sx, sy) * 0.3), "wood", _shade(c, 0.7)))
    else:
        parts += [Part(m, "wood", _shade(c, 0.75)) for m in _legs(sx, sy, sz - top_t, 0.03, 0.06, rng)]
    return parts


def desk(s, c, rng):
    sx, sy, sz = s
    parts = [Part(_box([-sx / 2, -sy / 2, sz - 0.04], [sx / 2, sy / 2, sz]), "wood", c)]
    drawer_w = sx * rng.uniform(0.3, 0.4)
    side = rng.choice([-1, 1])
    x0, x1 = (sx / 2 - drawer_w, sx / 2) if side > 0 else (-sx / 2, -sx / 2 + drawer_w)
    parts.append(Part(_box([x0, -sy / 2, 0], [x1, sy / 2, sz - 0.04]), "wood", _shade(c, 0.85)))
    for k in range(3):  # drawer fronts and handles
        z0 = k * (sz - 0.04) / 3
        parts.append(Part(_box([x0 + 0.02, -sy / 2 - 0.01, z0 + 0.02], [x1 - 0.02, -sy / 2, z0 + (sz - 0.04) / 3 - 0.02]), "wood", _shade(c, 1.1)))
        parts.append(Part(_box([(x0 + x1) / 2 - 0.05, -sy / 2 - 0.03, z0 + (sz - 0.04) / 6 - 0.01], [(x0 + x1) / 2 + 0.05, -sy / 2 - 0.01, z0 + (sz - 0.04) / 6 + 0.01]), "metal", METAL))
    xl = -sx / 2 + 0.03 if side > 0 else sx / 2 - 0.03
    parts.append(Part(_box([xl - 0.03, -sy / 2, 0], [xl + 0.03, sy / 2, sz - 0.04]), "wood", _shade(c, 0.85)))
    return parts


def lamp(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2
    parts = [Part(_cyl(0, 0, 0, 0.03, r * 0.6), "metal", METAL),
             Part(_cyl(0, 0, 0.03, sz * 0.72, 0.015, 8), "metal", METAL)]
    parts.append(Part(_cyl(0, 0, sz * 0.72, sz, r * 0.95, 16), "fabric", c))
    parts.append(Part(_blob([0, 0, sz * 0.76], [r * 0.25] * 3), "light", (1.0, 0.95, 0.8)))
    return parts


def bookshelf(s, c, rng):
    sx, sy, sz = s
    t = 0.025
    parts = [Part(_box([-sx / 2, sy / 2 - t, 0], [sx / 2, sy / 2, sz]), "wood", _shade(c, 0.85))]
    for x0 in (-sx / 2, sx / 2 - t):
        parts.append(Part(_box([x0, -sy / 2, 0], [x0 + t, sy / 2, sz]), "wood", c))
    n = max(2, int(sz / rng.uniform(0.3, 0.4)))
    for k in range(n + 1):
        z = k * (sz - t) / n
        parts.append(Part(_box([-sx / 2, -sy / 2, z], [sx / 2, sy / 2, z + t]), "wood", c))
        if k == n:
            break
        x = -sx / 2 + t + 0.01
        while x < sx / 2 - t - 0.05:  # a row of books of random widths, heights and colours
            w = rng.uniform(0.02, 0.05)
            h = (sz - t) / n * rng.uniform(0.6, 0.85)
            if rng.random() < 0.85:
                col = tuple(rng.uniform(0.15, 0.9, 3))
                parts.append(Part(_box([x, -sy / 2 + 0.03, z + t], [x + w, sy / 2 - t - 0.01, z + t + h]), "paper", col))
            x += w + 0.003
    return parts


def wardrobe(s, c, rng):
    sx, sy, sz = s
    parts = [Part(_box([-sx / 2, -sy / 2 + 0.02, 0.06], [sx / 2, sy / 2, sz]), "wood", c),
             Part(_box([-sx / 2 + 0.02, -sy / 2 + 0.02, 0], [sx / 2 - 0.02, sy / 2, 0.06]), "wood", _shade(c, 0.6))]
    doors = 2 if sx < 1.3 else 3
    w = sx / doors
    for k in range(doors):
        x0 = -sx / 2 + k * w
        parts.append(Part(_box([x0 + 0.005, -sy / 2, 0.08], [x0 + w - 0.005, -sy / 2 + 0.02, sz - 0.02]), "wood", _shade(c, 1.08)))
        hx = x0 + (w - 0.06 if k % 2 == 0 else 0.06)
        parts.append(Part(_box([hx - 0.01, -sy / 2 - 0.03, sz * 0.45], [hx + 0.01, -sy / 2, sz * 0.6]), "metal", METAL))
    return parts


def tv(s, c, rng):
    sx, sy, sz = s
    stand_h = sz * 0.12
    parts = [Part(_box([-sx / 2, -0.02, stand_h], [sx / 2, 0.03, sz]), "plastic", c),
             Part(_box([-sx / 2 + 0.02, -0.025, stand_h + 0.02], [sx / 2 - 0.02, -0.02, sz - 0.02]), "screen", BLACK),
             Part(_box([-0.03, -0.02, 0], [0.03, 0.02, stand_h]), "metal", METAL),
             Part(_box([-sx * 0.2, -sy / 2, 0], [sx * 0.2, sy / 2, 0.02]), "metal", METAL)]
    return parts


def plant(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2
    pot_h = sz * rng.uniform(0.2, 0.3)
    parts = [Part(_cyl(0, 0, 0, pot_h, r * 0.55, 14), "ceramic", _shade((0.75, 0.45, 0.3), rng.uniform(0.8, 1.2)))]
    parts.append(Part(_cyl(0, 0, pot_h, sz * 0.6, 0.015, 6), "bark", DARK_WOOD))
    for _ in range(rng.integers(3, 7)):  # foliage clusters in the layout colour
        cx, cy = rng.uniform(-r * 0.45, r * 0.45, 2)
        rr = r * rng.uniform(0.35, 0.55)
        cz = _uniform(rng, sz * 0.55, sz - rr * 0.8)
        parts.append(Part(_blob([cx, cy, cz], [rr, rr, rr * 0.9]), "leaf", _shade(c, rng.uniform(0.8, 1.15))))
    return parts


def rug(s, c, rng):
    sx, sy, sz = s
    parts = [Part(_box([-sx / 2, -sy / 2, 0], [sx / 2, sy / 2, sz]), "fabric", c)]
    if rng.random() < 0.6:  # a border band
        b = min(sx, sy) * 0.08
        col = _shade(c, 0.6)
        for lo, hi in (([-sx / 2, -sy / 2], [sx / 2, -sy / 2 + b]), ([-sx / 2, sy / 2 - b], [sx / 2, sy / 2]),
                       ([-sx / 2, -sy / 2], [-sx / 2 + b, sy / 2]), ([sx / 2 - b, -sy / 2], [sx / 2, sy / 2])):
            parts.append(Part(_box([*lo, sz * 0.5], [*hi, sz * 1.02]), "fabric", col))
    return parts


def fridge(s, c, rng):
    sx, sy, sz = s
    split = sz * rng.uniform(0.55, 0.7)
    parts = [Part(_box([-sx / 2, -sy / 2 + 0.02, 0], [sx / 2, sy / 2, sz]), "metal", c),
             Part(_box([-sx / 2 + 0.01, -sy / 2, 0.02], [sx / 2 - 0.01, -sy / 2 + 0.02, split - 0.01]), "metal", _shade(c, 1.05)),
             Part(_box([-sx / 2 + 0.01, -sy / 2, split + 0.01], [sx / 2 - 0.01, -sy / 2 + 0.02, sz - 0.02]), "metal", _shade(c, 1.05))]
    hx = sx / 2 - 0.07
    for z0, z1 in ((split - 0.35, split - 0.05), (split + 0.05, split + 0.35)):
        parts.append(Part(_box([hx - 0.012, -sy / 2 - 0.04, z0], [hx + 0.012, -sy / 2, min(z1, sz - 0.05)]), "metal", METAL))
    return parts


def kitchen_counter(s, c, rng):
    sx, sy, sz = s
    top = (0.85, 0.85, 0.82) if rng.random() < 0.5 else (0.2, 0.2, 0.22)
    parts = [Part(_box([-sx / 2, -sy / 2 + 0.05, 0], [sx / 2, sy / 2, 0.1]), "wood", BLACK),
             Part(_box([-sx / 2, -sy / 2 + 0.02, 0.1], [sx / 2, sy / 2, sz - 0.04]), "wood", c),
             Part(_box([-sx / 2, -sy / 2, sz - 0.04], [sx / 2, sy / 2, sz]), "stone", top)]
    n = max(1, int(sx / 0.6))
    w = sx / n
    for k in range(n):
        x0 = -sx / 2 + k * w
        parts.append(Part(_box([x0 + 0.01, -sy / 2 + 0.01, 0.12], [x0 + w - 0.01, -sy / 2 + 0.02, sz - 0.06]), "wood", _shade(c, 1.1)))
        parts.append(Part(_box([x0 + w / 2 - 0.06, -sy / 2 - 0.01, sz - 0.14], [x0 + w / 2 + 0.06, -sy / 2 + 0.01, sz - 0.12]), "metal", METAL))
    if rng.random() < 0.6 and sx > 1.0:  # a sink
        parts.append(Part(_box([-0.25, -sy / 2 + 0.1, sz - 0.005], [0.25, sy / 2 - 0.1, sz + 0.002]), "metal", METAL))
    return parts


def door(s, c, rng):
    sx, sy, sz = s
    parts = [Part(_box([-sx / 2, -sy / 2, 0], [sx / 2, sy / 2, sz]), "wood", _shade(c, 0.8)),
             Part(_box([-sx / 2 + 0.05, -sy / 2 - 0.01, 0], [sx / 2 - 0.05, sy / 2 + 0.01, sz - 0.05]), "wood", c)]
    for k in range(2):  # two raised panels
        z0 = 0.15 + k * (sz - 0.25) / 2
        parts.append(Part(_box([-sx / 2 + 0.15, -sy / 2 - 0.02, z0], [sx / 2 - 0.15, -sy / 2, z0 + (sz - 0.25) / 2 - 0.1]), "wood", _shade(c, 1.1)))
    parts.append(Part(_blob([sx / 2 - 0.12, -sy / 2 - 0.015, sz * 0.47], [0.025] * 3), "metal", METAL))
    return parts


def window(s, c, rng):
    sx, sy, sz = s
    f = 0.05
    parts = [Part(_box([-sx / 2 + f, -sy / 2 + 0.01, f], [sx / 2 - f, sy / 2 - 0.01, sz - f]), "glass", (0.72, 0.85, 0.95))]
    for lo, hi in (([-sx / 2, -sy / 2, 0], [sx / 2, sy / 2, f]), ([-sx / 2, -sy / 2, sz - f], [sx / 2, sy / 2, sz]),
                   ([-sx / 2, -sy / 2, 0], [-sx / 2 + f, sy / 2, sz]), ([sx / 2 - f, -sy / 2, 0], [sx / 2, sy / 2, sz]),
                   ([-0.015, -sy / 2, 0], [0.015, sy / 2, sz])):
        parts.append(Part(_box(lo, hi), "paint", c))
    return parts


def painting(s, c, rng):
    sx, sy, sz = s
    parts = [Part(_box([-sx / 2, -sy / 2, 0], [sx / 2, sy / 2, sz]), "wood", _shade(WOOD, rng.uniform(0.4, 1.3)))]
    # The canvas: bands of colour around the layout colour.
    n = rng.integers(2, 5)
    for k in range(n):
        z0 = 0.05 + k * (sz - 0.1) / n
        col = c if k == 0 else _shade(c, rng.uniform(0.6, 1.3))
        parts.append(Part(_box([-sx / 2 + 0.05, -sy / 2 - 0.005, z0], [sx / 2 - 0.05, -sy / 2, z0 + (sz - 0.1) / n]), "paint", col))
    return parts


# ---- outdoor -----------------------------------------------------------------------------------
def pine_tree(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2
    trunk_h = sz * rng.uniform(0.15, 0.25)
    parts = [Part(_cyl(0, 0, 0, trunk_h + 0.2, r * 0.1, 8), "bark", _shade((0.4, 0.27, 0.17), rng.uniform(0.8, 1.2)))]
    layers = rng.integers(3, 6)
    for k in range(layers):
        z0 = trunk_h + k * (sz - trunk_h) / (layers + 1) * 0.9
        rr = r * (1.0 - 0.6 * k / layers)
        parts.append(Part(_cone(0, 0, z0, min(z0 + (sz - trunk_h) * 0.45, sz), rr, 12), "leaf", c if k == 0 else _shade(c, rng.uniform(0.8, 1.1))))
    return parts


def broadleaf_tree(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2
    trunk_h = sz * rng.uniform(0.35, 0.5)
    parts = [Part(_cyl(0, 0, 0, trunk_h + r * 0.3, r * 0.1, 10), "bark", _shade((0.38, 0.28, 0.2), rng.uniform(0.8, 1.2)))]
    crown_r = min(r, (sz - trunk_h) / 2)
    for _ in range(rng.integers(4, 8)):
        off = rng.normal(0, 0.35, 3) * crown_r
        rr = crown_r * rng.uniform(0.5, 0.75)
        center = np.array([off[0], off[1], trunk_h + crown_r + off[2] * 0.5])
        center[:2] = np.clip(center[:2], -r + rr, r - rr)
        center[2] = np.clip(center[2], trunk_h + rr * 0.5, sz - rr)
        parts.append(Part(_blob(center, [rr] * 3), "leaf", _shade(c, rng.uniform(0.8, 1.15))))
    return parts


def bush(s, c, rng):
    sx, sy, sz = s
    parts = []
    for _ in range(rng.integers(3, 6)):
        rx, ry = sx / 2 * rng.uniform(0.45, 0.6), sy / 2 * rng.uniform(0.45, 0.6)
        rz = sz / 2 * rng.uniform(0.6, 1.0)
        cx, cy = rng.uniform(-sx / 2 + rx, sx / 2 - rx), rng.uniform(-sy / 2 + ry, sy / 2 - ry)
        parts.append(Part(_blob([cx, cy, min(rz, sz - rz)], [rx, ry, rz]), "leaf", _shade(c, rng.uniform(0.8, 1.15))))
    return parts


def rock(s, c, rng):
    sx, sy, sz = s
    m = _blob([0, 0, 0], [1, 1, 1], subdivisions=2)
    v = m.vertices * (1.0 + rng.uniform(-0.18, 0.18, (len(m.vertices), 1)))  # lumpy
    v = (v - v.min(0)) / (v.max(0) - v.min(0))
    m.vertices = v * [sx, sy, sz] - [sx / 2, sy / 2, 0]
    return [Part(m, "stone", c)]


def house(s, c, rng):
    sx, sy, sz = s
    wall_h = sz * rng.uniform(0.55, 0.65)
    parts = [Part(_box([-sx / 2 + 0.1, -sy / 2 + 0.1, 0], [sx / 2 - 0.1, sy / 2 - 0.1, wall_h]), "brick" if rng.random() < 0.5 else "paint", c)]
    roof = Geom(np.array([[-sx / 2, -sy / 2, wall_h], [sx / 2, -sy / 2, wall_h], [sx / 2, sy / 2, wall_h],
                          [-sx / 2, sy / 2, wall_h], [-sx / 2, 0, sz], [sx / 2, 0, sz]]),
                np.array([[0, 1, 5], [0, 5, 4], [2, 3, 4], [2, 4, 5], [0, 4, 3], [1, 2, 5], [0, 3, 2], [0, 2, 1]]))
    parts.append(Part(roof, "stone", _shade((0.55, 0.22, 0.18), rng.uniform(0.7, 1.2))))
    parts.append(Part(_box([-0.45, -sy / 2 + 0.08, 0], [0.45, -sy / 2 + 0.1, min(2.1, wall_h - 0.2)]), "wood", DARK_WOOD))
    for x in (-sx / 4 - 0.2, sx / 4 + 0.2):
        if abs(x) + 0.5 < sx / 2:
            parts.append(Part(_box([x - 0.4, -sy / 2 + 0.08, wall_h * 0.45], [x + 0.4, -sy / 2 + 0.1, wall_h * 0.8]), "glass", (0.6, 0.75, 0.85)))
    return parts


def fence(s, c, rng):
    sx, sy, sz = s
    long_x = sx >= sy
    length = sx if long_x else sy
    n = max(2, int(length / rng.uniform(0.12, 0.2)))
    parts = []
    for k in range(n):
        t = -length / 2 + (k + 0.5) * length / n
        w = length / n * 0.6
        lo, hi = ([t - w / 2, -sy / 2, 0], [t + w / 2, sy / 2, sz]) if long_x else ([-sx / 2, t - w / 2, 0], [sx / 2, t + w / 2, sz])
        parts.append(Part(_box(lo, hi), "wood", c))
    for z in (sz * 0.25, sz * 0.7):
        lo, hi = ([-sx / 2, -sy / 2, z], [sx / 2, sy / 2, z + 0.05]) if long_x else ([-sx / 2, -sy / 2, z], [sx / 2, sy / 2, z + 0.05])
        parts.append(Part(_box(lo, hi), "wood", _shade(c, 0.85)))
    return parts


def bench(s, c, rng):
    sx, sy, sz = s
    seat_h = sz * 0.5
    parts = [Part(m, "metal", BLACK) for m in _legs(sx, sy * 0.8, seat_h, 0.025, 0.1, rng)]
    for k in range(3):
        y0 = -sy / 2 + k * sy / 3
        parts.append(Part(_box([-sx / 2, y0 + 0.01, seat_h], [sx / 2, y0 + sy / 3 - 0.01, seat_h + 0.04]), "wood", c))
    parts.append(Part(_box([-sx / 2, sy / 2 - 0.05, seat_h + 0.1], [sx / 2, sy / 2, sz]), "wood", c))
    return parts


def street_lamp(s, c, rng):
    sx, sy, sz = s
    return [Part(_cyl(0, 0, 0, 0.3, 0.09), "metal", c),
            Part(_cyl(0, 0, 0.3, sz - 0.35, 0.05, 10), "metal", c),
            Part(_box([-min(sx, sy) / 2 * 0.8, -min(sx, sy) / 2 * 0.8, sz - 0.35], [min(sx, sy) / 2 * 0.8, min(sx, sy) / 2 * 0.8, sz - 0.3]), "metal", c),
            Part(_blob([0, 0, sz - 0.2], [0.16, 0.16, 0.2]), "light", (1.0, 0.95, 0.75))]


def car(s, c, rng):
    sx, sy, sz = s  # length along x
    body_h = sz * 0.55
    parts = [Part(_box([-sx / 2, -sy / 2, sz * 0.15], [sx / 2, sy / 2, body_h]), "metal", c),
             Part(_box([-sx * 0.28, -sy / 2 + 0.06, body_h], [sx * 0.22, sy / 2 - 0.06, sz]), "metal", c),
             Part(_box([-sx * 0.27, -sy / 2 + 0.05, body_h + 0.05], [sx * 0.21, sy / 2 - 0.05, sz - 0.06]), "glass", (0.25, 0.3, 0.35))]
    r = sz * 0.2
    for x in (-sx * 0.32, sx * 0.32):
        for y in (-sy / 2 + 0.12, sy / 2 - 0.12):
            v, f = _unit("cylinder", 14)
            # Axis along y: swapping two axes mirrors the mesh, so the winding flips too.
            parts.append(Part(Geom(v[:, [0, 2, 1]] * (r, 0.2, r) + (x, y, r), f[:, ::-1]), "plastic", BLACK))
    for y in (-sy / 2 + 0.2, sy / 2 - 0.2):
        parts.append(Part(_box([sx / 2 - 0.02, y - 0.12, body_h - 0.15], [sx / 2 + 0.01, y + 0.12, body_h - 0.07]), "light", (1.0, 1.0, 0.9)))
    return parts


def path(s, c, rng):
    sx, sy, sz = s
    parts = [Part(_box([-sx / 2, -sy / 2, 0], [sx / 2, sy / 2, sz]), "stone", c)]
    long_x = sx >= sy
    length, width = (sx, sy) if long_x else (sy, sx)
    t = -length / 2 + 0.2
    while t < length / 2 - 0.3:  # paving stones
        w = rng.uniform(0.3, 0.5)
        lo, hi = ([t, -width / 2 + 0.05, sz * 0.5], [t + w, width / 2 - 0.05, sz * 1.05]) if long_x else (
            [-width / 2 + 0.05, t, sz * 0.5], [width / 2 - 0.05, t + w, sz * 1.05])
        parts.append(Part(_box(lo, hi), "stone", _shade(c, rng.uniform(0.85, 1.1))))
        t += w + 0.05
    return parts


def pond(s, c, rng):
    sx, sy, sz = s
    parts = [Part(_prim("cylinder", 32, (sx / 2, sy / 2, sz), (0, 0, sz / 2)), "water", c)]
    for k in range(int(rng.integers(6, 12))):
        a = 2 * math.pi * k / 10 + rng.uniform(-0.2, 0.2)
        rx, ry = 0.08 + rng.uniform(0, 0.08), 0.08 + rng.uniform(0, 0.08)
        x, y = (sx / 2 - rx) * math.cos(a), (sy / 2 - ry) * math.sin(a)
        parts.append(Part(_blob([x, y, sz / 2 + 0.01], [rx, ry, sz / 2 + 0.01]), "stone", (0.5, 0.5, 0.48)))
    return parts


def generic_object(s, c, rng):
    """A thing named by a noun the library has no builder for: a rounded block in its colour on a
    low plinth, with a seam, so it reads as an object of that size rather than as a plain box."""
    sx, sy, sz = s
    base_h = min(0.04, sz * 0.08)
    m = _blob([0, 0, 0], [1, 1, 1], subdivisions=2)
    power = rng.uniform(0.25, 0.5)  # 0 is a box, 1 a sphere
    v = np.sign(m.vertices) * np.abs(m.vertices) ** power
    v /= np.abs(v).max(0)
    m.vertices = v * [sx / 2 * 0.96, sy / 2 * 0.96, (sz - base_h) / 2] + [0, 0, base_h + (sz - base_h) / 2]
    parts = [Part(_box([-sx * 0.42, -sy * 0.42, 0], [sx * 0.42, sy * 0.42, base_h]), "plastic", _shade(c, 0.45)),
             Part(m, "plastic" if rng.random() < 0.5 else "paint", c)]
    z = base_h + (sz - base_h) * rng.uniform(0.45, 0.65)
    parts.append(Part(_box([-sx * 0.48, -sy * 0.48, z - 0.006], [sx * 0.48, sy * 0.48, z + 0.006]), "plastic", _shade(c, 0.7)))
    return parts


ASSETS: dict[str, Callable] = {
    "bed": bed, "sofa": sofa, "armchair": armchair, "chair": chair, "table": table, "desk": desk, "lamp": lamp,
    "bookshelf": bookshelf, "wardrobe": wardrobe, "tv": tv, "plant": plant, "rug": rug, "fridge": fridge,
    "kitchen_counter": kitchen_counter, "door": door, "window": window, "painting": painting,
    "pine_tree": pine_tree, "broadleaf_tree": broadleaf_tree, "bush": bush, "rock": rock, "house": house,
    "fence": fence, "bench": bench, "street_lamp": street_lamp, "car": car, "path": path, "pond": pond,
    "object": generic_object,
}


def build_asset(box: Box, rng: np.random.Generator, base_z: float | None = None) -> list[Part]:
    """The detailed object for a layout box, in world coordinates (yaw about +Z, then translate)."""
    size = np.asarray(box.size, float)
    parts = ASSETS[box.label](size, box.rgb, rng)
    yaw = trimesh.transformations.rotation_matrix(math.radians(box.yaw), [0, 0, 1])
    z0 = box.center[2] - box.size[2] / 2 if base_z is None else base_z
    placed = trimesh.transformations.translation_matrix([box.center[0], box.center[1], z0]) @ yaw
    for p in parts:
        p.mesh.apply_transform(placed)
    return parts


# The kinds added with the open vocabulary live in their own modules (this one stays readable);
# they register their builders in ASSETS when imported, and use the primitives above, so they
# are imported last.
from . import assets_indoor, assets_outdoor  # noqa: E402,F401
