"""A procedural asset as Gaussians, to insert into a world: built into its box by the asset library,
ray cast (textured and lit like the engine's worlds) from views around it, and backprojected, one
Gaussian per pixel sample, each carrying the asset's label."""

from __future__ import annotations

import math

import numpy as np
import torch

from renderer import Camera, GaussianScene
from renderer.edit import EditError
from renderer.layout import LABEL_IDS, OBJECT_LABELS, Box
from renderer.lift import initial_scene
from renderer.raycast import Light, MeshWorld, raycast

VIEWS = 8
VIEW_SIZE = 128
POINTS = 12_000


def _views(box: Box) -> list[Camera]:
    """VIEWS cameras on a ring around the box, above its middle, looking at its centre."""
    c = np.asarray(box.center, float)
    r = 1.6 * max(float(np.linalg.norm(box.size)), 0.3)
    cams = []
    for k in range(VIEWS):
        a = 2 * math.pi * (k + 0.5) / VIEWS
        eye = c + np.array([r * math.cos(a), r * math.sin(a), 0.45 * r])
        cams.append(Camera.look_at(eye, c, width=VIEW_SIZE, height=VIEW_SIZE, fov_y_deg=45.0))
    return cams


def asset_gaussians(label: str, center, size, yaw_deg: float = 0.0, color: str = "#8a6f4e", seed: int = 0,
                    outdoor: bool = False) -> GaussianScene:
    """Gaussians [N] of a `label` asset standing in the box (center [3], size [3] metres, yaw)."""
    from renderer.layout import Layout
    from .procgen.assets import MATERIALS, build_asset

    if label not in OBJECT_LABELS:
        raise EditError(f"cannot insert {label!r}; known objects: {', '.join(OBJECT_LABELS)}"[:400])
    # the layout reader checks the box as it checks a layout file's (LayoutError names the problem)
    box = Layout.from_dict({"version": 1, "shell": {"kind": "outdoor", "size": [1000, 1000]},
                           "objects": [{"label": label, "color": color, "center": list(center), "size": list(size),
                                        "yaw": yaw_deg}]}, source=f"insert {label}").objects[0]
    parts = [(p.mesh, p.material, p.rgb, LABEL_IDS[label], 1) for p in build_asset(box, np.random.default_rng(seed))]
    light = Light(direction=(-0.4, -0.3, -0.85), intensity=0.85) if outdoor else Light(
        position=(box.center[0], box.center[1], box.center[2] + 2.5), intensity=0.85, falloff=0.04)
    world = MeshWorld.from_parts(parts, MATERIALS, lights=[light], ambient=0.42 if outdoor else 0.38, sky=False)
    cams = _views(box)
    shots = [raycast(world, cam) for cam in cams]
    depth = torch.from_numpy(np.stack([s["depth"] for s in shots])).float()
    if not (depth > 0).any():
        raise EditError(f"insert {label}: the asset is not visible from any view (box too small?)")
    images = torch.from_numpy(np.stack([s["rgb"] for s in shots])).float()
    labels = torch.from_numpy(np.stack([s["label"] for s in shots])).long()
    return initial_scene(cams, images, depth, labels, POINTS, torch.Generator().manual_seed(seed))
