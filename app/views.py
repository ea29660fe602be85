"""Server-side views for the editor: a camera that orbits, walks and turns, and renders of the
splats from it (with the selection highlighted)."""

from __future__ import annotations

import math

import numpy as np
import torch

from renderer import Camera, GaussianScene, render
from renderer.edit import highlighted
from renderer.layout import STRUCTURE_LABELS
from renderer.view import frame_orbit_camera, robust_bounds
from rtfm.session import moved

VIEW_SIZE = (384, 288)
WALK_M = 0.4
TURN_DEG = 20.0
ORBIT_DEG = 30.0
# control -> (rtfm.session action, amount); "orbit"/"zoom" are handled here
CONTROLS = {"forward": ("move", WALK_M), "back": ("move", -WALK_M), "left": ("strafe", -WALK_M),
            "right": ("strafe", WALK_M), "up": ("rise", WALK_M / 2), "down": ("rise", -WALK_M / 2),
            "turn left": ("turn", TURN_DEG), "turn right": ("turn", -TURN_DEG), "look up": ("look", 10.0),
            "look down": ("look", -10.0), "orbit left": ("orbit", ORBIT_DEG), "orbit right": ("orbit", -ORBIT_DEG),
            "zoom in": ("zoom", 0.8), "zoom out": ("zoom", 1.25)}


def _objects_seen(camera: Camera, points: torch.Tensor) -> int:
    uv, z = camera.project(points)
    return int(((z > 0.1) & (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0)
                & (uv[:, 1] < camera.height)).sum())


def start_camera(cameras: list[Camera], scene: GaussianScene, size=VIEW_SIZE) -> Camera:
    """Of the world's cameras, the one that sees the most of its objects (not walls or floor), at
    the view size; an orbit view of the whole scene when the world has no cameras."""
    w, h = size
    if cameras:
        objects = scene.means.detach()[scene.labels >= len(STRUCTURE_LABELS)]
        objects = objects[torch.randperm(len(objects), generator=torch.Generator().manual_seed(0))[:4000]]
        c = max(cameras, key=lambda cam: _objects_seen(cam, objects)) if len(objects) else cameras[0]
        fov = math.degrees(2 * math.atan(c.height / 2 / float(c.K[1, 1])))
        return Camera(Camera.intrinsics_from_fov(fov, w, h), c.c2w.clone(), w, h)
    return frame_orbit_camera(scene, 30.0, 25.0, w, h)


def _pivot(scene: GaussianScene) -> torch.Tensor:
    lo, hi = robust_bounds(scene)
    return ((lo + hi) / 2).double()


def control(camera: Camera, name: str, scene: GaussianScene) -> Camera:
    """The camera after one control press."""
    action, amount = CONTROLS[name]
    if action == "orbit":  # rotate the camera about a vertical axis through the scene's centre
        a = math.radians(amount)
        R = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]],
                         dtype=torch.float64)
        p = _pivot(scene)
        c2w = camera.c2w.double().clone()
        c2w[:3, :3] = R @ c2w[:3, :3]
        c2w[:3, 3] = R @ (c2w[:3, 3] - p) + p
        return Camera(camera.K, c2w.float(), camera.width, camera.height)
    if action == "zoom":  # towards / away from the scene's centre
        p = _pivot(scene)
        c2w = camera.c2w.double().clone()
        c2w[:3, 3] = p + (c2w[:3, 3] - p) * amount
        return Camera(camera.K, c2w.float(), camera.width, camera.height)
    return moved(camera, action, amount)


def render_view(scene: GaussianScene, camera: Camera, selection: torch.Tensor | None = None) -> np.ndarray:
    """uint8 [H, W, 3]: the splats from `camera`, the selection highlighted when given."""
    shown = scene if selection is None else highlighted(scene, selection)
    if len(shown) == 0:
        return np.zeros((camera.height, camera.width, 3), np.uint8)
    with torch.no_grad():
        rgb = render(shown, camera, with_labels=False).rgb[0].clamp(0, 1)
    return (rgb * 255).round().byte().numpy()


def upscaled(rgb: torch.Tensor, size=VIEW_SIZE) -> np.ndarray:
    """A small frame [h, w, 3] in [0, 1] (the frame model's) as uint8 at the view size."""
    from PIL import Image

    img = Image.fromarray((rgb.clamp(0, 1).numpy() * 255).round().astype(np.uint8))
    return np.asarray(img.resize(size, Image.BILINEAR))
