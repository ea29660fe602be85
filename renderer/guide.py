"""Guide renders of a coarse layout: its boxes and shell, flat-coloured, from any camera.

The frame model needs, at every new camera, what the layout says should be there: per pixel
the label id, the layout colour and the metric depth of the boxes. Building the BVH once per
layout (`GuideRenderer`) makes each further view a single ray cast.
"""

from __future__ import annotations

import numpy as np
import trimesh

from .camera import Camera
from .layout import LABEL_IDS, Layout, hex_to_rgb
from .raycast import MeshWorld, raycast


def shell_parts(layout: Layout, ground_resolution: int = 48):
    """The shell as (mesh, material, rgb, label id, instance 0) parts: floor, walls, ceiling or ground."""
    sh = layout.shell
    sx, sy = sh.size[0], sh.size[1]
    parts = []
    if sh.kind == "room":
        h, t = sh.size[2], 0.1
        box = lambda lo, hi: trimesh.creation.box(bounds=np.array([lo, hi], float))  # noqa: E731
        parts.append((box([-sx / 2, -sy / 2, -t], [sx / 2, sy / 2, 0]), "wood", hex_to_rgb(sh.floor_color), LABEL_IDS["floor"], 0))
        wall = hex_to_rgb(sh.wall_color)
        for lo, hi in (([-sx / 2 - t, -sy / 2 - t, 0], [sx / 2 + t, -sy / 2, h]), ([-sx / 2 - t, sy / 2, 0], [sx / 2 + t, sy / 2 + t, h]),
                       ([-sx / 2 - t, -sy / 2, 0], [-sx / 2, sy / 2, h]), ([sx / 2, -sy / 2, 0], [sx / 2 + t, sy / 2, h])):
            parts.append((box(lo, hi), "paint", wall, LABEL_IDS["wall"], 0))
        parts.append((box([-sx / 2, -sy / 2, h], [sx / 2, sy / 2, h + t]), "paint", (0.96, 0.96, 0.95), LABEL_IDS["ceiling"], 0))
    else:
        # Ground reaching well past the scene so the horizon is ground, not void.
        n = ground_resolution
        xs, ys = np.meshgrid(np.linspace(-sx / 2, sx / 2, n), np.linspace(-sy / 2, sy / 2, n), indexing="ij")
        zs = sh.ground_height(xs, ys)
        inner = trimesh.Trimesh(np.stack([xs, ys, zs], -1).reshape(-1, 3), _grid_faces(n, n), process=False)
        far = max(sx, sy) * 4
        outer = trimesh.creation.box(bounds=np.array([[-far, -far, -0.2], [far, far, -0.001]]))
        ground = hex_to_rgb(sh.ground_color)
        parts.append((inner, "grass", ground, LABEL_IDS["ground"], 0))
        parts.append((outer, "grass", ground, LABEL_IDS["ground"], 0))
    return parts


def _grid_faces(nx: int, ny: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), indexing="ij")
    a = (i * ny + j).ravel()
    b, c, d = a + ny, a + 1, a + ny + 1
    return np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])


def box_mesh(center, size, yaw_deg) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=np.asarray(size, float))
    m.apply_transform(trimesh.transformations.rotation_matrix(np.radians(yaw_deg), [0, 0, 1]))
    m.apply_translation(center)
    return m


class GuideRenderer:
    """Flat-coloured renders of a layout's boxes and shell: rgb, depth, label, instance per pixel."""

    def __init__(self, layout: Layout):
        parts = shell_parts(layout, ground_resolution=16)
        for i, o in enumerate(layout.objects):
            parts.append((box_mesh(o.center, o.size, o.yaw), "paint", o.rgb, LABEL_IDS[o.label], i + 1))
        self.world = MeshWorld.from_parts(parts, ["paint", "wood", "grass"], lights=[], ambient=1.0,
                                          sky=layout.shell.kind == "outdoor")

    def render(self, camera: Camera) -> dict[str, np.ndarray]:
        out = raycast(self.world, camera, shadows=False, textured=False)
        out.pop("normal")
        return out


def render_guide(layout: Layout, camera: Camera) -> dict[str, np.ndarray]:
    return GuideRenderer(layout).render(camera)
