"""Parametric assets for the outdoor kinds added with the open vocabulary (street, nature, camping,
beach, park, farm). Same contract as `assets.py`: a builder takes the box size (x across, y
front (-y) to back (+y), z up from the ground), the layout colour and a Generator, and returns
parts in the box's local frame; importing this module registers the builders in `ASSETS`.
Vehicles and logs are long along x, as the car is.
"""

from __future__ import annotations

import math

import numpy as np

from .assets import (ASSETS, BLACK, DARK_WOOD, METAL, WOOD, Geom, Part, _beam, _blob, _box, _cone, _cyl, _frustum,
                     _prism, _ring, _rod, _shade, _swap_xy, _uniform)

BARK = (0.4, 0.27, 0.17)
STONE = (0.62, 0.6, 0.56)
GLASS = (0.3, 0.36, 0.42)
LAMP_OFF = (0.25, 0.22, 0.2)


def _grounded(g: Geom) -> Geom:
    """The mesh with anything below the ground pressed up to it (the foot of a slanted leg or rail)."""
    g.vertices[:, 2] = np.maximum(g.vertices[:, 2], 0.0)
    return g


def _wheel(x, y, r, width) -> list[Part]:
    """A vehicle wheel at (x, y) resting on the ground, its axle along y: tyre and hub."""
    tyre = _rod([x, y - width / 2, r], [x, y + width / 2, r], r, 16)
    hub = _rod([x, y - width / 2 - 0.005, r], [x, y + width / 2 + 0.005, r], r * 0.55, 12)
    return [Part(tyre, "plastic", BLACK), Part(hub, "metal", METAL)]


# ---- street ----------------------------------------------------------------------------------
def traffic_light(s, c, rng):
    sx, sy, sz = s
    head_h = min(1.0, sz * 0.28)
    hw, hd = min(sx, 0.34) / 2, min(sy, 0.3) / 2
    parts = [Part(_cyl(0, 0, 0, 0.15, min(sx, sy) / 2 - 0.02, 12), "metal", _shade(c, 0.8)),
             Part(_cyl(0, 0, 0.15, sz - head_h, 0.06, 12), "metal", c),
             Part(_box([-hw, -hd, sz - head_h], [hw, hd, sz]), "metal", c)]
    lit = int(rng.integers(3))
    colours = [(0.95, 0.15, 0.1), (1.0, 0.7, 0.1), (0.2, 0.9, 0.35)]
    for k in range(3):  # red on top, amber, green; one of them lit
        z = sz - head_h * (k + 0.5) / 3
        r = min(hw, head_h / 6) * 0.75
        on = k == lit
        parts += [Part(_rod([0, -hd + 0.01, z], [0, -hd - 0.01, z], r, 16), "light" if on else "glass",
                       colours[k] if on else _shade(colours[k], 0.35)),
                  Part(_box([-r - 0.01, -hd - 0.06, z + r * 0.9], [r + 0.01, -hd, z + r * 1.1]), "metal", c)]  # visor
    if rng.random() < 0.5:  # a push button box for pedestrians
        parts.append(Part(_box([-0.05, -0.09, 1.0], [0.05, -0.05, 1.18]), "metal", (0.85, 0.75, 0.2)))
    return parts


def _octagon(w, y0, y1, cz) -> Geom:
    """A regular octagon of width w in the xz plane, extruded from y0 to y1, centred at height cz."""
    r = w / 2 / math.cos(math.pi / 8)
    pts = [(r * math.cos(math.pi / 8 + k * math.pi / 4), cz + r * math.sin(math.pi / 8 + k * math.pi / 4)) for k in range(8)]
    return _swap_xy(_prism(pts, y0, y1))  # the prism runs along x; swap so it runs along y


def stop_sign(s, c, rng):
    sx, sy, sz = s
    w = sx
    cz = sz - w / 2
    parts = [Part(_cyl(0, sy / 2 - 0.035, 0, cz, 0.03, 10), "metal", METAL),
             Part(_octagon(w, sy / 2 - 0.07, sy / 2 - 0.06, cz), "metal", (0.95, 0.95, 0.95)),
             Part(_octagon(w * 0.9, sy / 2 - 0.075, sy / 2 - 0.07, cz), "paint", c)]
    lw = w * 0.13  # the four letters, as white blocks
    for k in range(4):
        x = -w * 0.3 + k * w * 0.2
        parts.append(Part(_box([x - lw / 2, sy / 2 - 0.078, cz - w * 0.09], [x + lw / 2, sy / 2 - 0.075, cz + w * 0.09]), "paint",
                          (0.97, 0.97, 0.97)))
    return parts


def mailbox(s, c, rng):
    sx, sy, sz = s  # a letterbox on a post: a box with a rounded top, a door in front, a flag
    box_h = sz * rng.uniform(0.22, 0.28)
    bz = sz - box_h
    r = sx / 2
    parts = [Part(_box([-0.05, -0.05, 0], [0.05, 0.05, bz]), "wood", _shade(WOOD, rng.uniform(0.6, 1.1))),
             Part(_box([-r, -sy / 2 + 0.01, bz], [r, sy / 2, sz - r]), "metal", c),
             Part(_rod([0, -sy / 2 + 0.01, sz - r], [0, sy / 2, sz - r], r, 16), "metal", c),
             Part(_box([-r + 0.01, -sy / 2, bz + 0.01], [r - 0.01, -sy / 2 + 0.01, sz - r]), "metal", _shade(c, 0.85)),
             Part(_box([-0.02, -sy / 2 - 0.01, sz - r - 0.03], [0.02, -sy / 2, sz - r - 0.01]), "metal", METAL)]
    flag_up = rng.random() < 0.5
    parts.append(Part(_box([r, 0.0, bz + 0.03], [r + 0.01, 0.03, bz + (box_h if flag_up else 0.1)]), "paint", (0.85, 0.1, 0.1)))
    parts.append(Part(_box([r, 0.03, bz + (box_h - 0.08 if flag_up else 0.04)], [r + 0.01, 0.12, bz + (box_h if flag_up else 0.1)]),
                      "paint", (0.85, 0.1, 0.1)))
    return parts


def trash_can(s, c, rng):
    sx, sy, sz = s
    if rng.random() < 0.5:  # a round street bin with a rim and a domed lid
        r = min(sx, sy) / 2
        parts = [Part(_frustum(0, 0, 0, sz * 0.85, r * 0.85, r * 0.95, 20), "metal", c),
                 Part(_cyl(0, 0, sz * 0.82, sz * 0.86, r, 20), "metal", _shade(c, 0.8)),
                 Part(_frustum(0, 0, sz * 0.86, sz, r * 0.95, r * 0.35, 20), "metal", _shade(c, 1.1))]
        for z in (sz * 0.2, sz * 0.55):  # bands
            parts.append(Part(_frustum(0, 0, z, z + 0.03, r * (0.87 + 0.1 * z / sz), r * (0.875 + 0.1 * z / sz), 20), "metal", _shade(c, 0.7)))
        parts.append(Part(_box([-r * 0.4, -r * 0.95, sz * 0.78], [r * 0.4, -r * 0.75, sz * 0.84]), "plastic", BLACK))  # the slot
        return parts
    # a wheelie bin: a tapered box, a hinged lid with a handle, two wheels at the back
    wr = 0.09
    parts = [Part(_box([-sx / 2 + 0.04, -sy / 2 + 0.04, wr * 0.6], [sx / 2 - 0.04, sy / 2 - 0.06, sz - 0.05]), "plastic", c),
             Part(_box([-sx / 2, -sy / 2, sz - 0.05], [sx / 2, sy / 2, sz]), "plastic", _shade(c, 0.85)),
             Part(_rod([-sx / 2 + 0.06, sy / 2 - 0.03, sz - 0.08], [sx / 2 - 0.06, sy / 2 - 0.03, sz - 0.08], 0.018), "plastic",
                  _shade(c, 0.7))]  # the handle
    for x in (-sx / 2 + 0.06, sx / 2 - 0.06):
        parts.append(Part(_rod([x - 0.03, sy / 2 - wr, wr], [x + 0.03, sy / 2 - wr, wr], wr, 12), "plastic", BLACK))
    return parts


def bicycle(s, c, rng):
    sx, sy, sz = s  # long along x: rear wheel at -x, front at +x
    R = min(0.34, sz * 0.33, sx / 4 - 0.03)
    tube = 0.018
    xr, xf = -sx / 2 + R + 0.02, sx / 2 - R - 0.02
    hz = R + 0.02  # axle height
    parts = []
    for x in (xr, xf):
        parts += [Part(g, "plastic", BLACK) for g in _ring([x, 0, hz], R, 0.02, "y", 18)]
        parts.append(Part(_rod([x, -0.04, hz], [x, 0.04, hz], 0.03, 10), "metal", METAL))
        for k in range(6):  # spokes
            a = math.pi * k / 6
            d = np.array([math.cos(a), 0, math.sin(a)]) * (R - 0.02)
            parts.append(Part(_rod(np.array([x, 0, hz]) - d, np.array([x, 0, hz]) + d, 0.003, 4), "metal", METAL))
    bb = np.array([xr + (xf - xr) * 0.42, 0, hz - 0.02])  # bottom bracket
    seat = np.array([xr + (xf - xr) * 0.3, 0, sz - 0.1])
    head = np.array([xf - R * 0.35, 0, sz - 0.2])
    for p0, p1 in ((bb, seat), (bb, head), (seat + [0.03, 0, -0.08], head), ([xr, 0, hz], bb), ([xr, 0, hz], seat + [0.02, 0, -0.1]),
                   (head, [xf, 0, hz])):  # seat tube, down tube, top tube, chain and seat stays, fork
        parts.append(Part(_rod(p0, p1, tube, 8), "metal", c))
    bar_w = min(sy / 2 - 0.02, 0.28)
    parts += [Part(_rod(head, head + [-0.03, 0, 0.15], tube, 8), "metal", c),
              Part(_rod(head + [-0.05, -bar_w, 0.15], head + [-0.05, bar_w, 0.15], 0.014, 8), "metal", METAL),
              Part(_rod(seat, [seat[0] - 0.01, 0, sz - 0.04], 0.012, 8), "metal", METAL),
              Part(_blob([seat[0] - 0.03, 0, sz - 0.03], [0.13, 0.06, 0.03]), "fabric", BLACK),
              Part(_rod(bb + [0, -0.05, 0], bb + [0, 0.05, 0], 0.08, 16), "metal", (0.3, 0.3, 0.32))]  # chain ring
    for side in (-1, 1):  # cranks and pedals
        end = bb + [side * 0.12, side * 0.07, -side * 0.08]
        parts += [Part(_rod(bb + [0, side * 0.06, 0], end, 0.01, 6), "metal", METAL),
                  Part(_box(end + [-0.05, side * 0.0 - 0.03, -0.01], end + [0.05, 0.03, 0.01]), "plastic", BLACK)]
    for side in (-1, 1):
        parts.append(Part(_rod(head + [-0.05, side * bar_w, 0.15], head + [-0.05, side * (bar_w - 0.08), 0.15], 0.02, 8), "plastic", BLACK))
    return parts


def bus_stop(s, c, rng):
    sx, sy, sz = s  # a shelter open at the front (-y): posts, a glass back and sides, a roof, a bench
    post = 0.04
    roof_t = 0.08
    glass = (0.72, 0.84, 0.9)
    parts = []
    for x in (-sx / 2 + post, sx / 2 - post):
        for y in (-sy / 2 + post, sy / 2 - post):
            parts.append(Part(_box([x - post, y - post, 0], [x + post, y + post, sz - roof_t]), "metal", c))
    parts += [Part(_box([-sx / 2, -sy / 2, sz - roof_t], [sx / 2, sy / 2, sz]), "metal", c),
              Part(_box([-sx / 2 + 0.02, -sy / 2 + 0.02, sz - roof_t - 0.01], [sx / 2 - 0.02, sy / 2 - 0.02, sz - roof_t]), "plastic",
                   (0.85, 0.87, 0.88)),
              Part(_box([-sx / 2 + 2 * post, sy / 2 - 0.03, 0.1], [sx / 2 - 2 * post, sy / 2 - 0.02, sz - roof_t - 0.1]), "glass", glass)]
    ad_side = -1 if rng.random() < 0.5 else 1  # one side panel is a lit advert, the other glass
    for side in (-1, 1):
        x = side * (sx / 2 - post)
        lit = side == ad_side
        parts.append(Part(_box([x - 0.02, -sy / 2 + 2 * post + sy * 0.25 * (not lit), 0.1], [x + 0.02, sy / 2 - 2 * post, sz - roof_t - 0.1]),
                          "light" if lit else "glass", tuple(rng.uniform(0.5, 1.0, 3)) if lit else glass))
    seat_z = 0.45
    parts += [Part(_box([-sx * 0.3, sy / 2 - 0.4, seat_z - 0.04], [sx * 0.3, sy / 2 - 0.06, seat_z]), "metal", METAL),
              Part(_box([-sx * 0.28, sy / 2 - 0.3, 0], [-sx * 0.28 + 0.05, sy / 2 - 0.1, seat_z - 0.04]), "metal", METAL),
              Part(_box([sx * 0.28 - 0.05, sy / 2 - 0.3, 0], [sx * 0.28, sy / 2 - 0.1, seat_z - 0.04]), "metal", METAL),
              # the stop's sign on the roof edge
              Part(_box([sx / 2 - 0.6, -sy / 2 - 0.0, sz - roof_t - 0.3], [sx / 2 - 0.1, -sy / 2 + 0.02, sz - roof_t]), "paint",
                   (0.95, 0.95, 0.95)),
              Part(_box([sx / 2 - 0.5, -sy / 2 - 0.004, sz - roof_t - 0.25], [sx / 2 - 0.2, -sy / 2, sz - roof_t - 0.05]), "paint",
                   (0.1, 0.3, 0.7))]
    return parts


def fire_hydrant(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2
    body_r = r * 0.45
    cap = _shade(c, 0.8) if rng.random() < 0.5 else METAL
    parts = [Part(_cyl(0, 0, 0, 0.06, r * 0.75, 16), "metal", c),
             Part(_cyl(0, 0, 0.06, sz * 0.75, body_r, 16), "metal", c),
             Part(_cyl(0, 0, sz * 0.72, sz * 0.78, body_r * 1.25, 16), "metal", c),
             Part(_blob([0, 0, sz * 0.78], [body_r * 1.05, body_r * 1.05, sz * 0.15]), "metal", c),
             Part(_cyl(0, 0, sz * 0.9, sz, body_r * 0.35, 6), "metal", cap)]  # the pentagon nut, near enough
    nz = sz * 0.55
    for side in (-1, 1):  # hose outlets on the sides, a pumper outlet in front
        parts += [Part(_rod([side * body_r * 0.8, 0, nz], [side * (r - 0.03), 0, nz], body_r * 0.4, 12), "metal", c),
                  Part(_rod([side * (r - 0.04), 0, nz], [side * r, 0, nz], body_r * 0.48, 6), "metal", cap)]
    parts += [Part(_rod([0, -body_r * 0.8, nz - 0.05], [0, -(r - 0.03), nz - 0.05], body_r * 0.55, 12), "metal", c),
              Part(_rod([0, -(r - 0.04), nz - 0.05], [0, -r, nz - 0.05], body_r * 0.62, 6), "metal", cap)]
    return parts


def truck(s, c, rng):
    sx, sy, sz = s  # long along x, the cab in front (+x)
    cab_l = min(2.2, sx * 0.3)
    r = 0.5
    cargo = c if rng.random() < 0.5 else (0.93, 0.93, 0.92)
    parts = [Part(_box([-sx / 2 + 0.2, -sy / 2 + 0.3, 0.45], [sx / 2 - 0.3, sy / 2 - 0.3, 0.7]), "metal", BLACK),  # chassis
             Part(_box([-sx / 2, -sy / 2 + 0.02, 0.95], [sx / 2 - cab_l - 0.15, sy / 2 - 0.02, sz]), "metal", cargo),
             Part(_box([sx / 2 - cab_l, -sy / 2 + 0.08, 0.55], [sx / 2, sy / 2 - 0.08, sz * 0.62]), "metal", c),
             Part(_box([sx / 2 - cab_l, -sy / 2 + 0.1, sz * 0.62], [sx / 2 - 0.25, sy / 2 - 0.1, sz * 0.88]), "metal", c),
             Part(_box([sx / 2 - 0.3, -sy / 2 + 0.18, sz * 0.63], [sx / 2 - 0.24, sy / 2 - 0.18, sz * 0.85]), "glass", GLASS),
             Part(_box([sx / 2 - cab_l + 0.3, -sy / 2 + 0.09, sz * 0.65], [sx / 2 - 0.45, -sy / 2 + 0.1, sz * 0.84]), "glass", GLASS),
             Part(_box([sx / 2 - cab_l + 0.3, sy / 2 - 0.1, sz * 0.65], [sx / 2 - 0.45, sy / 2 - 0.09, sz * 0.84]), "glass", GLASS),
             Part(_box([sx / 2 - 0.08, -sy / 2 + 0.1, 0.3], [sx / 2, sy / 2 - 0.1, 0.5]), "metal", METAL),  # bumper
             Part(_box([sx / 2 - 0.01, -0.45, 0.75], [sx / 2 + 0.0, 0.45, sz * 0.55]), "metal", _shade(METAL, 0.6))]  # grille
    for y in (-sy / 2 + 0.25, sy / 2 - 0.25):
        parts.append(Part(_box([sx / 2 - 0.02, y - 0.12, 0.6], [sx / 2 + 0.005, y + 0.12, 0.72]), "light", (1.0, 1.0, 0.9)))
        parts.append(Part(_box([-sx / 2 - 0.005, y - 0.1, 1.0], [-sx / 2 + 0.01, y + 0.1, 1.12]), "light", (0.9, 0.1, 0.1)))
    for x in (sx / 2 - cab_l * 0.55, -sx / 2 + 1.0, -sx / 2 + 2.1):
        for y in (-sy / 2 + 0.16, sy / 2 - 0.16):
            parts += _wheel(x, y, r, 0.3)
    return parts


def bus(s, c, rng):
    sx, sy, sz = s  # long along x, the front at +x, the doors on the -y side
    r = 0.5
    win0, win1 = sz * 0.42, sz * 0.8
    parts = [Part(_box([-sx / 2, -sy / 2, 0.35], [sx / 2, sy / 2, sz - 0.08]), "metal", c),
             Part(_box([-sx / 2 + 0.05, -sy / 2 + 0.05, sz - 0.08], [sx / 2 - 0.05, sy / 2 - 0.05, sz]), "metal", _shade(c, 1.15)),
             Part(_box([-sx / 2 - 0.0, -sy / 2 - 0.005, sz * 0.33], [sx / 2, -sy / 2, sz * 0.37]), "paint", (0.95, 0.95, 0.95)),
             Part(_box([-sx / 2, sy / 2, sz * 0.33], [sx / 2, sy / 2 + 0.005, sz * 0.37]), "paint", (0.95, 0.95, 0.95)),
             Part(_box([sx / 2 - 0.01, -sy / 2 + 0.12, win0 - 0.3], [sx / 2 + 0.005, sy / 2 - 0.12, win1 + 0.1]), "glass", GLASS),
             Part(_box([-sx / 2 - 0.005, -sy / 2 + 0.2, win0], [-sx / 2 + 0.01, sy / 2 - 0.2, win1]), "glass", GLASS),
             Part(_box([sx / 2 - 0.01, -sy / 2 + 0.3, win1 + 0.12], [sx / 2 + 0.005, sy / 2 - 0.3, sz - 0.15]), "light", (1.0, 0.75, 0.2)),
             Part(_box([sx / 2 - 0.05, -sy / 2 + 0.05, 0.25], [sx / 2 + 0.0, sy / 2 - 0.05, 0.5]), "metal", BLACK)]
    n = max(4, int((sx - 2.0) / 1.2))
    pane = (sx - 2.6) / n
    for k in range(n):  # side windows between pillars, both sides
        x0 = -sx / 2 + 0.3 + k * pane
        for y0, y1 in ((-sy / 2 - 0.005, -sy / 2 + 0.005), (sy / 2 - 0.005, sy / 2 + 0.005)):
            parts.append(Part(_box([x0 + 0.06, y0, win0], [x0 + pane - 0.06, y1, win1]), "glass", GLASS))
    for x0 in (sx / 2 - 1.9, -0.6):  # doors
        parts.append(Part(_box([x0, -sy / 2 - 0.008, 0.4], [x0 + 1.1, -sy / 2 + 0.005, win1]), "glass", _shade(GLASS, 0.7)))
    for y in (-sy / 2 + 0.3, sy / 2 - 0.3):
        parts.append(Part(_box([sx / 2 - 0.02, y - 0.15, 0.55], [sx / 2 + 0.005, y + 0.15, 0.7]), "light", (1.0, 1.0, 0.9)))
    for x in (sx / 2 - 2.4, -sx / 2 + 2.6):
        for y in (-sy / 2 + 0.2, sy / 2 - 0.2):
            parts += _wheel(x, y, r, 0.3)
    return parts


# ---- nature ----------------------------------------------------------------------------------
def flower_bed(s, c, rng):
    sx, sy, sz = s
    edge = 0.08
    wood = rng.random() < 0.5
    parts = [Part(_box([-sx / 2 + edge, -sy / 2 + edge, 0], [sx / 2 - edge, sy / 2 - edge, 0.12]), "grass", (0.32, 0.22, 0.14))]
    rim = _shade(WOOD, 0.8) if wood else STONE
    for lo, hi in (([-sx / 2, -sy / 2], [sx / 2, -sy / 2 + edge]), ([-sx / 2, sy / 2 - edge], [sx / 2, sy / 2]),
                   ([-sx / 2, -sy / 2 + edge], [-sx / 2 + edge, sy / 2 - edge]), ([sx / 2 - edge, -sy / 2 + edge], [sx / 2, sy / 2 - edge])):
        parts.append(Part(_box([*lo, 0], [*hi, 0.18]), "wood" if wood else "stone", rim))
    step = rng.uniform(0.22, 0.3)
    xs = np.arange(-sx / 2 + edge + step / 2, sx / 2 - edge - 0.05, step)
    ys = np.arange(-sy / 2 + edge + step / 2, sy / 2 - edge - 0.05, step)
    mixed = rng.random() < 0.3  # mostly the layout colour, sometimes a mixed bed
    for x in xs:
        for y in ys:
            px, py = x + rng.uniform(-0.04, 0.04), y + rng.uniform(-0.04, 0.04)
            h = rng.uniform(0.55, 0.85) * (sz - 0.17)  # stem height: the flower head stays inside the box
            parts.append(Part(_blob([px, py, 0.12 + h * 0.45], [0.08, 0.08, h * 0.45], subdivisions=0), "leaf",
                              _shade((0.25, 0.5, 0.2), rng.uniform(0.8, 1.2))))
            col = c if not mixed or rng.random() < 0.5 else tuple(rng.uniform(0.5, 1.0, 3))
            parts.append(Part(_blob([px, py, 0.12 + h], [0.055, 0.055, 0.04], subdivisions=0), "leaf", col))
    return parts


def palm_tree(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2
    lean_dir = rng.uniform(0, 2 * math.pi)
    lean = r * rng.uniform(0.05, 0.2)
    crown_z = sz - rng.uniform(0.4, 0.7)
    n_seg = 8
    bark = _shade((0.55, 0.45, 0.32), rng.uniform(0.85, 1.15))
    parts = []
    pts = []
    for k in range(n_seg + 1):  # a gently curving trunk in rings, thinner towards the top
        t = k / n_seg
        off = lean * t * t
        pts.append(np.array([off * math.cos(lean_dir), off * math.sin(lean_dir), crown_z * t]))
    for k in range(n_seg):
        rr = 0.16 - 0.06 * k / n_seg
        parts.append(Part(_grounded(_rod(pts[k], pts[k + 1], rr, 10)), "bark", _shade(bark, 0.9 if k % 2 else 1.05)))
    top = pts[-1]
    n = int(rng.integers(7, 11))
    reach = r - lean - 0.25
    for k in range(n):  # fronds arching out and drooping
        a = 2 * math.pi * k / n + rng.uniform(-0.2, 0.2)
        d = np.array([math.cos(a), math.sin(a), 0.0])
        L = reach * rng.uniform(0.8, 1.0)
        rise = min(0.35, sz - crown_z - 0.05)
        chain = [top, top + d * L * 0.35 + [0, 0, rise], top + d * L * 0.75 + [0, 0, rise * 0.4], top + d * L + [0, 0, -L * 0.35]]
        col = _shade(c, rng.uniform(0.85, 1.1)) if k else c
        for p0, p1 in zip(chain, chain[1:]):
            parts.append(Part(_beam(p0, p1, 0.4, 0.03), "leaf", col))
    for _ in range(int(rng.integers(2, 5))):  # coconuts
        d = rng.normal(size=2)
        d = d / np.linalg.norm(d) * 0.12
        parts.append(Part(_blob(top + [d[0], d[1], -0.12], [0.08] * 3), "bark", (0.4, 0.3, 0.15)))
    return parts


def birch_tree(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2
    crown_base = sz * rng.uniform(0.35, 0.45)
    tr = r * 0.08
    parts = [Part(_frustum(0, 0, 0, sz * 0.85, tr, tr * 0.5, 10), "bark", (0.9, 0.89, 0.85))]
    for _ in range(int(rng.integers(8, 14))):  # the black marks of birch bark
        z = rng.uniform(0.2, crown_base + 0.5)
        a = rng.uniform(0, 2 * math.pi)
        x, y = tr * 0.95 * math.cos(a), tr * 0.95 * math.sin(a)
        parts.append(Part(_box([x - 0.04, y - 0.04, z], [x + 0.04, y + 0.04, z + 0.03]), "bark", (0.12, 0.11, 0.1)))
    for _ in range(int(rng.integers(2, 4))):  # branches up into the crown
        a = rng.uniform(0, 2 * math.pi)
        z0 = crown_base * rng.uniform(0.9, 1.2)
        parts.append(Part(_rod([0, 0, z0], [r * 0.45 * math.cos(a), r * 0.45 * math.sin(a), z0 + r * 0.6], tr * 0.4, 6), "bark",
                          (0.85, 0.84, 0.8)))
    for k in range(int(rng.integers(6, 10))):  # an airy crown of upright clusters
        rr = r * rng.uniform(0.35, 0.55)
        rz = min(rr * rng.uniform(1.1, 1.5), (sz - crown_base) / 2)
        cx, cy = rng.uniform(-(r - rr), r - rr, 2) * 0.7
        cz = _uniform(rng, crown_base + rz, sz - rz)
        parts.append(Part(_blob([cx, cy, cz], [rr, rr, rz]), "leaf", c if k == 0 else _shade(c, rng.uniform(0.85, 1.15))))
    return parts


def cactus(s, c, rng):
    sx, sy, sz = s  # a saguaro: a ribbed column with arms that turn upwards
    r = min(sy / 2, sx / 4) * 0.9
    top = sz - r
    parts = [Part(_cyl(0, 0, 0, top, r, 10), "leaf", c), Part(_blob([0, 0, top], [r, r, r]), "leaf", c)]
    for k in range(5):  # ribs
        a = 2 * math.pi * k / 5
        parts.append(Part(_box([r * math.cos(a) - 0.01, r * math.sin(a) - 0.01, 0.05], [r * math.cos(a) + 0.01, r * math.sin(a) + 0.01, top]),
                          "leaf", _shade(c, 0.8)))
    sides = [-1, 1] if rng.random() < 0.6 else [int(rng.choice([-1, 1]))]
    ar = r * 0.65
    for side in sides:
        z0 = sz * rng.uniform(0.3, 0.5)
        out = sx / 2 - ar
        z1 = min(sz - ar, z0 + sz * rng.uniform(0.2, 0.35))
        parts += [Part(_rod([0, 0, z0], [side * out, 0, z0], ar, 8), "leaf", _shade(c, 0.95)),
                  Part(_blob([side * out, 0, z0], [ar] * 3), "leaf", _shade(c, 0.95)),
                  Part(_cyl(side * out, 0, z0, z1, ar, 8), "leaf", _shade(c, 0.95)),
                  Part(_blob([side * out, 0, z1], [ar] * 3), "leaf", _shade(c, 0.95))]
    if rng.random() < 0.4:  # flowers on top
        for k in range(3):
            a = 2 * math.pi * k / 3
            parts.append(Part(_blob([r * 0.5 * math.cos(a), r * 0.5 * math.sin(a), sz - r * 0.3], [0.04] * 3), "leaf", (0.95, 0.85, 0.9)))
    return parts


def tree_stump(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2 * 0.7
    parts = [Part(_frustum(0, 0, 0, sz - 0.02, r, r * 0.9, 14), "bark", c),
             Part(_cyl(0, 0, sz - 0.02, sz, r * 0.86, 24), "wood", (0.78, 0.62, 0.42))]
    for k in range(1, 4):  # growth rings on the cut face
        parts.append(Part(_cyl(0, 0, sz, sz + 0.002, r * 0.86 * k / 4, 24), "wood", _shade((0.78, 0.62, 0.42), 0.8 + 0.05 * k)))
    a0 = rng.uniform(0, 2 * math.pi)
    R = min(sx, sy) / 2
    for k in range(int(rng.integers(3, 6))):  # roots spreading into the ground
        a = a0 + 2 * math.pi * k / 5 + rng.uniform(-0.3, 0.3)
        parts.append(Part(_blob([(R - 0.12) * math.cos(a), (R - 0.12) * math.sin(a), 0.06], [0.12, 0.08, 0.06]), "bark", _shade(c, 0.9)))
    if rng.random() < 0.4:  # moss
        parts.append(Part(_blob([r * 0.6, 0, sz * 0.4], [0.08, 0.08, 0.12]), "leaf", (0.3, 0.45, 0.2)))
    return parts


def log(s, c, rng):
    sx, sy, sz = s  # lying along x
    r = min(sy, sz) / 2 - 0.01
    parts = [Part(_rod([-sx / 2 + 0.02, 0, r], [sx / 2 - 0.02, 0, r], r, 14), "bark", c)]
    for x in (-sx / 2 + 0.01, sx / 2 - 0.01):  # the sawn ends
        parts.append(Part(_rod([x - 0.01, 0, r], [x + 0.01, 0, r], r * 0.92, 14), "wood", (0.78, 0.62, 0.42)))
    for _ in range(int(rng.integers(0, 3))):  # stubs of branches
        x = rng.uniform(-sx / 3, sx / 3)
        a = rng.uniform(0.2, math.pi - 0.2)
        d = np.array([0.0, math.cos(a), math.sin(a)])
        centre = np.array([x, 0.0, r])
        parts.append(Part(_rod(centre + d * r * 0.7, centre + d * (r + 0.02) + [0.04, 0, 0], r * 0.18, 6), "bark", c))
    if rng.random() < 0.5:
        x = rng.uniform(-sx / 3, sx / 3)
        parts.append(Part(_blob([x, 0, 2 * r - 0.02], [0.2, r * 0.6, 0.04]), "leaf", (0.3, 0.45, 0.2)))
    return parts


def mushroom(s, c, rng):
    sx, sy, sz = s  # a little cluster: one big cap and a few small ones
    spotted = rng.random() < 0.5
    stem = (0.93, 0.9, 0.82)
    n = int(rng.integers(1, 4))
    parts = []
    for k in range(n + 1):
        scale = 1.0 if k == 0 else rng.uniform(0.45, 0.7)
        cap_r = min(sx, sy) * 0.28 * scale
        h = (sz - cap_r * 0.55) * scale
        if k == 0:
            x = y = 0.0
        else:
            a = rng.uniform(0, 2 * math.pi)
            x, y = (min(sx, sy) / 2 - cap_r) * math.cos(a), (min(sx, sy) / 2 - cap_r) * math.sin(a)
        parts += [Part(_frustum(x, y, 0, h, cap_r * 0.3, cap_r * 0.22, 10), "paper", stem),
                  Part(_blob([x, y, h], [cap_r, cap_r, cap_r * 0.55]), "plastic", c),
                  Part(_cyl(x, y, h - cap_r * 0.08, h, cap_r * 0.95, 16), "paper", _shade(stem, 0.9))]  # gills
        if spotted:
            for j in range(5):
                a = 2 * math.pi * j / 5 + k
                parts.append(Part(_blob([x + cap_r * 0.55 * math.cos(a), y + cap_r * 0.55 * math.sin(a), h + cap_r * 0.4],
                                        [cap_r * 0.12] * 3, 0), "paint", (0.97, 0.97, 0.95)))
    return parts


# ---- camping, beach, park --------------------------------------------------------------------
def tent(s, c, rng):
    sx, sy, sz = s
    parts = [Part(_box([-sx / 2, -sy / 2, 0], [sx / 2, sy / 2, 0.01]), "fabric", _shade(c, 0.5))]  # ground sheet
    if rng.random() < 0.5:  # a ridge tent: a triangular prism along y, door flaps in front
        body = _swap_xy(_prism([(-sx / 2 + 0.05, 0.01), (sx / 2 - 0.05, 0.01), (0.0, sz - 0.04)], -sy / 2 + 0.05, sy / 2 - 0.05))
        door = _swap_xy(_prism([(-sx * 0.2, 0.01), (sx * 0.2, 0.01), (0.0, sz * 0.6)], -sy / 2 + 0.03, -sy / 2 + 0.05))
        parts += [Part(body, "fabric", c), Part(door, "fabric", _shade(c, 0.55)),
                  Part(_rod([0, -sy / 2 + 0.03, sz - 0.03], [0, sy / 2 - 0.03, sz - 0.03], 0.015, 6), "metal", METAL)]
        for y in (-sy / 2 + 0.04, sy / 2 - 0.04):
            parts.append(Part(_cyl(0, y, 0, sz - 0.02, 0.015, 6), "metal", METAL))
    else:  # a dome: a flattened half ellipsoid with two crossing poles
        dome = _blob([0, 0, 0], [sx / 2 - 0.05, sy / 2 - 0.05, sz - 0.03], subdivisions=2)
        dome.vertices[:, 2] = np.maximum(dome.vertices[:, 2], 0.01)
        parts.append(Part(dome, "fabric", c))
        for axis_angle in (math.pi / 4, -math.pi / 4):
            a = np.linspace(0, math.pi, 9)
            u = np.array([math.cos(axis_angle), math.sin(axis_angle)])
            ex = np.hypot((sx / 2 - 0.04) * u[0], (sy / 2 - 0.04) * u[1])
            pts = [np.array([u[0] * ex * math.cos(t), u[1] * ex * math.cos(t), (sz - 0.02) * math.sin(t)]) for t in a]
            parts += [Part(_grounded(_rod(p0, p1, 0.012, 6)), "metal", (0.25, 0.25, 0.28)) for p0, p1 in zip(pts, pts[1:])]
        parts.append(Part(_blob([0, -sy / 2 + 0.09, sz * 0.3], [sx * 0.18, 0.04, sz * 0.28]), "fabric", _shade(c, 0.55)))  # door
    for x in (-sx / 2 + 0.02, sx / 2 - 0.02):  # pegs
        for y in (-sy / 2 + 0.02, sy / 2 - 0.02):
            parts.append(Part(_cyl(x, y, 0, 0.06, 0.01, 6), "metal", METAL))
    return parts


def campfire(s, c, rng):
    sx, sy, sz = s
    R = min(sx, sy) / 2 - 0.08
    parts = []
    n = int(rng.integers(8, 13))
    for k in range(n):  # the ring of stones
        a = 2 * math.pi * k / n
        parts.append(Part(_blob([R * math.cos(a), R * math.sin(a), 0.07], [0.08, 0.07, 0.07]), "stone", _shade(STONE, rng.uniform(0.7, 1.1))))
    parts.append(Part(_cyl(0, 0, 0, 0.02, R * 0.8, 16), "stone", (0.12, 0.1, 0.1)))  # ash
    m = int(rng.integers(3, 6))
    for k in range(m):  # logs leaning into a teepee
        a = 2 * math.pi * k / m + rng.uniform(-0.2, 0.2)
        foot, tip = [R * 0.55 * math.cos(a), R * 0.55 * math.sin(a), 0.04], [0.03 * math.cos(a), 0.03 * math.sin(a), sz * 0.5]
        parts.append(Part(_rod(foot, tip, 0.035, 6), "bark", _shade(BARK, rng.uniform(0.7, 1.1))))
    parts += [Part(_cone(0, 0, 0.03, sz, R * 0.45, 10), "light", c),
              Part(_cone(0, 0, 0.03, sz * 0.7, R * 0.3, 10), "light", (1.0, 0.85, 0.3)),
              Part(_blob([0, 0, 0.04], [R * 0.35, R * 0.35, 0.03]), "light", (0.9, 0.25, 0.05))]
    for _ in range(3):  # tongues of flame
        a = rng.uniform(0, 2 * math.pi)
        parts.append(Part(_cone(R * 0.2 * math.cos(a), R * 0.2 * math.sin(a), 0.03, sz * rng.uniform(0.5, 0.8), R * 0.18, 8), "light",
                          _shade(c, rng.uniform(0.9, 1.1))))
    return parts


def picnic_table(s, c, rng):
    sx, sy, sz = s  # long along x; benches on both long sides, joined to the table's A-frames
    top_d = min(0.8, sy * 0.45)
    seat_z = sz * 0.58
    bench_d = 0.28
    parts = []
    n = int(rng.integers(3, 6))
    for k in range(n):
        y0 = -top_d / 2 + k * top_d / n
        parts.append(Part(_box([-sx / 2, y0 + 0.005, sz - 0.045], [sx / 2, y0 + top_d / n - 0.005, sz]), "wood", c))
    for side in (-1, 1):
        yc = side * (sy / 2 - bench_d / 2)
        for k in range(2):
            y0 = yc - bench_d / 2 + k * bench_d / 2
            parts.append(Part(_box([-sx / 2 + 0.1, y0 + 0.005, seat_z - 0.04], [sx / 2 - 0.1, y0 + bench_d / 2 - 0.005, seat_z]), "wood", c))
    for x in (-sx / 2 + 0.3, sx / 2 - 0.3):
        for side in (-1, 1):  # the A-frame legs
            parts.append(Part(_grounded(_beam([x, side * (sy / 2 - 0.25), 0], [x, side * 0.12, sz - 0.045], 0.09, 0.09)), "wood",
                              _shade(c, 0.85)))
        parts += [Part(_box([x - 0.045, -sy / 2 + 0.04, seat_z - 0.13], [x + 0.045, sy / 2 - 0.04, seat_z - 0.04]), "wood", _shade(c, 0.85)),
                  Part(_box([x - 0.045, -top_d / 2, sz - 0.12], [x + 0.045, top_d / 2, sz - 0.045]), "wood", _shade(c, 0.85))]
    return parts


def beach_umbrella(s, c, rng):
    sx, sy, sz = s
    R = min(sx, sy) / 2 - 0.02
    drop = min(0.5, sz * 0.2)
    tilt = rng.uniform(0, 2 * math.pi)  # where the segments start
    n = 8
    stripe = (0.97, 0.97, 0.95) if rng.random() < 0.7 else _shade(c, 0.6)
    apex = np.array([0.0, 0.0, sz - 0.05])
    rims = [np.array([R * math.cos(tilt + 2 * math.pi * k / n), R * math.sin(tilt + 2 * math.pi * k / n), sz - 0.05 - drop]) for k in range(n)]
    parts = [Part(_cyl(0, 0, 0, 0.06, 0.2, 14), "plastic", (0.9, 0.9, 0.88)),
             Part(_cyl(0, 0, 0.06, sz - 0.05, 0.02, 8), "metal", (0.9, 0.9, 0.9)),
             Part(_blob([0, 0, sz - 0.03], [0.03] * 3), "plastic", c)]
    for k in range(n):  # the canopy: alternating panels, with a scalloped valance
        tri = Geom(np.array([apex, rims[k], rims[(k + 1) % n]]), np.array([[0, 1, 2]]))
        parts.append(Part(tri, "fabric", c if k % 2 == 0 else stripe))
        mid = (rims[k] + rims[(k + 1) % n]) / 2
        parts.append(Part(_beam(rims[k], rims[(k + 1) % n], 0.12, 0.005, (mid[0], mid[1], 0.0)), "fabric", c if k % 2 == 0 else stripe))
        parts.append(Part(_rod(apex - [0, 0, 0.02], rims[k] - [0, 0, 0.02], 0.006, 4), "metal", METAL))
    return parts


def sun_lounger(s, c, rng):
    sx, sy, sz = s  # long along y, the backrest raised at the back (+y)
    seat_z = rng.uniform(0.3, 0.38)
    hinge_y = sy / 2 - sy * rng.uniform(0.3, 0.36)
    wood = rng.random() < 0.5
    frame = _shade(WOOD, 0.9) if wood else (0.92, 0.92, 0.92)
    rail = "wood" if wood else "plastic"
    parts = []
    for x in (-sx / 2 + 0.03, sx / 2 - 0.03):
        parts.append(Part(_box([x - 0.025, -sy / 2, seat_z - 0.06], [x + 0.025, hinge_y, seat_z - 0.01]), rail, frame))
        for y in (-sy / 2 + 0.08, hinge_y - 0.05):
            parts.append(Part(_box([x - 0.025, y - 0.025, 0], [x + 0.025, y + 0.025, seat_z - 0.06]), rail, frame))
    parts.append(Part(_box([-sx / 2 + 0.05, -sy / 2 + 0.02, seat_z - 0.02], [sx / 2 - 0.05, hinge_y, seat_z + 0.04]), "fabric", c))
    back_top = np.array([0.0, sy / 2 - 0.06, sz - 0.04])
    hinge = np.array([0.0, hinge_y, seat_z + 0.01])
    normal = np.array([0.0, -(back_top - hinge)[2], (back_top - hinge)[1]])
    parts += [Part(_beam(hinge, back_top, sx - 0.1, 0.06, normal), "fabric", c),
              Part(_beam(hinge + [sx / 2 - 0.03, 0, -0.03], back_top + [sx / 2 - 0.03, 0, -0.03], 0.05, 0.04, normal), rail, frame),
              Part(_beam(hinge - [sx / 2 - 0.03, 0, 0.03], back_top - [sx / 2 - 0.03, 0, 0.03], 0.05, 0.04, normal), rail, frame),
              Part(_grounded(_beam([-sx / 2 + 0.03, hinge_y + 0.12, 0], [-sx / 2 + 0.03, hinge_y + 0.02, seat_z + 0.1], 0.03, 0.03)), "metal",
                   METAL),
              Part(_grounded(_beam([sx / 2 - 0.03, hinge_y + 0.12, 0], [sx / 2 - 0.03, hinge_y + 0.02, seat_z + 0.1], 0.03, 0.03)), "metal",
                   METAL)]
    if rng.random() < 0.4:  # a towel over the foot end
        parts.append(Part(_box([-sx / 2 + 0.08, -sy / 2 + 0.05, seat_z + 0.04], [sx / 2 - 0.08, -sy / 2 + 0.5, seat_z + 0.05]), "fabric",
                          tuple(rng.uniform(0.4, 1.0, 3))))
    return parts


def boat(s, c, rng):
    sx, sy, sz = s  # a rowing boat, long along x, the bow at +x; an open hull, seats and oars
    rim = sz * 0.75
    m = _blob([0, 0, 0], [1, 1, 1], subdivisions=3)
    keep = m.vertices[m.faces].mean(1)[:, 2] <= 0.02  # the lower half: an open bowl
    faces = m.faces[keep]
    v = m.vertices.copy()
    v[:, 2] = np.minimum(v[:, 2], 0.0)
    bow = np.clip(v[:, 0], 0, 1)
    v[:, 1] *= 1 - 0.55 * bow ** 2  # narrow towards the bow
    hull = Geom(np.stack([v[:, 0] * sx / 2, v[:, 1] * sy / 2, rim + v[:, 2] * rim], 1), faces)
    inside = Geom(np.stack([v[:, 0] * (sx / 2 - 0.05), v[:, 1] * (sy / 2 - 0.05), rim + v[:, 2] * (rim - 0.05)], 1), faces)
    parts = [Part(hull, "paint", c), Part(inside, "wood", _shade(WOOD, rng.uniform(0.8, 1.1)))]
    a = np.linspace(0, 2 * math.pi, 25)
    gx, gy = np.cos(a), np.sin(a)
    gy = gy * (1 - 0.55 * np.clip(gx, 0, 1) ** 2)
    pts = np.stack([gx * (sx / 2 - 0.02), gy * (sy / 2 - 0.02), np.full_like(gx, rim)], 1)
    parts += [Part(_rod(p0, p1, 0.025, 6), "wood", DARK_WOOD) for p0, p1 in zip(pts, pts[1:])]  # gunwale
    for x in (-sx * 0.25, sx * 0.1):  # thwarts
        half = sy / 2 * (1 - 0.55 * max(x / (sx / 2), 0) ** 2) * math.sqrt(max(1 - (x / (sx / 2)) ** 2, 0)) - 0.04
        parts.append(Part(_box([x - 0.1, -half, rim - 0.12], [x + 0.1, half, rim - 0.08]), "wood", _shade(WOOD, 0.9)))
    if rng.random() < 0.7:  # a pair of oars resting along the seats
        for side in (-1, 1):
            y = side * sy * 0.2
            loom, blade = [sx * 0.25, y, min(sz - 0.03, rim + 0.1)], [sx * 0.4, y, min(sz - 0.03, rim + 0.12)]
            parts += [Part(_rod([-sx * 0.38, y, rim - 0.04], loom, 0.02, 6), "wood", WOOD),
                      Part(_beam(loom, blade, 0.12, 0.02), "wood", WOOD)]
    return parts


def fountain(s, c, rng):
    sx, sy, sz = s
    R = min(sx, sy) / 2
    wall_h = rng.uniform(0.4, 0.55)
    water = (0.45, 0.65, 0.8)
    parts = [Part(_cyl(0, 0, 0, wall_h - 0.12, R, 32), "stone", c),
             Part(_cyl(0, 0, wall_h - 0.12, wall_h - 0.08, R - 0.12, 32), "water", water)]
    n = 20
    for k in range(n):  # the basin's rim, in blocks
        a0, a1 = 2 * math.pi * k / n, 2 * math.pi * (k + 1) / n
        p0 = np.array([(R - 0.08) * math.cos(a0), (R - 0.08) * math.sin(a0), wall_h - 0.06])
        p1 = np.array([(R - 0.08) * math.cos(a1), (R - 0.08) * math.sin(a1), wall_h - 0.06])
        parts.append(Part(_beam(p0, p1, 0.15, 0.12), "stone", _shade(c, 1.08)))
    col_top = wall_h + (sz - wall_h) * 0.45
    bowl_r = R * rng.uniform(0.3, 0.4)
    parts += [Part(_frustum(0, 0, wall_h - 0.12, col_top, 0.22, 0.12, 16), "stone", c),
              Part(_frustum(0, 0, col_top, col_top + 0.18, 0.12, bowl_r, 24), "stone", c),
              Part(_cyl(0, 0, col_top + 0.15, col_top + 0.17, bowl_r - 0.05, 24), "water", water),
              Part(_frustum(0, 0, col_top + 0.18, sz * 0.82, 0.08, 0.05, 12), "stone", c),
              Part(_blob([0, 0, sz * 0.84], [0.09, 0.09, 0.06]), "stone", _shade(c, 1.08)),
              Part(_cone(0, 0, sz * 0.86, sz, 0.05, 8), "water", (0.75, 0.87, 0.95))]  # the jet
    for k in range(6):  # water falling from the upper bowl
        a = 2 * math.pi * k / 6 + 0.3
        x, y = (bowl_r - 0.02) * math.cos(a), (bowl_r - 0.02) * math.sin(a)
        parts.append(Part(_cyl(x, y, wall_h - 0.1, col_top + 0.16, 0.02, 6), "water", (0.7, 0.85, 0.95)))
    return parts


def swing(s, c, rng):
    sx, sy, sz = s  # an A-frame at each end of a top beam; one or two seats on chains
    beam_z = sz - 0.06
    parts = [Part(_rod([-sx / 2 + 0.06, 0, beam_z], [sx / 2 - 0.06, 0, beam_z], 0.055, 10), "metal", c)]
    for x in (-sx / 2 + 0.06, sx / 2 - 0.06):
        for y in (-sy / 2 + 0.05, sy / 2 - 0.05):
            parts.append(Part(_grounded(_rod([x, y, 0.0], [x, 0, beam_z], 0.045, 10)), "metal", c))
    seats = 1 if sx < 2.2 else 2
    seat_z = rng.uniform(0.4, 0.5)
    for k in range(seats):
        xc = 0.0 if seats == 1 else (-sx / 4 + 0.1 if k == 0 else sx / 4 - 0.1)
        for dx in (-0.2, 0.2):
            parts.append(Part(_rod([xc + dx, 0, beam_z - 0.05], [xc + dx, 0, seat_z + 0.02], 0.008, 6), "metal", METAL))
        parts.append(Part(_box([xc - 0.24, -0.1, seat_z - 0.03], [xc + 0.24, 0.1, seat_z + 0.02]), "plastic",
                          BLACK if rng.random() < 0.5 else _shade(c, 0.7)))
    return parts


def slide(s, c, rng):
    sx, sy, sz = s  # long along y: a ladder at the back (+y), a platform, the chute down to the front
    deck = sz - 0.65
    back = sy / 2 - 0.05
    deck_y0 = back - 0.55
    frame = METAL if rng.random() < 0.5 else _shade(c, 0.6)
    parts = []
    for x in (-sx / 2 + 0.04, sx / 2 - 0.04):
        parts += [Part(_grounded(_rod([x, back, 0], [x, back - 0.1, sz], 0.025, 8)), "metal", frame),  # ladder rails, to the guard rail
                  Part(_cyl(x, deck_y0 + 0.03, 0, deck, 0.03, 8), "metal", frame),
                  Part(_rod([x, deck_y0 + 0.03, deck + 0.02], [x, deck_y0 + 0.03, sz], 0.02, 8), "metal", frame),
                  Part(_rod([x, deck_y0 + 0.03, sz], [x, back - 0.1, sz], 0.02, 8), "metal", frame)]
    for k in range(1, int(deck / 0.28) + 1):  # rungs
        z = k * deck / (int(deck / 0.28) + 1)
        y = back - 0.1 * z / sz
        parts.append(Part(_rod([-sx / 2 + 0.04, y, z], [sx / 2 - 0.04, y, z], 0.018, 6), "metal", frame))
    parts.append(Part(_box([-sx / 2 + 0.04, deck_y0, deck - 0.04], [sx / 2 - 0.04, back - 0.08, deck]), "plastic", _shade(c, 0.8)))
    end = np.array([0.0, -sy / 2 + 0.35, 0.3])
    start = np.array([0.0, deck_y0, deck])
    normal = np.array([0.0, -(start - end)[2], (start - end)[1]])
    normal *= np.sign(normal[2])
    w = sx - 0.1
    parts += [Part(_beam(start, end, w, 0.03, normal), "plastic", c),
              Part(_box([-w / 2, -sy / 2 + 0.02, 0.25], [w / 2, end[1], 0.3]), "plastic", c)]
    for side in (-1, 1):  # the chute's side walls
        x = side * (w / 2 - 0.02)
        parts += [Part(_beam(start + [x, 0, 0.08], end + [x, 0, 0.08], 0.04, 0.16, normal), "plastic", _shade(c, 0.9)),
                  Part(_box([x - 0.02, -sy / 2 + 0.02, 0.25], [x + 0.02, end[1], 0.38]), "plastic", _shade(c, 0.9)),
                  Part(_cyl(x, -sy / 2 + 0.15, 0, 0.25, 0.025, 8), "metal", frame)]
    return parts


def statue(s, c, rng):
    sx, sy, sz = s  # a figure on a plinth
    plinth_h = sz * rng.uniform(0.3, 0.4)
    pw = min(sx, sy) * 0.45
    stone = _shade(STONE, rng.uniform(0.85, 1.15))
    parts = [Part(_box([-min(sx, sy) / 2, -min(sx, sy) / 2, 0], [min(sx, sy) / 2, min(sx, sy) / 2, 0.12]), "stone", _shade(stone, 0.9)),
             Part(_box([-pw, -pw, 0.12], [pw, pw, plinth_h - 0.08]), "stone", stone),
             Part(_box([-pw - 0.05, -pw - 0.05, plinth_h - 0.08], [pw + 0.05, pw + 0.05, plinth_h]), "stone", _shade(stone, 1.05)),
             Part(_box([-pw * 0.5, -pw - 0.01, plinth_h * 0.45], [pw * 0.5, -pw, plinth_h * 0.65]), "metal", (0.6, 0.5, 0.3))]  # plaque
    h = sz - plinth_h  # the figure, in the layout colour
    z0 = plinth_h
    hip, shoulder = z0 + h * 0.47, z0 + h * 0.8
    for side in (-1, 1):
        parts.append(Part(_rod([side * h * 0.06, 0, z0 + 0.02], [side * h * 0.06, 0, hip], h * 0.045, 8), "metal", c))
    parts += [Part(_blob([0, 0, (hip + shoulder) / 2], [h * 0.12, h * 0.08, (shoulder - hip) / 2 + 0.04]), "metal", c),
              Part(_blob([0, 0, sz - h * 0.08], [h * 0.065, h * 0.07, h * 0.08]), "metal", c),
              Part(_box([-h * 0.06, -h * 0.05, z0], [h * 0.06, h * 0.06, z0 + 0.03]), "metal", c)]
    raised = rng.random() < 0.6  # one arm raised, or both at the sides
    reach = min(min(sx, sy) / 2 - 0.05, h * 0.35)
    for side in (-1, 1):
        tip = [side * reach * 0.7, 0, sz - h * 0.05] if raised and side > 0 else [side * h * 0.18, -h * 0.05, hip - h * 0.05]
        parts.append(Part(_rod([side * h * 0.1, 0, shoulder - h * 0.03], tip, h * 0.035, 8), "metal", c))
    return parts


# ---- farm ------------------------------------------------------------------------------------
def barn(s, c, rng):
    sx, sy, sz = s  # long along x, a gambrel roof, big doors in the +x gable end
    inset = 0.1
    wall_h = sz * rng.uniform(0.45, 0.52)
    ridge = sz - 0.6  # leaves room for the cupola
    knee_y, knee_z = (sy / 2 - inset) * 0.62, wall_h + (ridge - wall_h) * 0.62
    profile = [(-sy / 2 + inset, 0.0), (sy / 2 - inset, 0.0), (sy / 2 - inset, wall_h), (knee_y, knee_z), (0.0, ridge),
               (-knee_y, knee_z), (-sy / 2 + inset, wall_h)]
    parts = [Part(_prism(profile, -sx / 2 + inset, sx / 2 - inset), "paint", c)]
    roof = _shade((0.28, 0.28, 0.3), rng.uniform(0.8, 1.2))
    for a, b in ((profile[2], profile[3]), (profile[3], profile[4]), (profile[4], profile[5]), (profile[5], profile[6])):
        p0, p1 = np.array([0.0, *a]), np.array([0.0, *b])
        out = np.array([0.0, (p0[1] + p1[1]) / 2, (p0[2] + p1[2]) / 2 - ridge * 0.4])
        normal = np.array([0.0, -(p1 - p0)[2], (p1 - p0)[1]])
        if normal @ out < 0:
            normal = -normal
        shift = normal / np.linalg.norm(normal) * 0.05
        parts.append(Part(_beam(p0 + shift, p1 + shift, sx - 0.05, 0.08, normal), "stone", roof))
    white = (0.95, 0.95, 0.93)
    dw, dh = min(1.6, sy * 0.22), min(3.4, wall_h * 0.85)
    xe = sx / 2 - inset
    parts += [Part(_box([xe, -dw, 0], [xe + 0.05, dw, dh]), "wood", _shade(c, 0.85)),
              Part(_beam([xe + 0.06, -dw + 0.1, 0.1], [xe + 0.06, dw - 0.1, dh - 0.1], 0.12, 0.03, (1, 0, 0)), "wood", white),
              Part(_beam([xe + 0.06, dw - 0.1, 0.1], [xe + 0.06, -dw + 0.1, dh - 0.1], 0.12, 0.03, (1, 0, 0)), "wood", white),
              Part(_box([xe + 0.03, -dw - 0.08, 0], [xe + 0.08, dw + 0.08, 0.08]), "wood", white),
              Part(_box([xe + 0.03, -dw - 0.08, dh], [xe + 0.08, dw + 0.08, dh + 0.1]), "wood", white),
              Part(_box([xe, -0.6, knee_z - 1.4], [xe + 0.05, 0.6, knee_z - 0.3]), "wood", _shade(c, 0.7))]  # hay loft door
    for x in (-sx / 2 + inset, sx / 2 - inset - 0.08):  # white corner boards
        for y in (-sy / 2 + inset, sy / 2 - inset - 0.08):
            parts.append(Part(_box([x, y, 0], [x + 0.08, y + 0.08, wall_h]), "wood", white))
    for k in range(int(rng.integers(2, 4))):  # windows along the long sides
        x = -sx / 2 + (k + 1) * sx / 4
        for y0 in (-sy / 2 + inset - 0.02, sy / 2 - inset):
            parts.append(Part(_box([x - 0.4, y0, wall_h * 0.5], [x + 0.4, y0 + 0.02, wall_h * 0.8]), "glass", (0.55, 0.65, 0.72)))
    parts += [Part(_box([-0.4, -0.4, ridge - 0.1], [0.4, 0.4, sz - 0.25]), "paint", white),  # cupola on the ridge
              Part(_cone(0, 0, sz - 0.25, sz, 0.55, 4), "stone", roof)]
    return parts


def hay_bale(s, c, rng):
    sx, sy, sz = s
    if rng.random() < 0.6:  # a round bale on its side, the axis along x
        r = min(sy, sz) / 2 - 0.02
        parts = [Part(_rod([-sx / 2 + 0.03, 0, r + 0.01], [sx / 2 - 0.03, 0, r + 0.01], r, 20), "grass", c)]
        for x in (-sx / 2 + 0.02, sx / 2 - 0.02):  # the rolled ends
            for k in range(1, 4):
                parts.append(Part(_rod([x - 0.012, 0, r + 0.01], [x + 0.012, 0, r + 0.01], r * k / 4, 20), "grass", _shade(c, 1.0 - 0.08 * k)))
        for x in np.linspace(-sx / 3, sx / 3, 3):  # net wrap bands
            parts.append(Part(_rod([x - 0.02, 0, r + 0.01], [x + 0.02, 0, r + 0.01], r + 0.008, 20), "fabric", _shade(c, 0.75)))
        return parts
    # small square bales: two side by side with one on top
    parts = []
    for x0, x1, y0, y1, z0, z1 in ((-sx / 2, sx / 2, -sy / 2, -0.01, 0, sz / 2), (-sx / 2, sx / 2, 0.01, sy / 2, 0, sz / 2),
                                   (-sx / 2 + 0.05, sx / 2 - 0.05, -sy / 4, sy / 4, sz / 2, sz)):
        parts.append(Part(_box([x0, y0, z0], [x1, y1, z1 - 0.005]), "grass", c if z0 == 0 else _shade(c, 1.05)))
        for x in (x0 + (x1 - x0) * 0.3, x0 + (x1 - x0) * 0.7):  # twine
            parts.append(Part(_box([x - 0.01, y0 - 0.004, z0], [x + 0.01, y1 + 0.004, z1 - 0.001]), "fabric", (0.45, 0.35, 0.2)))
    return parts


def windmill(s, c, rng):
    sx, sy, sz = s  # a tower mill: a tapering tower, a cap, four sails facing -y
    base_r = min(sx, sy) / 2 * 0.8
    top_r = base_r * rng.uniform(0.5, 0.6)
    tower_h = sz * 0.62
    parts = [Part(_frustum(0, 0, 0, tower_h, base_r, top_r, 8), "paint", c),
             Part(_cone(0, 0, tower_h, tower_h + sz * 0.12, top_r * 1.15, 10), "wood", DARK_WOOD),
             Part(_box([-0.5, -base_r * 0.98 - 0.02, 0], [0.5, -base_r * 0.9, 2.1]), "wood", DARK_WOOD)]
    for z in (tower_h * 0.45, tower_h * 0.75):  # windows up the tower
        rz = base_r + (top_r - base_r) * z / tower_h
        parts.append(Part(_box([-0.3, -rz - 0.02, z], [0.3, -rz * 0.9, z + 0.7]), "glass", (0.5, 0.6, 0.68)))
    hub = np.array([0.0, -top_r - 0.35, tower_h + sz * 0.02])
    reach = max(min(sx / 2 - 0.15, sz - hub[2] - 0.15, hub[2] - 1.0), 0.3)  # the sail tips' distance from the hub
    sail_w = min(reach * 0.25, 1.0)
    L = math.sqrt(reach ** 2 - sail_w ** 2)
    parts += [Part(_rod([0, -top_r * 0.5, hub[2]], hub, 0.15, 10), "wood", DARK_WOOD),
              Part(_blob(hub, [0.22] * 3), "wood", DARK_WOOD)]
    a0 = rng.uniform(0, math.pi / 2)
    for k in range(4):  # stocks with a lattice sail on each
        a = a0 + k * math.pi / 2
        d = np.array([math.cos(a), 0.0, math.sin(a)])
        side = np.array([-math.sin(a), 0.0, math.cos(a)])
        parts.append(Part(_beam(hub, hub + d * L, 0.14, 0.1, (0, 1, 0)), "wood", DARK_WOOD))
        s0, s1 = hub + d * L * 0.2 + side * sail_w / 2, hub + d * L + side * sail_w / 2
        parts.append(Part(_beam(s0, s1, sail_w, 0.03, (0, 1, 0)), "fabric", (0.92, 0.9, 0.84)))
        for j in range(5):  # lattice bars across the sail
            p = hub + d * L * (0.2 + 0.8 * j / 4)
            parts.append(Part(_beam(p, p + side * sail_w, 0.04, 0.05, (0, 1, 0)), "wood", DARK_WOOD))
    return parts


def scarecrow(s, c, rng):
    sx, sy, sz = s  # a post and crossbar dressed in a shirt (the layout colour), trousers, a sack head, a hat
    arm_z = sz * 0.68
    head_z = sz - 0.3
    straw = (0.85, 0.72, 0.35)
    wood = _shade(WOOD, 0.8)
    parts = [Part(_box([-0.03, -0.03, 0], [0.03, 0.03, head_z]), "wood", wood),
             Part(_rod([-sx / 2 + 0.02, 0, arm_z], [sx / 2 - 0.02, 0, arm_z], 0.025, 6), "wood", wood),
             Part(_box([-0.2, -0.12, sz * 0.42], [0.2, 0.12, arm_z + 0.06]), "fabric", c)]
    for side in (-1, 1):
        parts += [Part(_rod([side * 0.18, 0, arm_z], [side * (sx / 2 - 0.1), 0, arm_z], 0.07, 8), "fabric", _shade(c, 0.9)),
                  Part(_cone(side * (sx / 2 - 0.1), 0, arm_z - 0.05, arm_z + 0.04, 0.04, 6), "grass", straw),
                  Part(_rod([side * (sx / 2 - 0.1), 0, arm_z], [side * (sx / 2 - 0.02), 0, arm_z - 0.06], 0.025, 6), "grass", straw),
                  Part(_rod([side * 0.09, 0, sz * 0.43], [side * 0.11, 0, sz * 0.2], 0.07, 8), "fabric", (0.3, 0.3, 0.45)),
                  Part(_cone(side * 0.11, 0, sz * 0.1, sz * 0.2, 0.05, 6), "grass", straw)]
    parts += [Part(_blob([0, 0, head_z], [0.15, 0.14, 0.17]), "fabric", (0.8, 0.7, 0.5)),
              Part(_box([-0.06, -0.14, head_z + 0.02], [-0.02, -0.13, head_z + 0.05]), "paint", BLACK),
              Part(_box([0.02, -0.14, head_z + 0.02], [0.06, -0.13, head_z + 0.05]), "paint", BLACK),
              Part(_cyl(0, 0, head_z + 0.1, head_z + 0.12, min(0.25, sy / 2), 16), "grass", straw),
              Part(_frustum(0, 0, head_z + 0.12, sz, 0.14, 0.11, 16), "grass", straw)]
    return parts


def water_well(s, c, rng):
    sx, sy, sz = s  # a round stone wall, two posts, a gabled roof, a windlass with a bucket
    R = min(sx, sy) / 2 - 0.05
    wall_h = rng.uniform(0.7, 0.85)
    parts = [Part(_cyl(0, 0, 0, wall_h, R, 24), "stone", c),
             Part(_cyl(0, 0, wall_h, wall_h + 0.005, R - 0.12, 24), "water", (0.1, 0.15, 0.18))]
    n = 14
    for k in range(n):  # capstones around the top
        a0, a1 = 2 * math.pi * k / n, 2 * math.pi * (k + 1) / n
        p0 = np.array([(R - 0.06) * math.cos(a0), (R - 0.06) * math.sin(a0), wall_h + 0.04])
        p1 = np.array([(R - 0.06) * math.cos(a1), (R - 0.06) * math.sin(a1), wall_h + 0.04])
        parts.append(Part(_beam(p0, p1, 0.14, 0.08), "stone", _shade(c, rng.uniform(0.85, 1.1))))
    roof_z = sz - 0.45
    wood = _shade(WOOD, rng.uniform(0.6, 1.0))
    for x in (-R + 0.06, R - 0.06):
        parts.append(Part(_box([x - 0.05, -0.05, wall_h], [x + 0.05, 0.05, roof_z]), "wood", wood))
    roof = _prism([(-sx / 2 + 0.02, roof_z), (sx / 2 - 0.02, roof_z), (0.0, sz)], -sy / 2 + 0.05, sy / 2 - 0.05)
    parts.append(Part(_swap_xy(roof), "wood", _shade((0.5, 0.25, 0.18), rng.uniform(0.8, 1.2))))
    axle_z = roof_z - 0.25
    parts += [Part(_rod([-R + 0.06, 0, axle_z], [R - 0.06, 0, axle_z], 0.06, 12), "wood", wood),
              Part(_rod([R - 0.06, 0, axle_z], [R + 0.02, 0, axle_z], 0.015, 6), "metal", METAL),
              Part(_rod([R + 0.02, 0, axle_z], [R + 0.02, 0, axle_z - 0.15], 0.015, 6), "metal", METAL)]  # crank
    bucket_z = wall_h + rng.uniform(0.1, 0.35)
    parts += [Part(_cyl(0.1, 0, bucket_z + 0.2, axle_z, 0.006, 4), "fabric", (0.6, 0.5, 0.3)),
              Part(_frustum(0.1, 0, bucket_z, bucket_z + 0.2, 0.09, 0.11, 12), "wood", _shade(WOOD, 0.7))]
    return parts


ASSETS.update({
    "traffic_light": traffic_light, "stop_sign": stop_sign, "mailbox": mailbox, "trash_can": trash_can,
    "bicycle": bicycle, "bus_stop": bus_stop, "fire_hydrant": fire_hydrant, "truck": truck, "bus": bus,
    "flower_bed": flower_bed, "palm_tree": palm_tree, "birch_tree": birch_tree, "cactus": cactus,
    "tree_stump": tree_stump, "log": log, "mushroom": mushroom, "tent": tent, "campfire": campfire,
    "picnic_table": picnic_table, "beach_umbrella": beach_umbrella, "sun_lounger": sun_lounger, "boat": boat,
    "fountain": fountain, "swing": swing, "slide": slide, "statue": statue, "barn": barn, "hay_bale": hay_bale,
    "windmill": windmill, "scarecrow": scarecrow, "water_well": water_well,
})
