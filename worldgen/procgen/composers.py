"""Scene composers: a scene type and a seed -> a plausible Layout with a caption.

A composer is a list of placement specs (label, count, rule). Rules put things where people
put them: against a wall facing the room, in a corner, in front of or next to another object,
on top of one (a lamp on the desk), under one (a rug under the table), mounted on a wall
(paintings, windows, doors), or anywhere / along the edge outdoors. Every candidate is
checked for collisions and bounds; a spec that finds no place within its tries is dropped
(and so does not appear in the caption).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from renderer.errors import ArgumentError
from renderer.layout import FLAT_LABELS, GENERIC_LABEL, WALL_LABELS, Box, Layout, Shell, collides

from .vocab import COLORS, COUNT_WORDS, NOUNS, PALETTES, SCENE_TYPES, SIZES, nearest_color_name, plural

WALL_COLORS = ["#e8e2d6", "#f2efe8", "#dfe6e9", "#e9dcc9", "#d6e2d3", "#efe1e1", "#d9d4cc"]
FLOOR_COLORS = ["#b08d64", "#8c6a4a", "#c8b08a", "#7d7d7d", "#a58a6f", "#6e5644"]
GROUND_COLORS = ["#5f8a3c", "#6b9440", "#557d35", "#7a9a4a"]
# Outdoor scenes whose ground is not grass; the others draw from GROUND_COLORS.
SCENE_GROUND_COLORS = {
    "beach": ["#dcc48e", "#e3cf9f", "#d2b77f", "#e8d6a8"], "desert": ["#d4a86a", "#c9995a", "#ddb577", "#c58f55"],
    "town_square": ["#9a958c", "#a8a297", "#8c877e", "#b0a899"], "downtown": ["#8a8a86", "#96938d", "#7f7e7a"],
    "farm": ["#7d8f45", "#8a8a4a", "#6b8a3a", "#94904e"],
}
TRIES = 80
# Wall-mounted kinds hang at these centre heights (m); others (a door) stand on the floor.
MOUNT_HEIGHTS = {"painting": (1.3, 1.6), "window": (1.3, 1.6), "mirror": (1.35, 1.6), "whiteboard": (1.35, 1.5),
                 "blackboard": (1.3, 1.45), "clock": (1.9, 2.1)}
CURTAIN_HEM = (0.25, 0.4)  # a curtain hangs from its rail down to this height above the floor
CEILING_LABELS = {"ceiling_lamp"}  # indoors these hang from the ceiling, whatever their rule


def ground_colors(scene_type: str) -> list[str]:
    """The ground colours an outdoor scene type draws from (sand for a beach, paving for a square)."""
    return SCENE_GROUND_COLORS.get(scene_type, GROUND_COLORS)


@dataclass
class Spec:
    label: str
    count: tuple[int, int]  # inclusive range
    # wall | corner | center | anywhere | edge | wall_mount | door | ceiling | on:L | front:L | near:L | under:L |
    # facing:L | over:L (on the wall above L) | rows:L (rows facing wall object L) | ring:L (around L) | along:L
    rule: str
    color: str | None = None  # a COLORS name or "#rrggbb"; None picks from the label's palette
    size: tuple[float, float, float] | None = None
    prob: float = 1.0  # chance the spec is used at all
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)  # applied to drawn default sizes
    source: str = "prompt"  # recorded on each placed Box: "prompt" or "completion"
    name: str = ""  # the noun of a generic object


INDOOR = {
    "living_room": ((4.5, 7.0), (4.0, 6.0), [
        Spec("sofa", (1, 1), "wall"), Spec("table", (1, 1), "front:sofa", size=None),
        Spec("rug", (1, 1), "under:table", prob=0.8), Spec("tv", (1, 1), "facing:sofa", prob=0.8),
        Spec("armchair", (0, 2), "near:sofa"), Spec("lamp", (1, 2), "corner"), Spec("plant", (0, 2), "corner"),
        Spec("bookshelf", (0, 1), "wall"), Spec("painting", (1, 2), "wall_mount"), Spec("window", (1, 2), "wall_mount"),
        Spec("door", (1, 1), "door")]),
    "bedroom": ((3.5, 5.5), (3.5, 5.0), [
        Spec("bed", (1, 1), "wall"), Spec("table", (1, 2), "near:bed", size=(0.45, 0.4, 0.55)),
        Spec("lamp", (1, 2), "on:table", size=(0.25, 0.25, 0.45)), Spec("wardrobe", (1, 1), "wall"),
        Spec("rug", (0, 1), "under:bed"), Spec("desk", (0, 1), "wall", prob=0.5), Spec("chair", (1, 1), "front:desk"),
        Spec("plant", (0, 1), "corner"), Spec("painting", (0, 2), "wall_mount"), Spec("window", (1, 1), "wall_mount"),
        Spec("door", (1, 1), "door")]),
    "kitchen": ((3.5, 5.5), (3.0, 5.0), [
        Spec("kitchen_counter", (1, 2), "wall"), Spec("fridge", (1, 1), "corner"), Spec("table", (1, 1), "center"),
        Spec("chair", (2, 4), "near:table"), Spec("plant", (0, 1), "corner"), Spec("lamp", (0, 1), "corner"),
        Spec("window", (1, 1), "wall_mount"), Spec("painting", (0, 1), "wall_mount"), Spec("door", (1, 1), "door")]),
    "office": ((3.5, 6.0), (3.5, 5.0), [
        Spec("desk", (1, 2), "wall"), Spec("chair", (1, 2), "front:desk"), Spec("bookshelf", (1, 2), "wall"),
        Spec("lamp", (1, 1), "on:desk", size=(0.25, 0.25, 0.45)), Spec("plant", (0, 2), "corner"),
        Spec("armchair", (0, 1), "corner"), Spec("rug", (0, 1), "center"), Spec("painting", (0, 2), "wall_mount"),
        Spec("window", (1, 2), "wall_mount"), Spec("door", (1, 1), "door")]),
    "dining_room": ((4.0, 6.0), (3.5, 5.5), [
        Spec("table", (1, 1), "center", size=(1.6, 0.95, 0.75)), Spec("rug", (0, 1), "under:table"),
        Spec("chair", (4, 6), "near:table"), Spec("bookshelf", (0, 1), "wall"), Spec("lamp", (1, 2), "corner"),
        Spec("plant", (0, 2), "corner"), Spec("painting", (1, 2), "wall_mount"), Spec("window", (1, 2), "wall_mount"),
        Spec("door", (1, 1), "door")]),
    "bathroom": ((2.6, 3.6), (2.4, 3.4), [
        Spec("bathtub", (1, 1), "wall", prob=0.8), Spec("shower", (1, 1), "corner", prob=0.6), Spec("toilet", (1, 1), "wall"),
        Spec("sink", (1, 2), "wall"), Spec("mirror", (1, 1), "over:sink"), Spec("rug", (0, 1), "front:sink", size=(0.8, 0.5, 0.012)),
        Spec("trash_can", (0, 1), "corner", size=(0.25, 0.25, 0.35)), Spec("plant", (0, 1), "corner", scale=(0.7, 0.7, 0.7)),
        Spec("window", (0, 1), "wall_mount"), Spec("door", (1, 1), "door")]),
    "library": ((6.0, 9.0), (5.0, 7.5), [
        Spec("desk", (0, 1), "wall", prob=0.7), Spec("office_chair", (1, 1), "front:desk"),
        Spec("computer", (1, 1), "on:desk", size=(0.55, 0.32, 0.42)), Spec("bookshelf", (4, 8), "wall"),
        Spec("table", (1, 1), "center"), Spec("rug", (0, 1), "under:table"), Spec("chair", (2, 6), "near:table"),
        Spec("lamp", (1, 2), "on:table", size=(0.25, 0.25, 0.45)), Spec("printer", (0, 1), "wall"),
        Spec("filing_cabinet", (0, 1), "wall"), Spec("armchair", (1, 1), "corner"), Spec("ottoman", (0, 1), "front:armchair"),
        Spec("globe", (0, 1), "corner"), Spec("fireplace", (0, 1), "wall", prob=0.4), Spec("clock", (0, 1), "over:fireplace"),
        Spec("ceiling_lamp", (1, 2), "ceiling"), Spec("plant", (0, 2), "corner"), Spec("window", (1, 3), "wall_mount"),
        Spec("curtain", (0, 2), "wall_mount"), Spec("door", (1, 1), "door")]),
    "classroom": ((7.0, 9.5), (6.0, 8.0), [
        Spec("blackboard", (1, 1), "wall_mount"), Spec("desk", (1, 1), "wall"),
        Spec("office_chair", (1, 1), "front:desk"), Spec("desk", (6, 12), "rows:blackboard", size=(0.7, 0.5, 0.74)),
        Spec("chair", (6, 12), "front:desk"), Spec("bookshelf", (0, 2), "wall"), Spec("globe", (0, 1), "corner"),
        Spec("clock", (0, 1), "wall_mount"), Spec("whiteboard", (0, 1), "wall_mount", prob=0.4),
        Spec("plant", (0, 2), "corner"), Spec("trash_can", (0, 1), "corner", size=(0.3, 0.3, 0.4)),
        Spec("ceiling_lamp", (2, 4), "ceiling"), Spec("window", (2, 3), "wall_mount"), Spec("door", (1, 1), "door")]),
    "cafe": ((6.0, 9.0), (5.0, 8.0), [
        Spec("kitchen_counter", (1, 2), "wall"), Spec("stove", (0, 1), "near:kitchen_counter"),
        Spec("microwave", (0, 1), "on:kitchen_counter", size=(0.5, 0.36, 0.3)), Spec("fridge", (0, 1), "corner"),
        Spec("kitchen_island", (0, 1), "center", prob=0.4), Spec("table", (3, 6), "anywhere", scale=(0.6, 0.8, 1.0)),
        Spec("chair", (6, 14), "near:table"), Spec("sofa", (0, 1), "wall", prob=0.4), Spec("piano", (0, 1), "wall", prob=0.25),
        Spec("coat_rack", (0, 1), "corner"), Spec("plant", (1, 3), "corner"), Spec("ceiling_lamp", (2, 4), "ceiling"),
        Spec("trash_can", (0, 1), "near:kitchen_counter", size=(0.35, 0.35, 0.5)), Spec("clock", (0, 1), "wall_mount"),
        Spec("painting", (1, 3), "wall_mount"), Spec("window", (2, 4), "wall_mount"), Spec("door", (1, 1), "door")]),
    "hallway": ((5.0, 8.0), (2.4, 3.2), [
        Spec("door", (2, 3), "door"), Spec("coat_rack", (1, 1), "corner"), Spec("dresser", (0, 1), "wall"),
        Spec("mirror", (1, 1), "over:dresser"), Spec("ottoman", (0, 1), "wall"), Spec("rug", (1, 1), "center", scale=(1.2, 0.55, 1.0)),
        Spec("plant", (0, 2), "corner"), Spec("clock", (0, 1), "wall_mount"), Spec("painting", (1, 3), "wall_mount"),
        Spec("ceiling_lamp", (1, 2), "ceiling"), Spec("window", (0, 1), "wall_mount")]),
    "music_room": ((4.5, 7.0), (4.0, 6.0), [
        Spec("piano", (1, 1), "wall"), Spec("ottoman", (1, 1), "front:piano", size=(0.8, 0.36, 0.46)),
        Spec("guitar", (1, 3), "wall"), Spec("sofa", (0, 1), "wall"), Spec("armchair", (0, 2), "corner"),
        Spec("bookshelf", (0, 2), "wall"), Spec("rug", (1, 1), "center"), Spec("lamp", (1, 2), "corner"),
        Spec("plant", (0, 2), "corner"), Spec("clock", (0, 1), "wall_mount"), Spec("painting", (0, 2), "wall_mount"),
        Spec("curtain", (0, 2), "wall_mount"), Spec("window", (1, 2), "wall_mount"), Spec("ceiling_lamp", (0, 1), "ceiling"),
        Spec("door", (1, 1), "door")]),
}
OUTDOOR = {
    "park": ((18.0, 24.0), (18.0, 24.0), "flat", [
        Spec("path", (1, 2), "anywhere"), Spec("pond", (0, 1), "anywhere"), Spec("broadleaf_tree", (4, 8), "anywhere"),
        Spec("pine_tree", (1, 4), "edge"), Spec("bench", (2, 4), "near:path"), Spec("street_lamp", (2, 4), "near:path"),
        Spec("bush", (5, 10), "anywhere"), Spec("rock", (1, 4), "anywhere")]),
    "forest_clearing": ((20.0, 28.0), (20.0, 28.0), "hilly", [
        Spec("pine_tree", (8, 14), "edge"), Spec("broadleaf_tree", (2, 5), "edge"), Spec("rock", (2, 5), "anywhere"),
        Spec("bush", (3, 7), "anywhere"), Spec("path", (0, 1), "anywhere"), Spec("pond", (0, 1), "anywhere")]),
    "street": ((26.0, 32.0), (22.0, 28.0), "flat", [
        Spec("path", (1, 1), "center", size=(5.0, 20.0, 0.03)), Spec("house", (2, 4), "edge"),
        Spec("car", (1, 3), "on:path"), Spec("street_lamp", (2, 4), "near:path"), Spec("fence", (0, 2), "edge"),
        Spec("broadleaf_tree", (1, 3), "anywhere"), Spec("bush", (1, 4), "anywhere")]),
    "backyard": ((18.0, 24.0), (16.0, 22.0), "flat", [
        Spec("house", (1, 1), "edge"), Spec("fence", (2, 3), "edge"), Spec("broadleaf_tree", (1, 3), "anywhere"),
        Spec("bench", (0, 2), "anywhere"), Spec("bush", (2, 5), "anywhere"), Spec("path", (0, 1), "anywhere"),
        Spec("pond", (0, 1), "anywhere"), Spec("rock", (0, 2), "anywhere")]),
    # Scene types added with the open vocabulary hold only outdoor kinds: text_rules.default_scene
    # reads any label found in an outdoor spec as an outdoor thing.
    "beach": ((22.0, 30.0), (18.0, 26.0), "flat", [
        Spec("palm_tree", (3, 7), "edge"), Spec("beach_umbrella", (2, 5), "anywhere"),
        Spec("sun_lounger", (2, 6), "ring:beach_umbrella"), Spec("boat", (0, 2), "edge"), Spec("rock", (1, 4), "anywhere"),
        Spec("trash_can", (0, 1), "anywhere"), Spec("bench", (0, 2), "edge"), Spec("bush", (0, 3), "edge")]),
    "campsite": ((20.0, 28.0), (20.0, 28.0), "flat", [
        Spec("campfire", (1, 1), "center"), Spec("log", (2, 4), "ring:campfire"), Spec("tent", (2, 4), "anywhere"),
        Spec("picnic_table", (0, 1), "anywhere"), Spec("pine_tree", (6, 12), "edge"), Spec("birch_tree", (1, 4), "edge"),
        Spec("tree_stump", (1, 3), "anywhere"), Spec("mushroom", (0, 3), "anywhere"), Spec("rock", (1, 4), "anywhere"),
        Spec("bush", (2, 5), "anywhere"), Spec("car", (0, 1), "edge"), Spec("pond", (0, 1), "anywhere")]),
    "farm": ((28.0, 36.0), (26.0, 34.0), "flat", [
        Spec("barn", (1, 1), "edge"), Spec("house", (0, 1), "edge"), Spec("windmill", (0, 1), "edge"),
        Spec("fence", (2, 4), "edge"), Spec("hay_bale", (3, 6), "anywhere"), Spec("scarecrow", (1, 2), "anywhere"),
        Spec("water_well", (0, 1), "anywhere"), Spec("truck", (0, 1), "anywhere"), Spec("path", (0, 1), "anywhere"),
        Spec("broadleaf_tree", (1, 3), "edge"), Spec("bush", (1, 4), "anywhere"), Spec("pond", (0, 1), "anywhere")]),
    "town_square": ((24.0, 32.0), (24.0, 32.0), "flat", [
        Spec("fountain", (1, 1), "center"), Spec("bench", (2, 5), "ring:fountain"), Spec("statue", (0, 1), "anywhere"),
        Spec("street_lamp", (3, 6), "anywhere"), Spec("flower_bed", (2, 4), "anywhere"), Spec("trash_can", (1, 3), "anywhere"),
        Spec("bicycle", (0, 3), "anywhere"), Spec("mailbox", (0, 1), "anywhere"), Spec("bus_stop", (0, 1), "edge"),
        Spec("house", (2, 4), "edge"), Spec("broadleaf_tree", (2, 4), "anywhere")]),
    "play_area": ((18.0, 24.0), (16.0, 22.0), "flat", [
        Spec("swing", (1, 2), "anywhere"), Spec("slide", (1, 2), "anywhere"), Spec("bench", (2, 4), "edge"),
        Spec("trash_can", (1, 2), "near:bench"), Spec("fence", (1, 3), "edge"), Spec("broadleaf_tree", (2, 4), "edge"),
        Spec("bush", (2, 5), "anywhere"), Spec("flower_bed", (0, 2), "anywhere"), Spec("path", (0, 1), "anywhere"),
        Spec("picnic_table", (0, 1), "anywhere"), Spec("street_lamp", (0, 2), "edge")]),
    "downtown": ((26.0, 32.0), (24.0, 30.0), "flat", [
        Spec("path", (1, 1), "center", size=(8.0, 22.0, 0.03)), Spec("bus", (0, 1), "along:path"),
        Spec("truck", (0, 2), "along:path"), Spec("car", (1, 3), "along:path"), Spec("traffic_light", (2, 4), "near:path"),
        Spec("stop_sign", (0, 2), "near:path"), Spec("fire_hydrant", (1, 2), "near:path"), Spec("bus_stop", (0, 1), "near:path"),
        Spec("mailbox", (0, 1), "near:path"), Spec("trash_can", (1, 2), "near:path"), Spec("bicycle", (0, 2), "near:path"),
        Spec("street_lamp", (2, 4), "near:path"), Spec("house", (2, 4), "edge")]),
    "desert": ((22.0, 30.0), (22.0, 30.0), "hilly", [
        Spec("pond", (1, 1), "center", prob=0.5), Spec("palm_tree", (1, 3), "near:pond"), Spec("cactus", (4, 9), "anywhere"),
        Spec("rock", (3, 7), "anywhere"), Spec("tree_stump", (0, 2), "anywhere"), Spec("bush", (1, 3), "anywhere")]),
}
RELATION_WORDS = {"on": "on", "near": "next to", "front": "in front of", "under": "under"}


def _yaw_vec(yaw_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(local +x, local +y) as world unit vectors for a yaw."""
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return np.array([c, s]), np.array([-s, c])


class Placer:
    """Places boxes into a layout one at a time, rejecting collisions and out-of-bounds spots."""

    def __init__(self, layout: Layout, rng: np.random.Generator, clearance: float):
        self.layout, self.rng, self.clearance = layout, rng, clearance
        self.lo, self.hi = layout.bounds()
        self.relations: list[tuple[int, str, int]] = []  # (object, relation, target)

    def size_for(self, spec: Spec) -> list[float]:
        if spec.size is not None:
            return list(spec.size)
        return [float(self.rng.uniform(*r)) * k for r, k in zip(SIZES[spec.label], spec.scale)]

    def fits(self, box: Box) -> bool:
        xy = box.corners_xy()
        if (xy < self.lo[:2] - 1e-6).any() or (xy > self.hi[:2] + 1e-6).any():
            return False
        if self.layout.shell.kind == "room" and box.z_range[1] > self.hi[2]:
            return False
        objs = self.layout.objects
        if box.label in WALL_LABELS:  # wall objects: only each other matter
            others = [o for o in objs if o.label in WALL_LABELS]
            from renderer.layout import penetration

            return not others or bool((penetration([box] * len(others), others) < -0.1).all())
        if box.label in FLAT_LABELS:
            others = [o for o in objs if o.label in FLAT_LABELS]
            from renderer.layout import penetration

            if others and (penetration([box] * len(others), others) > 0).any():
                return False
            # Flat things must not run under tall ones that they were not put under.
            return True
        return not collides(box, objs, self.clearance)

    def _wall_spot(self, size, inset: float, along: float | None = None):
        """A spot with the back against a random wall: (center xy, yaw)."""
        sx, sy = size[0], size[1]
        wall = int(self.rng.integers(4))
        half = (self.hi - self.lo)[:2] / 2
        # walls: 0 = +y (yaw 0), 1 = -y (180), 2 = +x (-90), 3 = -x (90)
        yaw = [0.0, 180.0, -90.0, 90.0][wall]
        span = half[0] if wall < 2 else half[1]
        if span < sx / 2:  # wider than this wall (checked before drawing: an empty range is an error)
            return None
        t = self.rng.uniform(-span + sx / 2, span - sx / 2) if along is None else along
        d = (half[1] if wall < 2 else half[0]) - sy / 2 - inset
        xy = {0: (t, d), 1: (t, -d), 2: (d, t), 3: (-d, t)}[wall]
        return np.array(xy), yaw

    def candidate(self, spec: Spec, size: list[float], targets: list[int]) -> tuple[Box, int | None] | None:
        rng, objs = self.rng, self.layout.objects
        rule, _, target_label = spec.rule.partition(":")
        name = spec.color or str(rng.choice(PALETTES[spec.label]))
        color = name if name.startswith("#") else COLORS[name]
        z = size[2] / 2
        target = None
        if rule in ("wall", "door"):
            spot = self._wall_spot(size, 0.01)
            if spot is None:
                return None
            xy, yaw = spot
        elif rule == "wall_mount":
            spot = self._wall_spot(size, 0.0)
            if spot is None:
                return None
            xy, yaw = spot
            if spec.label in MOUNT_HEIGHTS:
                z = float(rng.uniform(*MOUNT_HEIGHTS[spec.label]))
            elif spec.label == "curtain":
                z = float(rng.uniform(*CURTAIN_HEM)) + size[2] / 2
        elif rule == "ceiling":  # over the open floor, away from the walls (hung at its top, below)
            half = np.maximum((self.hi - self.lo)[:2] / 2 - max(size[0], size[1]) / 2 - 0.4, 0.0)
            xy = rng.uniform(-half, half)
            yaw = float(rng.choice([0.0, 90.0]))
        elif rule == "corner":
            half = (self.hi - self.lo)[:2] / 2
            cx, cy = rng.choice([-1, 1]), rng.choice([-1, 1])
            xy = np.array([cx * (half[0] - size[0] / 2 - 0.05), cy * (half[1] - size[1] / 2 - 0.05)])
            yaw = 0.0 if cy > 0 else 180.0
        elif rule == "center":
            xy = rng.normal(0, 0.3, 2)
            yaw = float(rng.choice([0.0, 90.0, 180.0, 270.0]))
        elif rule in ("anywhere", "edge"):
            half = (self.hi - self.lo)[:2] / 2 - max(size[0], size[1]) / 2 - 0.2
            if (half <= 0).any():
                return None
            if rule == "edge":  # within the outer fifth of the area, facing inwards
                side = int(rng.integers(4))
                band = 0.2 * half
                t = rng.uniform(-1, 1)
                xy = {0: (t * half[0], half[1] - rng.uniform(0, band[1])), 1: (t * half[0], -half[1] + rng.uniform(0, band[1])),
                      2: (half[0] - rng.uniform(0, band[0]), t * half[1]), 3: (-half[0] + rng.uniform(0, band[0]), t * half[1])}[side]
                xy = np.array(xy)
                yaw = [0.0, 180.0, -90.0, 90.0][side]
            else:
                xy = rng.uniform(-half, half)
                yaw = float(rng.uniform(0, 360))
        else:
            if not targets:
                return None
            target = int(rng.choice(targets))
            t = objs[target]
            ax, ay = _yaw_vec(t.yaw)
            tc = np.array(t.center[:2])
            if rule == "on":
                room = (np.array(t.size[:2]) - np.array(size[:2])) / 2
                if (room < 0).any():
                    return None
                off = rng.uniform(-room, room)
                xy = tc + off[0] * ax + off[1] * ay
                z = t.z_range[1] + size[2] / 2
                yaw = t.yaw
            elif rule == "under":
                xy = tc + rng.normal(0, 0.05, 2)
                yaw = t.yaw
            elif rule in ("front", "facing"):
                gap = rng.uniform(0.35, 0.6) if rule == "front" else rng.uniform(1.8, 3.0)
                d = t.size[1] / 2 + gap + size[1] / 2
                xy = tc - d * ay + rng.normal(0, 0.05) * ax
                yaw = t.yaw + 180.0
            elif rule == "near" and t.label in WALL_LABELS:  # next to a window or door: in front of it
                d = t.size[1] / 2 + rng.uniform(0.2, 0.5) + size[1] / 2
                xy = tc - d * ay + rng.uniform(-0.3, 0.3) * ax
                yaw = t.yaw
            elif rule == "near":
                side = rng.choice([-1, 1])
                gap = rng.uniform(0.1, 0.35)
                if self.layout.shell.kind == "outdoor" and t.label not in FLAT_LABELS:
                    gap += self.clearance  # beside a solid thing outdoors: keep the outdoor clearance
                d = t.size[0] / 2 + gap + size[0] / 2
                along = rng.uniform(-1, 1) * max(0.0, (t.size[1] - size[1]) / 2)  # anywhere beside a long path
                xy = tc + side * d * ax + along * ay
                yaw = t.yaw
                if spec.label in ("chair", "office_chair") and t.label == "table":  # chairs around a table face it
                    edge = int(rng.integers(4))
                    along = rng.uniform(-0.3, 0.3)
                    ext = [t.size[1], t.size[1], t.size[0], t.size[0]][edge] / 2 + size[1] / 2 + 0.1
                    direction = [-ay, ay, ax, -ax][edge]
                    across = [ax, ax, ay, ay][edge]
                    xy = tc + ext * direction + along * t.size[0 if edge < 2 else 1] * across
                    # local +y (the back) along `direction`, away from the table: the front (-y) faces it
                    yaw = math.degrees(math.atan2(-direction[0], direction[1]))
            elif rule == "over":  # on the wall above a thing that stands against it (a mirror over the sink)
                xy = tc + (t.size[1] - size[1]) / 2 * ay
                z = t.z_range[1] + float(rng.uniform(0.12, 0.3)) + size[2] / 2
                yaw = t.yaw
            elif rule == "rows":  # desks in rows facing a board on the wall (a classroom)
                row, col = int(rng.integers(6)), int(rng.integers(-3, 4))
                d = t.size[1] / 2 + 1.4 + size[1] / 2 + row * (size[1] + 1.2)  # room for a chair behind each
                xy = tc - d * ay + col * (size[0] + 0.6) * ax
                yaw = t.yaw
            elif rule == "ring":  # around a thing, facing it (logs round a campfire, benches round a fountain)
                a = rng.uniform(0, 2 * math.pi)
                direction = np.array([math.cos(a), math.sin(a)])
                r = float(np.linalg.norm(t.size[:2])) / 2 + self.clearance + rng.uniform(0.1, 0.5) + size[1] / 2
                xy = tc + r * direction
                yaw = math.degrees(math.atan2(-direction[0], direction[1]))  # back outwards, front to the centre
            elif rule == "along":  # on a long flat thing, lengthwise (vehicles on a road), either way
                long_y = t.size[1] >= t.size[0]
                length, width = (t.size[1], t.size[0]) if long_y else (t.size[0], t.size[1])
                room = np.array([length - size[0], width - size[1]]) / 2
                if (room < 0).any():
                    return None
                off = rng.uniform(-room, room)
                u, v = (ay, ax) if long_y else (ax, ay)
                xy = tc + off[0] * u + off[1] * v
                z = t.z_range[1] + size[2] / 2
                yaw = t.yaw + (90.0 if long_y else 0.0) + (180.0 if rng.random() < 0.5 else 0.0)
            else:
                raise ValueError(f"unknown placement rule {spec.rule!r}")
        if spec.label in CEILING_LABELS and self.layout.shell.kind == "room" and rule != "on":
            z = float(self.hi[2]) - size[2] / 2 - 0.002  # hangs from the ceiling
        box = Box(spec.label, color, [float(xy[0]), float(xy[1]), float(z)], [float(v) for v in size], float(yaw % 360),
                  spec.source, spec.name)
        if rule not in ("on", "over", "along"):  # stand on the ground: its lowest point under the footprint
            pts = np.vstack([box.corners_xy(), xy[None]])
            box.center[2] += float(self.layout.shell.ground_height(pts[:, 0], pts[:, 1]).min())
        return box, target

    def place(self, spec: Spec) -> int | None:
        rule, _, target_label = spec.rule.partition(":")
        targets = [i for i, o in enumerate(self.layout.objects) if o.label == target_label] if target_label else []
        for _ in range(TRIES):
            size = self.size_for(spec)
            cand = self.candidate(spec, size, targets)
            if cand is None:
                continue
            box, target = cand
            if self.fits(box):
                self.layout.objects.append(box)
                index = len(self.layout.objects) - 1
                if target is not None and rule in RELATION_WORDS:
                    self.relations.append((index, rule, target))
                return index
        return None


def compose(scene_type: str, seed: int) -> tuple[Layout, list[tuple[int, str, int]]]:
    """A layout for `scene_type` (a SCENE_TYPES key) and the relations used to place it."""
    if scene_type not in SCENE_TYPES:
        raise ArgumentError(f"unknown scene type {scene_type!r}; choose from {', '.join(SCENE_TYPES)}")
    rng = np.random.default_rng(seed)
    if scene_type in INDOOR:
        (x0, x1), (y0, y1), specs = INDOOR[scene_type]
        shell = Shell("room", [round(float(rng.uniform(x0, x1)), 2), round(float(rng.uniform(y0, y1)), 2),
                               round(float(rng.uniform(2.6, 3.0)), 2)],
                      floor_color=str(rng.choice(FLOOR_COLORS)), wall_color=str(rng.choice(WALL_COLORS)))
        clearance = 0.08
    else:
        (x0, x1), (y0, y1), terrain, specs = OUTDOOR[scene_type]
        shell = Shell("outdoor", [round(float(rng.uniform(x0, x1)), 1), round(float(rng.uniform(y0, y1)), 1)],
                      ground_color=str(rng.choice(ground_colors(scene_type))), terrain=terrain)
        clearance = 0.4
    layout = Layout(shell, [], scene_type)
    placer = Placer(layout, rng, clearance)
    for spec in specs:
        if rng.random() > spec.prob:
            continue
        for _ in range(int(rng.integers(spec.count[0], spec.count[1] + 1))):
            placer.place(spec)
    layout.caption = caption(layout, placer.relations)
    return layout.validate(f"composed {scene_type} (seed {seed})"), placer.relations


def _noun_phrase(label: str, count: int, color_name: str, name: str = "") -> str:
    noun = (name if count == 1 else plural(name)) if name else NOUNS[label][0 if count == 1 else 1]
    count_word = COUNT_WORDS.get(count, str(count))
    if count == 1 and color_name[0] in "aeiou":
        count_word = "an"
    return f"{count_word} {color_name} {noun}"


def groups(layout: Layout, relations=()) -> list[tuple[str, str, int, tuple | None]]:
    """(label, colour name, count, (relation, target label) or None), in order of first appearance."""
    related = {i: (rel, target) for i, rel, target in relations}
    out: dict[tuple, int] = {}
    for i, o in enumerate(layout.objects):
        rel = related.get(i)
        key = (o.label, nearest_color_name(o.color), (rel[0], layout.objects[rel[1]].label) if rel else None)
        out[key] = out.get(key, 0) + 1
    return [(label, color, n, rel) for (label, color, rel), n in out.items()]



def caption(layout: Layout, relations: list[tuple[int, str, int]] = ()) -> str:
    """'a bedroom with a blue bed, two white lamps on the table and a wooden wardrobe'."""
    scene_name = SCENE_TYPES.get(layout.scene_type, (layout.scene_type.replace("_", " ") or "room",))[0]
    phrases = []
    for label, color_name, count, rel in groups(layout, relations):
        if label == GENERIC_LABEL:
            continue
        phrase = _noun_phrase(label, count, color_name)
        if rel is not None and rel[1] != GENERIC_LABEL:
            phrase += f" {RELATION_WORDS[rel[0]]} the {NOUNS[rel[1]][0]}"
        phrases.append(phrase)
    named: dict[tuple[str, str], int] = {}  # generic objects go by their own nouns: "a red hammock"
    for o in layout.objects:
        if o.label == GENERIC_LABEL:
            key = (o.name or "object", nearest_color_name(o.color))
            named[key] = named.get(key, 0) + 1
    phrases += [_noun_phrase(GENERIC_LABEL, n, color_name, name) for (name, color_name), n in named.items()]
    if not phrases:
        return f"an empty {scene_name}"
    article = "an" if scene_name[0] in "aeiou" else "a"
    body = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"{article} {scene_name} with {body}"
