"""Parametric assets for the indoor kinds added with the open vocabulary (bathroom, kitchen,
office, home, classroom). Same contract as `assets.py`: a builder takes the box size (x across,
y front (-y) to back (+y), z up from the floor), the layout colour and a Generator, and returns
parts in the box's local frame; importing this module registers the builders in `ASSETS`.
"""

from __future__ import annotations

import math

import numpy as np

from .assets import (ASSETS, BLACK, DARK_WOOD, METAL, WOOD, Part, _beam, _blob, _box, _cyl, _frustum, _lean, _legs,
                     _ring, _rod, _shade, _uniform)

WHITE_CERAMIC = (0.94, 0.94, 0.92)
CHROME = (0.8, 0.81, 0.83)
MIRROR_GLASS = (0.78, 0.84, 0.88)
LAND = ((0.35, 0.55, 0.25), (0.7, 0.6, 0.4), (0.45, 0.6, 0.3))  # a globe's continents


# ---- bathroom --------------------------------------------------------------------------------
def toilet(s, c, rng):
    sx, sy, sz = s
    seat_h = min(0.43, sz * 0.52)
    tank_d = sy * rng.uniform(0.24, 0.3)
    bowl_y = -sy / 2 + sy * 0.36
    parts = [Part(_frustum(0, bowl_y + 0.04, 0, seat_h - 0.1, sx * 0.26, sx * 0.36, 16), "ceramic", c),
             Part(_blob([0, bowl_y, seat_h - 0.08], [sx * 0.46, sy * 0.34, 0.08]), "ceramic", c),
             Part(_blob([0, bowl_y, seat_h - 0.01], [sx * 0.47, sy * 0.35, 0.02]), "plastic", _shade(c, 0.97)),
             Part(_box([-sx / 2 + 0.02, sy / 2 - tank_d, seat_h - 0.05], [sx / 2 - 0.02, sy / 2, sz - 0.03]), "ceramic", c),
             Part(_box([-sx / 2, sy / 2 - tank_d - 0.01, sz - 0.03], [sx / 2, sy / 2, sz]), "ceramic", _shade(c, 0.95)),
             Part(_cyl(0, sy / 2 - tank_d / 2, sz - 0.005, sz, 0.025, 10), "metal", CHROME)]
    if rng.random() < 0.5:  # lid up, against the tank
        lid_top = min(seat_h + sy * 0.5, sz - 0.02)
        parts.append(Part(_box([-sx * 0.4, sy / 2 - tank_d - 0.03, seat_h], [sx * 0.4, sy / 2 - tank_d - 0.01, lid_top]), "plastic",
                          _shade(c, 0.97)))
    else:
        parts.append(Part(_blob([0, bowl_y, seat_h + 0.015], [sx * 0.45, sy * 0.33, 0.015]), "plastic", _shade(c, 0.97)))
    return parts


def bathtub(s, c, rng):
    sx, sy, sz = s
    t = 0.07
    footed = rng.random() < 0.4
    z0 = 0.12 if footed else 0.0
    parts = []
    if footed:  # a claw-foot tub on four feet
        for x in (-sx / 2 + 0.15, sx / 2 - 0.15):
            for y in (-sy / 2 + 0.12, sy / 2 - 0.12):
                parts.append(Part(_blob([x, y, 0.06], [0.05, 0.05, 0.06]), "metal", _shade(METAL, 1.1)))
    parts += [Part(_box([-sx / 2, -sy / 2, z0], [sx / 2, sy / 2, z0 + 0.08]), "ceramic", c),  # bottom
              Part(_box([-sx / 2, -sy / 2, z0], [sx / 2, -sy / 2 + t, sz]), "ceramic", c),
              Part(_box([-sx / 2, sy / 2 - t, z0], [sx / 2, sy / 2, sz]), "ceramic", c),
              Part(_box([-sx / 2, -sy / 2, z0], [-sx / 2 + t, sy / 2, sz]), "ceramic", c),
              Part(_box([sx / 2 - t, -sy / 2, z0], [sx / 2, sy / 2, sz]), "ceramic", c),
              Part(_box([-sx / 2 + t, -sy / 2 + t, z0 + 0.08], [sx / 2 - t, sy / 2 - t, z0 + 0.1]), "ceramic", WHITE_CERAMIC)]
    if rng.random() < 0.35:  # filled
        parts.append(Part(_box([-sx / 2 + t, -sy / 2 + t, z0 + 0.1], [sx / 2 - t, sy / 2 - t, sz * 0.7]), "water", (0.62, 0.8, 0.9)))
    x = -sx / 2 + t / 2 if rng.random() < 0.5 else sx / 2 - t / 2  # taps at one end
    parts += [Part(_cyl(x, 0, sz - 0.01, sz + 0.0, 0.03, 10), "metal", CHROME),
              Part(_rod([x, 0, sz - 0.005], [x + (0.12 if x < 0 else -0.12), 0, sz - 0.005], 0.015), "metal", CHROME)]
    for y in (-0.1, 0.1):
        parts.append(Part(_cyl(x, y, sz - 0.01, sz, 0.02, 8), "metal", CHROME))
    return parts


def shower(s, c, rng):
    sx, sy, sz = s
    tray = 0.08
    side = -1 if rng.random() < 0.5 else 1  # the tiled side wall
    parts = [Part(_box([-sx / 2, -sy / 2, 0], [sx / 2, sy / 2, tray]), "ceramic", WHITE_CERAMIC),
             Part(_cyl(0, 0, tray, tray + 0.004, 0.05, 12), "metal", CHROME),  # drain
             # tiled walls at the back and one side carry the layout colour
             Part(_box([-sx / 2, sy / 2 - 0.04, 0], [sx / 2, sy / 2, sz]), "ceramic", c),
             Part(_box([side * sx / 2 - (0.04 if side > 0 else 0), -sy / 2, 0],
                       [side * sx / 2 + (0.04 if side < 0 else 0), sy / 2, sz]), "ceramic", _shade(c, 0.95))]
    glass = (0.75, 0.86, 0.92)
    other = -side * (sx / 2 - 0.01)
    parts += [Part(_box([-sx / 2, -sy / 2, tray], [sx / 2, -sy / 2 + 0.01, sz - 0.05]), "glass", glass),
              Part(_box([other - 0.005, -sy / 2, tray], [other + 0.005, sy / 2 - 0.04, sz - 0.05]), "glass", glass),
              Part(_box([-sx / 2, -sy / 2, sz - 0.05], [sx / 2, -sy / 2 + 0.03, sz - 0.02]), "metal", CHROME),
              Part(_box([other - 0.015, -sy / 2, 0], [other + 0.015, -sy / 2 + 0.03, sz - 0.02]), "metal", CHROME)]
    head_z = sz - rng.uniform(0.2, 0.35)
    parts += [Part(_rod([0, sy / 2 - 0.04, head_z], [0, sy / 2 - 0.3, head_z], 0.012), "metal", CHROME),
              Part(_cyl(0, sy / 2 - 0.3, head_z - 0.03, head_z, 0.08, 16), "metal", CHROME),
              Part(_box([-0.06, sy / 2 - 0.07, 1.0], [0.06, sy / 2 - 0.04, 1.15]), "metal", CHROME)]  # mixer
    return parts


def sink(s, c, rng):
    sx, sy, sz = s
    top = min(0.86, sz - 0.12)
    parts = []
    if rng.random() < 0.5:  # a vanity cabinet under a counter
        wood = _shade(WOOD, rng.uniform(0.5, 1.3))
        parts += [Part(_box([-sx / 2 + 0.02, -sy / 2 + 0.03, 0.08], [sx / 2 - 0.02, sy / 2, top - 0.04]), "wood", wood),
                  Part(_box([-sx / 2 + 0.04, -sy / 2 + 0.03, 0], [sx / 2 - 0.04, sy / 2, 0.08]), "wood", _shade(wood, 0.5)),
                  Part(_box([-sx / 2, -sy / 2, top - 0.04], [sx / 2, sy / 2, top]), "ceramic", c)]
        for x0, x1 in ((-sx / 2 + 0.03, -0.005), (0.005, sx / 2 - 0.03)):
            parts.append(Part(_box([x0, -sy / 2 + 0.01, 0.1], [x1, -sy / 2 + 0.03, top - 0.07]), "wood", _shade(wood, 1.1)))
            hx = x1 - 0.04 if x0 < 0 else x0 + 0.04
            parts.append(Part(_box([hx - 0.008, -sy / 2 - 0.01, top - 0.25], [hx + 0.008, -sy / 2 + 0.01, top - 0.12]), "metal", CHROME))
    else:  # a pedestal basin
        parts += [Part(_frustum(0, 0.02, 0, top - 0.12, 0.09, 0.07, 14), "ceramic", c),
                  Part(_box([-sx / 2, -sy / 2, top - 0.14], [sx / 2, sy / 2, top]), "ceramic", c)]
    parts.append(Part(_blob([0, -0.03, top + 0.001], [sx * 0.32, sy * 0.3, 0.006]), "ceramic", _shade(c, 0.85)))  # the bowl
    fy = sy / 2 - 0.06
    parts += [Part(_cyl(0, fy, top, top + 0.11, 0.015, 10), "metal", CHROME),
              Part(_rod([0, fy, top + 0.105], [0, fy - 0.12, top + 0.105], 0.012), "metal", CHROME)]
    for x in (-0.08, 0.08):
        parts.append(Part(_cyl(x, fy, top, top + 0.04, 0.018, 8), "metal", CHROME))
    return parts


def mirror(s, c, rng):
    sx, sy, sz = s
    f = min(0.05, min(sx, sz) * 0.08)
    lip = _shade(c, 1.25)  # a bevelled inner edge between the frame and the glass
    if rng.random() < 0.35:  # round
        r = min(sx, sz) / 2
        return [Part(_rod([0, sy / 2, sz / 2], [0, -sy / 2 + 0.006, sz / 2], r, 32), "wood", c),
                Part(_rod([0, -sy / 2 + 0.007, sz / 2], [0, -sy / 2 + 0.002, sz / 2], r - f * 0.6, 32), "wood", lip),
                Part(_rod([0, -sy / 2 + 0.008, sz / 2], [0, -sy / 2, sz / 2], r - f, 32), "glass", MIRROR_GLASS)]
    return [Part(_box([-sx / 2, -sy / 2 + 0.006, 0], [sx / 2, sy / 2, sz]), "wood", c),
            Part(_box([-sx / 2 + f * 0.6, -sy / 2 + 0.002, f * 0.6], [sx / 2 - f * 0.6, -sy / 2 + 0.007, sz - f * 0.6]), "wood", lip),
            Part(_box([-sx / 2 + f, -sy / 2, f], [sx / 2 - f, -sy / 2 + 0.008, sz - f]), "glass", MIRROR_GLASS)]


# ---- kitchen ---------------------------------------------------------------------------------
def stove(s, c, rng):
    sx, sy, sz = s
    hob = sz - 0.1  # the cooktop; a backsplash with the knobs rises behind it
    parts = [Part(_box([-sx / 2 + 0.02, -sy / 2 + 0.04, 0], [sx / 2 - 0.02, sy / 2, 0.08]), "metal", BLACK),
             Part(_box([-sx / 2, -sy / 2 + 0.02, 0.08], [sx / 2, sy / 2, hob]), "metal", c),
             Part(_box([-sx / 2, -sy / 2 + 0.02, hob], [sx / 2, sy / 2, hob + 0.015]), "glass", BLACK),
             Part(_box([-sx / 2, sy / 2 - 0.06, hob], [sx / 2, sy / 2, sz]), "metal", _shade(c, 0.9)),
             Part(_box([-sx / 2 + 0.06, -sy / 2 + 0.005, 0.18], [sx / 2 - 0.06, -sy / 2 + 0.02, hob - 0.2]), "glass", (0.12, 0.12, 0.14)),
             Part(_rod([-sx / 2 + 0.08, -sy / 2 - 0.02, hob - 0.12], [sx / 2 - 0.08, -sy / 2 - 0.02, hob - 0.12], 0.012), "metal", CHROME)]
    for x in (-sx / 2 + 0.08, sx / 2 - 0.08):  # the handle's brackets
        parts.append(Part(_box([x - 0.01, -sy / 2 - 0.02, hob - 0.13], [x + 0.01, -sy / 2 + 0.02, hob - 0.11]), "metal", CHROME))
    for x in (-sx * 0.22, sx * 0.22):
        for y in (-sy * 0.2, sy * 0.15):
            r = rng.uniform(0.07, 0.1)
            parts.append(Part(_cyl(x, y, hob + 0.015, hob + 0.025, r, 16), "metal", (0.2, 0.2, 0.22)))
    for k in range(4):
        x = -sx / 2 + (k + 0.5) * sx / 4
        parts.append(Part(_rod([x, sy / 2 - 0.06, sz - 0.05], [x, sy / 2 - 0.085, sz - 0.05], 0.018), "plastic", BLACK))
    return parts


def microwave(s, c, rng):
    sx, sy, sz = s
    door_w = sx * 0.7
    parts = [Part(_box([-sx / 2, -sy / 2 + 0.01, 0.01], [sx / 2, sy / 2, sz]), "metal", c),
             Part(_box([-sx / 2 + 0.02, -sy / 2, 0.03], [-sx / 2 + door_w, -sy / 2 + 0.01, sz - 0.03]), "plastic", _shade(c, 0.8)),
             Part(_box([-sx / 2 + 0.05, -sy / 2 - 0.002, 0.06], [-sx / 2 + door_w - 0.05, -sy / 2 + 0.005, sz - 0.06]), "glass",
                  (0.1, 0.1, 0.12)),
             Part(_box([-sx / 2 + door_w + 0.01, -sy / 2 + 0.005, 0.03], [sx / 2 - 0.02, -sy / 2 + 0.01, sz - 0.03]), "plastic", BLACK),
             Part(_box([-sx / 2 + door_w + 0.02, -sy / 2 - 0.002, sz - 0.09], [sx / 2 - 0.03, -sy / 2 + 0.005, sz - 0.05]), "screen",
                  (0.3, 0.8, 0.45))]
    for k in range(6):  # the keypad
        x = -sx / 2 + door_w + 0.025 + (k % 2) * (sx - door_w - 0.06) / 2
        z = sz - 0.13 - (k // 2) * 0.04
        key_w = (sx - door_w - 0.07) / 2
        parts.append(Part(_box([x, -sy / 2 - 0.004, z - 0.012], [x + key_w, -sy / 2 + 0.005, z + 0.012]), "plastic", (0.7, 0.7, 0.7)))
    for x in (-sx / 2 + 0.04, sx / 2 - 0.04):
        for y in (-sy / 2 + 0.05, sy / 2 - 0.04):
            parts.append(Part(_cyl(x, y, 0, 0.01, 0.015, 8), "plastic", BLACK))
    return parts


def kitchen_island(s, c, rng):
    sx, sy, sz = s
    over = sy * rng.uniform(0.2, 0.28)  # the worktop overhangs the back, for stools
    top = (0.85, 0.85, 0.82) if rng.random() < 0.5 else (0.18, 0.18, 0.2)
    parts = [Part(_box([-sx / 2 + 0.04, -sy / 2 + 0.05, 0], [sx / 2 - 0.04, sy / 2 - over, 0.1]), "wood", BLACK),
             Part(_box([-sx / 2 + 0.02, -sy / 2 + 0.02, 0.1], [sx / 2 - 0.02, sy / 2 - over, sz - 0.04]), "wood", c),
             Part(_box([-sx / 2, -sy / 2, sz - 0.04], [sx / 2, sy / 2, sz]), "stone", top)]
    n = max(2, int(sx / 0.55))
    w = (sx - 0.04) / n
    for k in range(n):
        x0 = -sx / 2 + 0.02 + k * w
        if k % 2 == 0 or rng.random() < 0.5:  # doors; the others are drawer stacks
            parts.append(Part(_box([x0 + 0.01, -sy / 2 + 0.01, 0.12], [x0 + w - 0.01, -sy / 2 + 0.02, sz - 0.06]), "wood", _shade(c, 1.08)))
        else:
            for j in range(3):
                z0 = 0.12 + j * (sz - 0.18) / 3
                parts.append(Part(_box([x0 + 0.01, -sy / 2 + 0.01, z0 + 0.005], [x0 + w - 0.01, -sy / 2 + 0.02, z0 + (sz - 0.18) / 3 - 0.005]),
                                  "wood", _shade(c, 1.08)))
        parts.append(Part(_box([x0 + w / 2 - 0.07, -sy / 2 - 0.01, sz - 0.14], [x0 + w / 2 + 0.07, -sy / 2 + 0.01, sz - 0.12]), "metal", METAL))
    if rng.random() < 0.5 and sx > 1.2:  # a prep sink set into the worktop
        x = sx * rng.uniform(-0.25, 0.25)
        parts.append(Part(_box([x - 0.2, -sy / 2 + 0.12, sz - 0.005], [x + 0.2, min(0.2, sy / 2 - over - 0.05), sz + 0.002]), "metal", METAL))
    return parts


# ---- office ----------------------------------------------------------------------------------
def office_chair(s, c, rng):
    sx, sy, sz = s
    seat_h = rng.uniform(0.45, 0.52)
    r = min(sx, sy) / 2 - 0.04
    a0 = rng.uniform(0, 2 * math.pi)
    parts = []
    for k in range(5):  # the five-star base on casters
        a = a0 + 2 * math.pi * k / 5
        end = [r * math.cos(a), r * math.sin(a)]
        parts.append(Part(_beam([0, 0, 0.07], [end[0], end[1], 0.06], 0.045, 0.03), "metal", BLACK))
        parts.append(Part(_blob([end[0], end[1], 0.03], [0.03, 0.03, 0.03]), "plastic", BLACK))
    parts += [Part(_cyl(0, 0, 0.05, 0.09, 0.05, 12), "plastic", BLACK),
              Part(_cyl(0, 0, 0.09, seat_h - 0.06, 0.025, 10), "metal", CHROME),
              Part(_box([-0.08, -0.08, seat_h - 0.07], [0.08, 0.08, seat_h - 0.05]), "metal", BLACK),
              Part(_blob([0, -0.02, seat_h - 0.02], [sx / 2 - 0.05, sy / 2 - 0.08, 0.05]), "fabric", c)]
    back_y = sy / 2 - 0.07
    parts += [Part(_beam([0, 0.05, seat_h - 0.05], [0, back_y, seat_h + 0.12], 0.05, 0.02, (0, -1, 1)), "metal", BLACK),
              Part(_blob([0, back_y, seat_h + 0.12 + (sz - seat_h - 0.12) / 2], [sx / 2 - 0.08, 0.05, (sz - seat_h - 0.12) / 2]),
                   "fabric", c)]
    if rng.random() < 0.6:  # armrests
        for x in (-sx / 2 + 0.05, sx / 2 - 0.05):
            parts += [Part(_box([x - 0.012, -0.02, seat_h - 0.05], [x + 0.012, 0.02, seat_h + 0.2]), "plastic", BLACK),
                      Part(_box([x - 0.035, -0.14, seat_h + 0.2], [x + 0.035, 0.1, seat_h + 0.23]), "plastic", BLACK)]
    return parts


def filing_cabinet(s, c, rng):
    sx, sy, sz = s
    n = int(np.clip(round(sz / 0.33), 2, 4))
    parts = [Part(_box([-sx / 2, -sy / 2 + 0.01, 0.03], [sx / 2, sy / 2, sz]), "metal", c),
             Part(_box([-sx / 2 + 0.02, -sy / 2 + 0.03, 0], [sx / 2 - 0.02, sy / 2, 0.03]), "metal", _shade(c, 0.5))]
    h = (sz - 0.05) / n
    for k in range(n):
        z0 = 0.04 + k * h
        parts += [Part(_box([-sx / 2 + 0.015, -sy / 2, z0 + 0.008], [sx / 2 - 0.015, -sy / 2 + 0.012, z0 + h - 0.008]), "metal",
                       _shade(c, 1.07)),
                  Part(_box([-0.07, -sy / 2 - 0.02, z0 + h * 0.62], [0.07, -sy / 2, z0 + h * 0.62 + 0.025]), "metal", CHROME),
                  Part(_box([-0.04, -sy / 2 - 0.004, z0 + h * 0.76], [0.04, -sy / 2, z0 + h * 0.76 + 0.03]), "paper", (0.95, 0.95, 0.9))]
    return parts


def computer(s, c, rng):
    sx, sy, sz = s
    panel_y = sy / 2 - rng.uniform(0.07, 0.1)
    bottom = rng.uniform(0.1, 0.14)
    on = rng.random() < 0.6
    screen = tuple(rng.uniform([0.15, 0.3, 0.5], [0.3, 0.5, 0.8])) if on else BLACK
    parts = [Part(_box([-sx / 2, panel_y - 0.015, bottom], [sx / 2, panel_y + 0.015, sz]), "plastic", c),
             Part(_box([-sx / 2 + 0.015, panel_y - 0.018, bottom + 0.015], [sx / 2 - 0.015, panel_y - 0.015, sz - 0.015]),
                  "screen", screen),
             Part(_box([-0.025, panel_y + 0.015, 0.01], [0.025, panel_y + 0.04, bottom + 0.12]), "plastic", _shade(c, 0.8)),
             Part(_box([-0.11, panel_y - 0.06, 0], [0.11, min(panel_y + 0.07, sy / 2), 0.012]), "plastic", _shade(c, 0.8))]
    kb_w = min(sx * 0.75, 0.44)
    kb_y0 = -sy / 2
    parts.append(Part(_box([-kb_w / 2, kb_y0, 0], [kb_w / 2, kb_y0 + 0.13, 0.02]), "plastic", _shade(c, 0.9)))
    for row in range(4):  # key rows
        y = kb_y0 + 0.02 + row * 0.027
        parts.append(Part(_box([-kb_w / 2 + 0.015, y, 0.02], [kb_w / 2 - 0.015, y + 0.02, 0.026]), "plastic", (0.22, 0.22, 0.24)))
    mouse_x = kb_w / 2 + 0.05
    if mouse_x + 0.03 < sx / 2:
        parts.append(Part(_blob([mouse_x, kb_y0 + 0.07, 0.015], [0.03, 0.05, 0.015]), "plastic", _shade(c, 0.9)))
    return parts


def whiteboard(s, c, rng):
    sx, sy, sz = s
    f = 0.025
    parts = [Part(_box([-sx / 2, -sy / 2 + 0.01, 0], [sx / 2, sy / 2, sz]), "metal", c),
             Part(_box([-sx / 2 + f, -sy / 2 + 0.005, f], [sx / 2 - f, -sy / 2 + 0.01, sz - f]), "paint", (0.96, 0.97, 0.97)),
             Part(_box([-sx * 0.35, -sy / 2 - 0.03, 0], [sx * 0.35, -sy / 2 + 0.01, 0.02]), "metal", c)]  # marker tray
    for _ in range(int(rng.integers(2, 6))):  # writing: strokes in marker colours
        col = [(0.1, 0.1, 0.12), (0.15, 0.3, 0.7), (0.75, 0.15, 0.12), (0.1, 0.5, 0.2)][int(rng.integers(4))]
        x0 = _uniform(rng, -sx / 2 + 0.1, sx / 2 - 0.4)
        z = _uniform(rng, 0.15, sz - 0.12)
        parts.append(Part(_box([x0, -sy / 2 + 0.003, z], [x0 + rng.uniform(0.15, 0.35), -sy / 2 + 0.005, z + 0.012]), "paint", col))
    for k in range(2):
        x = -0.1 + 0.12 * k
        parts.append(Part(_rod([x, -sy / 2 - 0.01, 0.03], [x + 0.1, -sy / 2 - 0.01, 0.03], 0.008), "plastic",
                          [(0.1, 0.1, 0.12), (0.15, 0.3, 0.7)][k]))
    return parts


def printer(s, c, rng):
    sx, sy, sz = s
    base_h = sz * rng.uniform(0.38, 0.45)
    tray_z = base_h + (sz - base_h) * 0.45
    parts = [Part(_box([-sx / 2 + 0.02, -sy / 2 + 0.02, 0.04], [sx / 2 - 0.02, sy / 2, base_h]), "plastic", _shade(c, 0.8)),
             Part(_box([-sx / 2, -sy / 2 + 0.01, base_h], [sx / 2, sy / 2, sz - 0.1]), "plastic", c),
             Part(_box([-sx / 2, -sy / 2 + 0.06, sz - 0.1], [sx / 2, sy / 2, sz - 0.02]), "plastic", _shade(c, 0.9)),
             Part(_box([-sx / 2 + 0.03, -sy / 2 + 0.08, sz - 0.02], [sx / 2 - 0.03, sy / 2 - 0.02, sz]), "plastic", _shade(c, 0.75)),
             # control panel with its screen, at the front of the top
             Part(_box([sx * 0.05, -sy / 2, sz - 0.14], [sx / 2 - 0.03, -sy / 2 + 0.08, sz - 0.1]), "plastic", (0.25, 0.25, 0.27)),
             Part(_box([sx * 0.1, -sy / 2 - 0.002, sz - 0.135], [sx * 0.3, -sy / 2 + 0.01, sz - 0.105]), "screen", (0.3, 0.55, 0.85)),
             # the output tray with a sheet on it
             Part(_box([-sx / 2 + 0.05, -sy / 2 + 0.05, tray_z], [sx * 0.1, sy / 2 - 0.1, tray_z + 0.015]), "plastic", _shade(c, 0.7)),
             Part(_box([-sx / 2 + 0.08, -sy / 2 + 0.08, tray_z + 0.015], [sx * 0.05, sy / 2 - 0.15, tray_z + 0.018]), "paper",
                  (0.97, 0.97, 0.95))]
    for k in range(2):  # paper drawers
        z0 = 0.06 + k * (base_h - 0.08) / 2
        parts += [Part(_box([-sx / 2 + 0.03, -sy / 2 + 0.005, z0], [sx / 2 - 0.03, -sy / 2 + 0.02, z0 + (base_h - 0.08) / 2 - 0.01]), "plastic",
                       _shade(c, 0.9)),
                  Part(_box([-0.08, -sy / 2 - 0.01, z0 + 0.1], [0.08, -sy / 2 + 0.005, z0 + 0.12]), "plastic", (0.3, 0.3, 0.32))]
    for x in (-sx / 2 + 0.06, sx / 2 - 0.06):
        for y in (-sy / 2 + 0.06, sy / 2 - 0.06):
            parts.append(Part(_blob([x, y, 0.02], [0.02] * 3), "plastic", BLACK))
    return parts


# ---- home ------------------------------------------------------------------------------------
def dresser(s, c, rng):
    sx, sy, sz = s
    leg_h = rng.uniform(0.06, 0.15)
    rows = int(rng.integers(3, 5))
    parts = [Part(m, "wood", _shade(c, 0.6)) for m in _legs(sx - 0.04, sy - 0.04, leg_h, 0.022, 0.04, rng)]
    parts += [Part(_box([-sx / 2 + 0.01, -sy / 2 + 0.02, leg_h], [sx / 2 - 0.01, sy / 2 - 0.01, sz - 0.03]), "wood", c),
              Part(_box([-sx / 2, -sy / 2, sz - 0.03], [sx / 2, sy / 2, sz]), "wood", _shade(c, 0.9))]
    h = (sz - 0.04 - leg_h) / rows
    knob = _shade(METAL, 1.1) if rng.random() < 0.5 else (0.75, 0.6, 0.3)
    for k in range(rows):
        z0 = leg_h + 0.005 + k * h
        split = k == rows - 1 and sx > 0.9  # two small drawers on top
        spans = [(-sx / 2 + 0.03, -0.005), (0.005, sx / 2 - 0.03)] if split else [(-sx / 2 + 0.03, sx / 2 - 0.03)]
        for x0, x1 in spans:
            parts.append(Part(_box([x0, -sy / 2 + 0.005, z0 + 0.008], [x1, -sy / 2 + 0.02, z0 + h - 0.008]), "wood", _shade(c, 1.08)))
            xs = [(x0 + x1) / 2] if split or x1 - x0 < 0.6 else [x0 + (x1 - x0) * 0.25, x0 + (x1 - x0) * 0.75]
            for x in xs:
                parts.append(Part(_blob([x, -sy / 2 - 0.005, z0 + h / 2], [0.018, 0.018, 0.018]), "metal", knob))
    return parts


def piano(s, c, rng):
    sx, sy, sz = s  # an upright: a tall case at the back, the keyboard sticking out in front
    key_z = rng.uniform(0.68, 0.74)
    case_front = -sy / 2 + sy * 0.42
    finish = "paint" if c[0] + c[1] + c[2] < 0.5 or rng.random() < 0.5 else "wood"
    parts = [Part(_box([-sx / 2, case_front, 0], [sx / 2, sy / 2, sz]), finish, c),
             Part(_box([-sx / 2, case_front - 0.02, sz - 0.04], [sx / 2, sy / 2, sz]), finish, _shade(c, 1.15)),
             Part(_box([-sx / 2, -sy / 2 + 0.04, key_z - 0.08], [sx / 2, case_front, key_z]), finish, c)]  # key bed
    for x in (-sx / 2, sx / 2 - 0.05):  # cheek blocks and toe legs
        parts += [Part(_box([x, -sy / 2 + 0.02, key_z - 0.08], [x + 0.05, case_front, key_z + 0.06]), finish, c),
                  Part(_box([x + 0.005, -sy / 2, 0], [x + 0.045, -sy / 2 + 0.05, key_z - 0.08]), finish, _shade(c, 0.9))]
    kx0, kx1 = -sx / 2 + 0.06, sx / 2 - 0.06
    parts.append(Part(_box([kx0, -sy / 2 + 0.05, key_z], [kx1, case_front, key_z + 0.02]), "plastic", (0.95, 0.94, 0.9)))
    white = 0.0235
    n_white = int((kx1 - kx0) / white)
    for k in range(n_white - 1):  # black keys: after white keys 0, 1, 3, 4, 5 of each octave
        if k % 7 in (0, 1, 3, 4, 5):
            x = kx0 + (k + 1) * white
            parts.append(Part(_box([x - 0.006, -sy / 2 + 0.1, key_z + 0.02], [x + 0.006, case_front, key_z + 0.035]), "plastic", BLACK))
    parts.append(Part(_box([kx0, case_front, key_z + 0.02], [kx1, case_front + 0.03, key_z + 0.14]), finish, _shade(c, 0.9)))  # fallboard
    for k in (-1, 0, 1):
        parts.append(Part(_box([k * 0.07 - 0.015, -sy / 2 + 0.06, 0.04], [k * 0.07 + 0.015, case_front, 0.06]), "metal", (0.8, 0.68, 0.35)))
    return parts


def fireplace(s, c, rng):
    sx, sy, sz = s
    mantel = rng.uniform(0.05, 0.08)
    open_w, open_h = sx * rng.uniform(0.5, 0.6), sz * rng.uniform(0.55, 0.65)
    side_w = (sx - open_w) / 2 - 0.05
    body_front = -sy / 2 + 0.08
    material = "stone" if rng.random() < 0.6 else "paint"
    parts = [Part(_box([-sx / 2 + 0.05, body_front, 0], [-open_w / 2, sy / 2, sz - mantel]), material, c),
             Part(_box([open_w / 2, body_front, 0], [sx / 2 - 0.05, sy / 2, sz - mantel]), material, c),
             Part(_box([-open_w / 2, body_front, open_h], [open_w / 2, sy / 2, sz - mantel]), material, c),
             Part(_box([-sx / 2, body_front - 0.06, sz - mantel], [sx / 2, sy / 2, sz]), "wood" if material == "paint" else "stone",
                  _shade(c, 0.85)),
             Part(_box([-open_w / 2, sy / 2 - 0.05, 0], [open_w / 2, sy / 2, open_h]), "brick", (0.12, 0.1, 0.09)),  # firebox back
             Part(_box([-sx / 2 + 0.02, -sy / 2, 0], [sx / 2 - 0.02, body_front + 0.02, 0.04]), "stone", _shade(c, 0.7))]  # hearth
    if side_w > 0.1:  # pilasters on the sides
        for x in (-sx / 2 + 0.05 + side_w / 2, sx / 2 - 0.05 - side_w / 2):
            parts.append(Part(_box([x - side_w * 0.3, body_front - 0.02, 0.04], [x + side_w * 0.3, body_front, sz - mantel]),
                              material, _shade(c, 1.08)))
    fire_y = (body_front + sy / 2) / 2
    for k in range(3):  # logs on the grate
        a = rng.uniform(-0.3, 0.3)
        half = open_w * 0.3
        parts.append(Part(_rod([-half * math.cos(a), fire_y + half * math.sin(a) * 0.3, 0.08 + 0.05 * (k == 2)],
                               [half * math.cos(a), fire_y - half * math.sin(a) * 0.3, 0.08 + 0.05 * (k == 2)], 0.045), "bark", DARK_WOOD))
    if rng.random() < 0.6:  # lit
        for k in range(int(rng.integers(2, 4))):
            x = rng.uniform(-open_w * 0.2, open_w * 0.2)
            h = open_h * rng.uniform(0.3, 0.5)
            parts.append(Part(_blob([x, fire_y, 0.12 + h / 2], [0.06, 0.05, h / 2]), "light", (1.0, rng.uniform(0.45, 0.7), 0.15)))
    return parts


def ceiling_lamp(s, c, rng):
    sx, sy, sz = s  # z = 0 is the bottom; the top of the box touches the ceiling
    r = min(sx, sy) / 2
    parts = [Part(_cyl(0, 0, sz - 0.03, sz, 0.07, 14), "metal", _shade(c, 0.8))]
    if rng.random() < 0.6:  # a pendant: cord, shade, bulb
        shade_h = min(sz * 0.45, r * rng.uniform(0.6, 1.0))
        parts += [Part(_cyl(0, 0, shade_h, sz - 0.03, 0.006, 6), "plastic", BLACK),
                  Part(_frustum(0, 0, 0.0, shade_h, r * 0.95, r * rng.uniform(0.2, 0.45), 20), "metal", c),
                  Part(_blob([0, 0, max(shade_h * 0.3, 0.07)], [0.06, 0.06, 0.07]), "light", (1.0, 0.95, 0.8))]
    else:  # a chandelier: a stem, a ring of arms with candle bulbs
        hub_z = max(sz * 0.3, 0.1)
        parts += [Part(_cyl(0, 0, hub_z, sz - 0.03, 0.012, 8), "metal", c),
                  Part(_blob([0, 0, hub_z], [0.06, 0.06, 0.09]), "metal", c)]
        n = int(rng.integers(5, 9))
        for k in range(n):
            a = 2 * math.pi * k / n
            end = np.array([(r - 0.05) * math.cos(a), (r - 0.05) * math.sin(a), hub_z + 0.05])
            parts += [Part(_rod([0, 0, hub_z], end, 0.01, 6), "metal", c),
                      Part(_cyl(end[0], end[1], end[2], end[2] + 0.08, 0.014, 8), "paint", (0.96, 0.95, 0.9)),
                      Part(_blob([end[0], end[1], end[2] + 0.11], [0.018, 0.018, 0.03]), "light", (1.0, 0.9, 0.65))]
    return parts


def curtain(s, c, rng):
    sx, sy, sz = s  # a rail at the top, two panels hanging in folds, drawn open in the middle
    parts = [Part(_rod([-sx / 2 + 0.02, 0, sz - 0.02], [sx / 2 - 0.02, 0, sz - 0.02], 0.015), "metal", _shade(METAL, 0.7))]
    for x in (-sx / 2 + 0.025, sx / 2 - 0.025):
        parts.append(Part(_blob([x, 0, sz - 0.02], [0.025] * 3), "metal", _shade(METAL, 0.7)))
    panel_w = sx / 2 * (1.0 if rng.random() < 0.25 else rng.uniform(0.45, 0.75))  # drawn shut, or open
    fold_r = min(sy / 2 - 0.005, 0.045)
    for side in (-1, 1):
        n = max(3, int(panel_w / (1.3 * fold_r)))
        for k in range(n):
            x = side * (sx / 2 - fold_r - k * (panel_w - 2 * fold_r) / max(n - 1, 1))
            y = (fold_r * 0.4) * (1 if k % 2 else -1)
            parts.append(Part(_cyl(x, y, 0.0, sz - 0.05, fold_r, 8), "fabric", c if k % 2 else _shade(c, 0.85)))
    return parts


def clock(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sz) / 2
    cz = sz / 2
    parts = [Part(_rod([0, sy / 2, cz], [0, -sy / 2 + 0.004, cz], r, 32), "plastic", c),
             Part(_rod([0, -sy / 2 + 0.006, cz], [0, -sy / 2 + 0.002, cz], r * 0.86, 32), "paper", (0.97, 0.96, 0.92))]
    for k in range(12):  # hour marks
        a = 2 * math.pi * k / 12
        p = np.array([math.sin(a), 0, math.cos(a)])
        parts.append(Part(_beam([0, -sy / 2, cz] + p * r * 0.72, [0, -sy / 2, cz] + p * r * (0.82 if k % 3 else 0.84), 0.008, 0.003,
                                (0, 1, 0)), "paint", BLACK))
    hour, minute = rng.uniform(0, 12), rng.uniform(0, 60)  # the time on the face
    for turns, length, width in ((hour / 12, 0.45, 0.014), (minute / 60, 0.68, 0.008)):
        a = 2 * math.pi * turns
        tip = np.array([math.sin(a) * r * length, -sy / 2 - 0.001, cz + math.cos(a) * r * length])
        parts.append(Part(_beam([0, -sy / 2 - 0.001, cz], tip, width, 0.003, (0, 1, 0)), "paint", BLACK))
    parts.append(Part(_blob([0, -sy / 2 - 0.002, cz], [0.01, 0.004, 0.01]), "metal", BLACK))
    return parts


def ottoman(s, c, rng):
    sx, sy, sz = s
    leg_h = rng.uniform(0.04, 0.1)
    round_ = rng.random() < 0.4
    parts = [Part(m, "wood", DARK_WOOD) for m in _legs(sx * (0.72 if round_ else 1.0), sy * (0.72 if round_ else 1.0), leg_h, 0.02, 0.05, rng)]
    if round_:
        r = min(sx, sy) / 2
        parts += [Part(_cyl(0, 0, leg_h, sz - 0.04, r, 24), "fabric", c),
                  Part(_frustum(0, 0, sz - 0.04, sz, r, r * 0.92, 24), "fabric", _shade(c, 1.05))]
        buttons = [(r * 0.5 * math.cos(a), r * 0.5 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 6)[:-1]] + [(0.0, 0.0)]
    else:
        parts += [Part(_box([-sx / 2, -sy / 2, leg_h], [sx / 2, sy / 2, sz - 0.05]), "fabric", c),
                  Part(_blob([0, 0, sz - 0.05], [sx / 2 - 0.01, sy / 2 - 0.01, 0.05]), "fabric", _shade(c, 1.05))]
        buttons = [(x, y) for x in (-sx / 4, 0.0, sx / 4) for y in (-sy / 4, sy / 4)]
    for x, y in buttons:  # tufting
        parts.append(Part(_blob([x, y, sz - 0.006], [0.012, 0.012, 0.006]), "fabric", _shade(c, 0.7)))
    return parts


def coat_rack(s, c, rng):
    sx, sy, sz = s
    r = min(sx, sy) / 2
    parts = [Part(_cyl(0, 0, 0.05, sz - 0.05, 0.022, 10), "wood", c),
             Part(_blob([0, 0, sz - 0.04], [0.035, 0.035, 0.04]), "wood", c)]
    a0 = rng.uniform(0, 2 * math.pi)
    for k in range(3):  # tripod feet
        a = a0 + 2 * math.pi * k / 3
        parts.append(Part(_beam([0, 0, 0.25], [(r - 0.03) * math.cos(a), (r - 0.03) * math.sin(a), 0.015], 0.03, 0.03), "wood", c))
    n = int(rng.integers(4, 7))
    for k in range(n):  # hooks pointing up and out
        a = a0 + 2 * math.pi * (k + 0.5) / n
        z = sz - 0.14 - 0.08 * (k % 2)
        parts.append(Part(_rod([0, 0, z - 0.05], [0.14 * math.cos(a), 0.14 * math.sin(a), z + 0.02], 0.01, 6), "metal", _shade(c, 0.6)))
    if rng.random() < 0.6:  # a coat on one hook
        a = a0 + 2 * math.pi * 0.5 / n
        cx, cy = 0.12 * math.cos(a), 0.12 * math.sin(a)
        lim = r - 0.13
        cx, cy = float(np.clip(cx, -lim, lim)), float(np.clip(cy, -lim, lim))
        coat = tuple(rng.uniform(0.1, 0.6, 3))
        parts.append(Part(_blob([cx, cy, sz * 0.62], [0.12, 0.1, sz * 0.22]), "fabric", coat))
    if rng.random() < 0.4:  # a hat on top
        parts += [Part(_cyl(0, 0, sz - 0.04, sz - 0.03, 0.13, 16), "fabric", (0.2, 0.15, 0.1)),
                  Part(_cyl(0, 0, sz - 0.03, sz, 0.08, 16), "fabric", (0.2, 0.15, 0.1))]
    return parts


def guitar(s, c, rng):
    sx, sy, sz = s  # an acoustic guitar on a low stand, leaning back a little
    w = sx * 0.95 / 2
    t = 0.05  # half the body's depth
    y0 = -sy / 2 + t + 0.03
    room = (sy / 2 - 0.04 - y0) / (sz - 0.04)  # how far back the head may lean within the box
    lean = min(rng.uniform(8, 14), math.degrees(math.asin(float(np.clip(room, 0.0, 0.5)))))
    h = (sz - 0.04) / math.cos(math.radians(lean))
    lower, upper = h * 0.22, h * 0.44
    geoms = {"body": [_blob([0, y0, lower + 0.04], [w, t, h * 0.19]), _blob([0, y0, upper + 0.04], [w * 0.75, t, h * 0.14])],
             "hole": [_rod([0, y0 - t * 0.6, upper - h * 0.05 + 0.04], [0, y0 - t - 0.004, upper - h * 0.05 + 0.04], w * 0.28, 16)],
             "neck": [_box([-0.024, y0 - 0.02, upper + h * 0.12], [0.024, y0 + 0.015, h * 0.88 + 0.04])],
             "head": [_box([-0.04, y0 - 0.01, h * 0.88 + 0.04], [0.04, y0 + 0.015, h + 0.03])],
             "bridge": [_box([-w * 0.35, y0 - t - 0.006, lower - 0.02], [w * 0.35, y0 - t * 0.5, lower + 0.0])]}
    every = [m for ms in geoms.values() for m in ms]
    _lean(every, -lean, (1, 0, 0), (0, y0, 0.04))  # head towards +y (the back)
    lift = 0.045 - min(float(g.vertices[:, 2].min()) for g in every)  # sit in the cradle, not in the floor
    for g in every:
        g.vertices[:, 2] += lift
    parts = [Part(g, "wood", c) for g in geoms["body"]]
    parts += [Part(geoms["hole"][0], "paint", (0.06, 0.05, 0.04)), Part(geoms["neck"][0], "wood", DARK_WOOD),
              Part(geoms["head"][0], "wood", DARK_WOOD), Part(geoms["bridge"][0], "wood", DARK_WOOD)]
    # the stand: a cradle at the bottom and a back rest, in black metal
    parts += [Part(_box([-w * 0.9, y0 - t - 0.03, 0.0], [w * 0.9, y0 + t, 0.04]), "metal", BLACK),
              Part(_beam([0, y0 + t, 0.02], [0, sy / 2 - 0.02, 0.02], 0.03, 0.02), "metal", BLACK),
              Part(_beam([0, sy / 2 - 0.02, 0.02], [0, sy / 2 - 0.06, h * 0.55], 0.02, 0.02, (0, 1, 0)), "metal", BLACK)]
    return parts


# ---- classroom -------------------------------------------------------------------------------
def blackboard(s, c, rng):
    sx, sy, sz = s
    f = 0.04
    frame = _shade(WOOD, rng.uniform(0.6, 1.2))
    parts = [Part(_box([-sx / 2, -sy / 2 + 0.01, 0], [sx / 2, sy / 2, sz]), "wood", frame),
             Part(_box([-sx / 2 + f, -sy / 2 + 0.004, f], [sx / 2 - f, -sy / 2 + 0.01, sz - f]), "paint", c),
             Part(_box([-sx / 2 + f, -sy / 2 - 0.03, 0], [sx / 2 - f, -sy / 2 + 0.01, 0.02]), "wood", frame)]  # chalk tray
    chalk = (0.92, 0.92, 0.9)
    for _ in range(int(rng.integers(3, 8))):  # lines of chalk writing
        x0 = _uniform(rng, -sx / 2 + 0.15, sx / 2 - 0.5)
        z = _uniform(rng, 0.2, sz - 0.15)
        parts.append(Part(_box([x0, -sy / 2 + 0.002, z], [x0 + rng.uniform(0.2, 0.45), -sy / 2 + 0.004, z + 0.01]), "paint", chalk))
    x = rng.uniform(-sx / 3, sx / 3)
    parts += [Part(_box([x, -sy / 2 - 0.03, 0.02], [x + 0.12, -sy / 2 - 0.005, 0.045]), "fabric", (0.3, 0.25, 0.2)),  # eraser
              Part(_rod([x + 0.2, -sy / 2 - 0.02, 0.028], [x + 0.27, -sy / 2 - 0.02, 0.028], 0.006), "paint", chalk)]
    return parts


def globe(s, c, rng):
    sx, sy, sz = s  # a floor globe: three legs, a meridian ring, a tilted sphere
    r = min(min(sx, sy) / 2 - 0.04, (sz - 0.35) / 2 - 0.03)
    cz = sz - r - 0.05
    wood = _shade(WOOD, rng.uniform(0.5, 1.1))
    parts = [Part(_cyl(0, 0, 0.0, cz - r - 0.02, 0.025, 10), "wood", wood),
             Part(_blob([0, 0, cz], [r, r, r], subdivisions=2), "paint", c)]
    a0 = rng.uniform(0, 2 * math.pi)
    foot = min(sx, sy) / 2 - 0.03
    for k in range(3):
        a = a0 + 2 * math.pi * k / 3
        parts.append(Part(_beam([0, 0, 0.2], [foot * math.cos(a), foot * math.sin(a), 0.015], 0.03, 0.025), "wood", wood))
    tilt = math.radians(23.4)  # the land masses sit on the tilted sphere
    for _ in range(int(rng.integers(7, 12))):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        rr = r * rng.uniform(0.18, 0.32)
        centre = np.array([0, 0, cz]) + d * (r - rr * 0.55)
        parts.append(Part(_blob(centre, [rr, rr, rr * 0.8]), "paint", LAND[int(rng.integers(len(LAND)))]))
    ring = _ring([0, 0, 0], r + 0.025, 0.008, "y", 24)
    m = np.array([[math.cos(tilt), 0, math.sin(tilt), 0], [0, 1, 0, 0], [-math.sin(tilt), 0, math.cos(tilt), cz], [0, 0, 0, 1]])
    parts += [Part(g.apply_transform(m), "metal", (0.75, 0.62, 0.35)) for g in ring]
    return parts


ASSETS.update({
    "toilet": toilet, "bathtub": bathtub, "shower": shower, "sink": sink, "mirror": mirror, "stove": stove,
    "microwave": microwave, "kitchen_island": kitchen_island, "office_chair": office_chair,
    "filing_cabinet": filing_cabinet, "computer": computer, "whiteboard": whiteboard, "printer": printer,
    "dresser": dresser, "piano": piano, "fireplace": fireplace, "ceiling_lamp": ceiling_lamp, "curtain": curtain,
    "clock": clock, "ottoman": ottoman, "coat_rack": coat_rack, "guitar": guitar, "blackboard": blackboard,
    "globe": globe,
})
