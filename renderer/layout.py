"""Layouts: the coarse 3D skeleton of a world (labelled, coloured, oriented boxes in a shell).

JSON schema, version 1 (metres, world +Z up, yaw in degrees about +Z, counter-clockwise):

    {"version": 1,
     "scene_type": "bedroom",                       # free text; composers use it
     "shell": {"kind": "room", "size": [sx, sy, sz], # room: x in [-sx/2, sx/2], y likewise, z in [0, sz]
               "floor_color": "#rrggbb", "wall_color": "#rrggbb"}
            | {"kind": "outdoor", "size": [sx, sy], "ground_color": "#rrggbb", "terrain": "flat" | "hilly"},
     "objects": [{"label": "bed", "color": "#3355aa", "center": [x, y, z], "size": [sx, sy, sz], "yaw": 0.0,
                  "source": "prompt",                # optional: prompt | completion | layout
                  "name": "hammock"}],               # optional: the noun, for the generic label "object"
     "caption": "a bedroom with a blue bed"}

Boxes may touch (a lamp on a table) but not interpenetrate by more than `OVERLAP_TOLERANCE`;
flat floor coverings (rug, path, pond) and wall-mounted objects (painting, window, door) are
exempt where they meet other objects. A voxel form (an integer grid plus a label table)
converts both ways.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from .errors import WorldgenError

LAYOUT_VERSION = 1
MAX_OBJECTS = 2048
MAX_EXTENT_M = 1000.0
OVERLAP_TOLERANCE = 0.02  # metres of interpenetration allowed (contact, rounding)
MAX_VOXELS = 256**3
BOX_SOURCES = ("prompt", "completion", "layout")
MAX_NAME_CHARS = 40

# The label vocabulary: index = the integer label carried by Gaussians, pixels and voxels.
STRUCTURE_LABELS = ["floor", "wall", "ceiling", "ground", "sky"]
INDOOR_LABELS = ["bed", "sofa", "armchair", "chair", "table", "desk", "lamp", "bookshelf", "wardrobe", "tv",
                 "plant", "rug", "fridge", "kitchen_counter", "door", "window", "painting"]
OUTDOOR_LABELS = ["pine_tree", "broadleaf_tree", "bush", "rock", "house", "fence", "bench", "street_lamp", "car",
                  "path", "pond"]
# Kinds added later are appended, never inserted: ids 0..32 above are baked into shipped checkpoints
# (a model with fewer labels reads the newer ids as "unknown").
INDOOR_EXTRA_LABELS = ["toilet", "bathtub", "shower", "sink", "mirror", "stove", "microwave", "kitchen_island",
                       "office_chair", "filing_cabinet", "computer", "whiteboard", "printer", "dresser", "piano",
                       "fireplace", "ceiling_lamp", "curtain", "clock", "ottoman", "coat_rack", "guitar", "blackboard",
                       "globe"]
OUTDOOR_EXTRA_LABELS = ["traffic_light", "stop_sign", "mailbox", "trash_can", "bicycle", "bus_stop", "fire_hydrant",
                        "truck", "bus", "flower_bed", "palm_tree", "birch_tree", "cactus", "tree_stump", "log",
                        "mushroom", "tent", "campfire", "picnic_table", "beach_umbrella", "sun_lounger", "boat",
                        "fountain", "swing", "slide", "statue", "barn", "hay_bale", "windmill", "scarecrow",
                        "water_well"]
GENERIC_LABEL = "object"  # a thing named by a noun outside the vocabulary (Box.name holds the noun)
LABELS = STRUCTURE_LABELS + INDOOR_LABELS + OUTDOOR_LABELS + INDOOR_EXTRA_LABELS + OUTDOOR_EXTRA_LABELS + [GENERIC_LABEL]
LABEL_IDS = {name: i for i, name in enumerate(LABELS)}
OBJECT_LABELS = INDOOR_LABELS + OUTDOOR_LABELS + INDOOR_EXTRA_LABELS + OUTDOOR_EXTRA_LABELS + [GENERIC_LABEL]
FLAT_LABELS = {"rug", "path", "pond"}  # floor coverings: other objects stand on them
WALL_LABELS = {"door", "window", "painting", "mirror", "whiteboard", "curtain", "clock", "blackboard"}  # in or on a wall

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class LayoutError(WorldgenError):
    """A layout that cannot be used; the message says where (file, object index) and why."""


def hex_to_rgb(color: str) -> tuple[float, float, float]:
    return tuple(int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def rgb_to_hex(rgb) -> str:
    return "#" + "".join(f"{int(round(min(max(c, 0.0), 1.0) * 255)):02x}" for c in rgb)


@dataclass
class Box:
    label: str
    color: str
    center: list[float]
    size: list[float]
    yaw: float = 0.0
    source: str = "prompt"  # who asked for it: the prompt, scene completion, or a given layout
    name: str = ""  # the noun a generic "object" stands for ("hammock"); empty for known kinds

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.name:
            del d["name"]
        return d

    def corners_xy(self) -> np.ndarray:
        """Footprint corners [4, 2] (counter-clockwise)."""
        c, s = math.cos(math.radians(self.yaw)), math.sin(math.radians(self.yaw))
        hx, hy = self.size[0] / 2, self.size[1] / 2
        local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
        return local @ np.array([[c, s], [-s, c]]) + np.array(self.center[:2])

    @property
    def z_range(self) -> tuple[float, float]:
        return self.center[2] - self.size[2] / 2, self.center[2] + self.size[2] / 2

    @property
    def rgb(self) -> tuple[float, float, float]:
        return hex_to_rgb(self.color)


@dataclass
class Shell:
    kind: str  # "room" or "outdoor"
    size: list[float]
    floor_color: str = "#b08d64"
    wall_color: str = "#e8e2d6"
    ground_color: str = "#5f8a3c"
    terrain: str = "flat"

    @property
    def height(self) -> float:
        return self.size[2] if self.kind == "room" else 0.0

    def ground_height(self, x, y):
        """Ground z at (x, y): 0 on flat ground and in rooms; gentle deterministic hills (0..~1.2 m)
        on hilly terrain, lower towards the middle so the scene's centre stays walkable."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        if self.kind != "outdoor" or self.terrain != "hilly":
            return np.zeros(np.broadcast(x, y).shape)
        waves = (np.sin(0.31 * x + 0.7) * np.cos(0.27 * y + 1.3) + 0.5 * np.sin(0.13 * x - 0.21 * y + 0.4)
                 + 0.3 * np.cos(0.55 * x + 0.45 * y)) / 1.8  # in [-1, 1]
        r = np.sqrt((x / (self.size[0] / 2)) ** 2 + (y / (self.size[1] / 2)) ** 2)
        return 0.6 * (waves + 1.0) * np.clip(r, 0.3, 1.5)

    def to_dict(self) -> dict:
        if self.kind == "room":
            return {"kind": "room", "size": self.size, "floor_color": self.floor_color, "wall_color": self.wall_color}
        return {"kind": "outdoor", "size": self.size, "ground_color": self.ground_color, "terrain": self.terrain}


@dataclass
class Layout:
    shell: Shell
    objects: list[Box] = field(default_factory=list)
    scene_type: str = ""
    caption: str = ""

    # ---- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "version": LAYOUT_VERSION,
            "scene_type": self.scene_type,
            "shell": self.shell.to_dict(),
            "objects": [o.to_dict() for o in self.objects],
            "caption": self.caption,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d, source: str = "layout") -> "Layout":
        layout = _parse(d, source)
        layout.validate(source)
        return layout

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Layout":
        from .formats.base import read_json

        path = Path(path)
        d = read_json(path, LayoutError)
        return cls.from_dict(d, str(path))

    def save(self, path: str | os.PathLike) -> None:
        from .formats.base import atomic_write

        atomic_write(path, [self.to_json().encode("utf-8")])

    # ---- geometry ------------------------------------------------------------------------------
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The shell's axis-aligned bounds (min [3], max [3])."""
        sx, sy = self.shell.size[0], self.shell.size[1]
        top = self.shell.size[2] if self.shell.kind == "room" else max([o.z_range[1] for o in self.objects] + [3.0])
        return np.array([-sx / 2, -sy / 2, 0.0]), np.array([sx / 2, sy / 2, top])

    def validate(self, source: str = "layout") -> "Layout":
        if len(self.objects) > MAX_OBJECTS:
            raise LayoutError(f"{source}: {len(self.objects)} objects; at most {MAX_OBJECTS} are allowed")
        lo, hi = self.bounds()
        tol = OVERLAP_TOLERANCE
        for i, o in enumerate(self.objects):
            xy = o.corners_xy()
            z0, z1 = o.z_range
            if (xy < lo[:2] - tol).any() or (xy > hi[:2] + tol).any() or z0 < -tol or (self.shell.kind == "room" and z1 > hi[2] + tol):
                raise LayoutError(f"{source}: object {i} ({o.label}) at {o.center} size {o.size} lies outside the "
                                  f"{self.shell.kind} bounds {lo.round(3).tolist()}..{hi.round(3).tolist()}")
        pair = first_overlap(self.objects)
        if pair is not None:
            i, j, depth = pair
            a, b = self.objects[i], self.objects[j]
            raise LayoutError(f"{source}: objects {i} ({a.label}) and {j} ({b.label}) overlap by {depth:.3f} m")
        return self

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.objects:
            out[o.label] = out.get(o.label, 0) + 1
        return out


def _number_list(v, n: int, what: str) -> list[float]:
    if not isinstance(v, (list, tuple)) or len(v) != n:
        raise LayoutError(f"{what} must be a list of {n} numbers, got {v!r}"[:200])
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise LayoutError(f"{what} must hold numbers, got {x!r}"[:200])
        if not math.isfinite(x) or abs(x) > MAX_EXTENT_M:
            raise LayoutError(f"{what} must be finite and within {MAX_EXTENT_M:g} m, got {x!r}")
        out.append(float(x))
    return out


def _color(v, what: str) -> str:
    if not isinstance(v, str) or not _HEX.match(v):
        raise LayoutError(f"{what} must be a colour '#rrggbb', got {v!r}"[:200])
    return v.lower()


def _parse(d, source: str) -> Layout:
    if not isinstance(d, dict):
        raise LayoutError(f"{source}: a layout is a JSON object, got {type(d).__name__}")
    version = d.get("version")
    if version != LAYOUT_VERSION:
        raise LayoutError(f"{source}: layout schema version {version!r} is not supported (this reader knows version {LAYOUT_VERSION})")
    sh = d.get("shell")
    if not isinstance(sh, dict) or sh.get("kind") not in ("room", "outdoor"):
        raise LayoutError(f"{source}: shell must be an object with kind 'room' or 'outdoor'")
    if sh["kind"] == "room":
        size = _number_list(sh.get("size"), 3, f"{source}: shell.size")
        shell = Shell("room", size, _color(sh.get("floor_color", "#b08d64"), f"{source}: shell.floor_color"),
                      _color(sh.get("wall_color", "#e8e2d6"), f"{source}: shell.wall_color"))
    else:
        size = _number_list(sh.get("size"), 2, f"{source}: shell.size")
        terrain = sh.get("terrain", "flat")
        if terrain not in ("flat", "hilly"):
            raise LayoutError(f"{source}: shell.terrain must be 'flat' or 'hilly', got {terrain!r}"[:200])
        shell = Shell("outdoor", size, ground_color=_color(sh.get("ground_color", "#5f8a3c"), f"{source}: shell.ground_color"),
                      terrain=terrain)
    if min(size) <= 0:
        raise LayoutError(f"{source}: shell.size must be positive, got {size}")
    objs = d.get("objects", [])
    if not isinstance(objs, list):
        raise LayoutError(f"{source}: objects must be a list")
    if len(objs) > MAX_OBJECTS:
        raise LayoutError(f"{source}: {len(objs)} objects; at most {MAX_OBJECTS} are allowed")
    boxes = []
    for i, o in enumerate(objs):
        where = f"{source}: object {i}"
        if not isinstance(o, dict):
            raise LayoutError(f"{where} is not an object")
        label = o.get("label")
        if label not in OBJECT_LABELS:
            raise LayoutError(f"{where}: unknown label {label!r}; known labels: {', '.join(OBJECT_LABELS)}"[:600])
        box_size = _number_list(o.get("size"), 3, f"{where} ({label}) size")
        if min(box_size) <= 0:
            raise LayoutError(f"{where} ({label}): size must be positive, got {box_size}")
        yaw = o.get("yaw", 0.0)
        if isinstance(yaw, bool) or not isinstance(yaw, (int, float)) or not math.isfinite(yaw):
            raise LayoutError(f"{where} ({label}): yaw must be a finite number of degrees, got {yaw!r}"[:200])
        source_of = o.get("source", "layout")
        if source_of not in BOX_SOURCES:
            raise LayoutError(f"{where} ({label}): source must be one of {', '.join(BOX_SOURCES)}, got {source_of!r}"[:200])
        name = o.get("name", "")
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not all(c.isprintable() for c in name):
            raise LayoutError(f"{where} ({label}): name must be printable text of at most {MAX_NAME_CHARS} characters, "
                              f"got {name!r}"[:200])
        boxes.append(Box(label, _color(o.get("color"), f"{where} ({label}) color"),
                         _number_list(o.get("center"), 3, f"{where} ({label}) center"), box_size, float(yaw),
                         source_of, name))
    caption = d.get("caption", "")
    scene_type = d.get("scene_type", "")
    if not isinstance(caption, str) or not isinstance(scene_type, str):
        raise LayoutError(f"{source}: caption and scene_type must be strings")
    return Layout(shell, boxes, scene_type, caption)


def _footprint_axes(boxes: list[Box]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    corners = np.stack([b.corners_xy() for b in boxes])  # [n, 4, 2]
    zr = np.array([b.z_range for b in boxes])  # [n, 2]
    yaw = np.radians([b.yaw for b in boxes])
    axes = np.stack([np.stack([np.cos(yaw), np.sin(yaw)], -1), np.stack([-np.sin(yaw), np.cos(yaw)], -1)], 1)  # [n, 2, 2]
    return corners, zr, axes


def penetration(boxes_a: list[Box], boxes_b: list[Box]) -> np.ndarray:
    """Interpenetration depth [n] of box pairs (boxes_a[i], boxes_b[i]) in metres; <= 0 when apart.

    Separating-axis test on the oriented footprints (4 axes) plus the z intervals.
    """
    return _pair_depth(*_footprint_axes(boxes_a), *_footprint_axes(boxes_b))


def _pair_depth(ca, za, aa, cb, zb, ab) -> np.ndarray:
    depth = np.minimum(za[:, 1], zb[:, 1]) - np.maximum(za[:, 0], zb[:, 0])
    for axes in (aa, ab):
        for k in range(2):
            ax = axes[:, k]  # [n, 2]
            pa = np.einsum("mcd,md->mc", ca, ax)
            pb = np.einsum("mcd,md->mc", cb, ax)
            depth = np.minimum(depth, np.minimum(pa.max(1), pb.max(1)) - np.maximum(pa.min(1), pb.min(1)))
    return depth


def collides(box: Box, others: list[Box], clearance: float = 0.0) -> bool:
    """Whether `box` comes within `clearance` of any of `others` side by side, or interpenetrates
    one (resting on top of another counts as neither). Flat and wall objects are exempt."""
    others = [o for o in others if o.label not in FLAT_LABELS | WALL_LABELS]
    if not others or box.label in FLAT_LABELS | WALL_LABELS:
        return False
    ca, za, aa = _footprint_axes([box] * len(others))
    cb, zb, ab = _footprint_axes(others)
    z_overlap = np.minimum(za[:, 1], zb[:, 1]) - np.maximum(za[:, 0], zb[:, 0])
    flat = np.stack([za[:, 0] - 1, za[:, 0] + 1], 1)  # same z span: compare footprints only
    xy_depth = _pair_depth(ca, flat, aa, cb, flat, ab)
    return bool(((z_overlap > 0.005) & (xy_depth > -clearance)).any())


def first_overlap(boxes: list[Box]) -> tuple[int, int, float] | None:
    """The first pair of boxes interpenetrating by more than OVERLAP_TOLERANCE, with the depth.

    Flat coverings and wall-mounted objects are exempt against everything.
    """
    idx = [i for i, b in enumerate(boxes) if b.label not in FLAT_LABELS | WALL_LABELS]
    if len(idx) < 2:
        return None
    corners, zr, axes = _footprint_axes([boxes[i] for i in idx])
    # Broad phase on bounding circles, exact test on the survivors.
    centers = corners.mean(1)
    radius = np.linalg.norm(corners - centers[:, None], axis=-1).max(1)
    ii, jj = np.triu_indices(len(idx), 1)
    near = np.linalg.norm(centers[ii] - centers[jj], axis=1) < radius[ii] + radius[jj]
    ii, jj = ii[near], jj[near]
    if len(ii) == 0:
        return None
    depth = _pair_depth(corners[ii], zr[ii], axes[ii], corners[jj], zr[jj], axes[jj])
    bad = np.nonzero(depth > OVERLAP_TOLERANCE)[0]
    if len(bad) == 0:
        return None
    k = bad[0]
    return idx[ii[k]], idx[jj[k]], float(depth[k])


# ---- voxel form ------------------------------------------------------------------------------
@dataclass
class VoxelGrid:
    """An integer grid [X, Y, Z] (0 = empty) with a table id -> {"label", "color"}.

    Voxel (i, j, k) spans origin + voxel_size * ([i, j, k], [i+1, j+1, k+1]).
    """

    grid: np.ndarray
    table: dict[int, dict]
    voxel_size: float
    origin: tuple[float, float, float]

    def save(self, path: str | os.PathLike) -> None:
        """Write GRID.npy plus GRID.json (table, voxel_size, origin) beside it."""
        from .formats.base import atomic_write
        import io

        path = Path(path)
        buf = io.BytesIO()
        np.save(buf, self.grid)
        atomic_write(path, [buf.getvalue()])
        meta = {"version": LAYOUT_VERSION, "voxel_size": self.voxel_size, "origin": list(self.origin),
                "table": {str(k): v for k, v in self.table.items()}}
        atomic_write(path.with_suffix(".json"), [json.dumps(meta, indent=2).encode()])

    @classmethod
    def load(cls, path: str | os.PathLike) -> "VoxelGrid":
        from .formats.base import read_json, read_npy

        path = Path(path)

        def check(shape, dtype) -> str | None:  # before anything is allocated
            if not np.issubdtype(dtype, np.integer):
                return f"voxel grid must hold integers, got dtype {dtype}"
            if len(shape) != 3:
                return f"voxel grid must be 3-D [X, Y, Z], got shape {shape}"
            if math.prod(shape) > MAX_VOXELS:
                return f"voxel grid {shape} has more than {MAX_VOXELS} voxels"
            return None

        grid = read_npy(path, LayoutError, check)
        meta = read_json(path.with_suffix(".json"), LayoutError, max_bytes=16 << 20)
        return voxel_grid_from_parts(grid, meta, str(path))


def voxel_grid_from_parts(grid: np.ndarray, meta: dict, source: str = "voxels") -> VoxelGrid:
    if not isinstance(grid, np.ndarray) or not np.issubdtype(grid.dtype, np.integer):
        raise LayoutError(f"{source}: voxel grid must be an integer array, got {getattr(grid, 'dtype', type(grid).__name__)}")
    if grid.ndim != 3 or grid.size > MAX_VOXELS:
        raise LayoutError(f"{source}: voxel grid must be 3-D with at most {MAX_VOXELS} voxels, got shape {grid.shape}")
    if not isinstance(meta, dict):
        raise LayoutError(f"{source}: voxel metadata must be a JSON object")
    try:
        table = {int(k): v for k, v in meta.get("table", {}).items()}
    except (ValueError, AttributeError):
        raise LayoutError(f"{source}: voxel table keys must be integer ids") from None
    for k, v in table.items():
        if k <= 0 or not isinstance(v, dict) or v.get("label") not in OBJECT_LABELS:
            raise LayoutError(f"{source}: voxel table entry {k} must map an id > 0 to a known label, got {v!r}"[:300])
        _color(v.get("color", "#808080"), f"{source}: voxel table entry {k} color")
    present = set(np.unique(grid).tolist()) - {0}
    unknown = sorted(present - set(table))
    if unknown:
        raise LayoutError(f"{source}: voxel ids {unknown[:10]} are not in the label table")
    size = meta.get("voxel_size")
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not (0 < size <= 100):
        raise LayoutError(f"{source}: voxel_size must be a positive number of metres, got {size!r}")
    origin = tuple(_number_list(meta.get("origin", [0, 0, 0]), 3, f"{source}: origin"))
    extent = max(grid.shape) * size
    if extent > MAX_EXTENT_M:
        raise LayoutError(f"{source}: {max(grid.shape)} voxels of {size:g} m span {extent:g} m; at most {MAX_EXTENT_M:g} m")
    return VoxelGrid(grid.astype(np.int32, copy=False), table, float(size), origin)  # type: ignore[arg-type]


def layout_to_voxels(layout: Layout, voxel_size: float = 0.1) -> VoxelGrid:
    """Rasterise every box into a grid covering the shell; one table id per (label, colour)."""
    lo, hi = layout.bounds()
    shape = np.maximum(np.ceil((hi - lo) / voxel_size - 1e-9).astype(int), 1)
    if int(np.prod(shape)) > MAX_VOXELS:
        raise LayoutError(f"layout at {voxel_size} m voxels needs a {tuple(shape)} grid; over {MAX_VOXELS} voxels")
    grid = np.zeros(tuple(shape), dtype=np.int32)
    ids: dict[tuple[str, str], int] = {}
    centers = [lo[k] + (np.arange(n) + 0.5) * voxel_size for k, n in enumerate(shape)]
    for o in layout.objects:
        key = (o.label, o.color)
        vid = ids.setdefault(key, len(ids) + 1)
        c, s = math.cos(math.radians(o.yaw)), math.sin(math.radians(o.yaw))
        z0, z1 = o.z_range
        kz = np.nonzero((centers[2] >= z0) & (centers[2] < z1))[0]
        X, Y = np.meshgrid(centers[0], centers[1], indexing="ij")
        dx, dy = X - o.center[0], Y - o.center[1]
        u, v = c * dx + s * dy, -s * dx + c * dy
        inside = (np.abs(u) <= o.size[0] / 2) & (np.abs(v) <= o.size[1] / 2)
        if len(kz):
            grid[:, :, kz[0] : kz[-1] + 1][inside] = vid
    table = {v: {"label": k[0], "color": k[1]} for k, v in ids.items()}
    return VoxelGrid(grid, table, voxel_size, tuple(lo.tolist()))  # type: ignore[arg-type]


def voxels_to_layout(vox: VoxelGrid, shell: Shell | None = None, scene_type: str = "") -> Layout:
    """Each connected component of one id becomes an axis-aligned box (yaw 0)."""
    from scipy import ndimage

    boxes = []
    for vid, entry in sorted(vox.table.items()):
        comp, n = ndimage.label(vox.grid == vid)
        for sl in ndimage.find_objects(comp):
            if sl is None:
                continue
            lo = np.array(vox.origin) + vox.voxel_size * np.array([s.start for s in sl])
            hi = np.array(vox.origin) + vox.voxel_size * np.array([s.stop for s in sl])
            boxes.append(Box(entry["label"], entry.get("color", "#808080"), ((lo + hi) / 2).round(6).tolist(),
                             (hi - lo).round(6).tolist(), 0.0))
    if shell is None:
        extent = np.array(vox.grid.shape) * vox.voxel_size
        lo = np.array(vox.origin)
        if not np.allclose(lo[:2], -extent[:2] / 2, atol=1e-6) or abs(lo[2]) > 1e-6:
            # Re-centre so the shell (centred on the origin, floor at z = 0) covers the grid.
            shift = -lo - np.array([extent[0] / 2, extent[1] / 2, 0.0])
            for b in boxes:
                b.center = (np.array(b.center) + shift).round(6).tolist()
        shell = Shell("room", [float(extent[0]), float(extent[1]), float(max(extent[2], 0.1))])
    return Layout(shell, boxes, scene_type).validate("voxels")


def load_layout_file(path: str | os.PathLike) -> Layout:
    """A box layout .json, or a voxel grid .npy (with its .json table) made into boxes."""
    path = Path(path)
    return voxels_to_layout(VoxelGrid.load(path)) if path.suffix.lower() == ".npy" else Layout.load(path)
