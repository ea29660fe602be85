"""A layout -> a detailed, lit triangle-mesh world (shell + one parametric asset per box)."""

from __future__ import annotations

import math

import numpy as np

from renderer.guide import shell_parts
from renderer.layout import LABEL_IDS, Layout
from renderer.raycast import Light, MeshWorld
from .assets import MATERIALS, build_asset


FLAT_M = 0.1  # an object this low (a path, a pond, a rug) lies on the ground and follows it


def _drape(mesh, ground_height, base_z: float) -> None:
    """Lift each vertex of a flat object by the ground's rise above the object's base, so a path or
    pond on a hillside lies on the slope instead of being buried by its uphill side."""
    v = mesh.vertices.copy()
    v[:, 2] += ground_height(v[:, 0], v[:, 1]) - base_z
    mesh.vertices = v


def build_world(layout: Layout, seed: int = 0) -> MeshWorld:
    """Deterministic in (layout, seed): the same inputs give the same triangles and lights."""
    rng = np.random.default_rng(seed)
    parts = list(shell_parts(layout))
    if layout.shell.kind == "room" and rng.random() < 0.3:  # sometimes one brick accent wall
        mesh, _, rgb, label, inst = parts[2]
        parts[2] = (mesh, "brick", (0.62, 0.33, 0.25), label, inst)
    for i, box in enumerate(layout.objects):
        for part in build_asset(box, np.random.default_rng([seed, i])):
            if box.size[2] <= FLAT_M and layout.shell.terrain == "hilly" and layout.shell.kind == "outdoor":
                _drape(part.mesh, layout.shell.ground_height, box.center[2] - box.size[2] / 2)
            parts.append((part.mesh, part.material, part.rgb, LABEL_IDS[box.label], i + 1))
    if layout.shell.kind == "room":
        h = layout.shell.size[2]
        lights = [Light(position=(float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.3, 0.3)), h - 0.25),
                        intensity=0.85, falloff=0.04, color=(1.0, 0.97, 0.9))]
        ambient = 0.38
    else:
        az, el = rng.uniform(0, 2 * math.pi), math.radians(rng.uniform(35, 65))
        sun = (-math.cos(el) * math.cos(az), -math.cos(el) * math.sin(az), -math.sin(el))
        lights = [Light(direction=sun, intensity=0.85, color=(1.0, 0.96, 0.88))]
        ambient = 0.42
    return MeshWorld.from_parts(parts, MATERIALS, lights=lights, ambient=ambient, sky=layout.shell.kind == "outdoor")
