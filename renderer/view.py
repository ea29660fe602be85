"""Cameras chosen from a scene's extent: the default views of the CLI and the editor."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .camera import Camera, look_at_c2w
from .errors import ArgumentError
from .gaussians import GaussianScene, SceneError
from .sky import shell_mask


def robust_bounds(scene: GaussianScene, quantile: float = 0.01) -> tuple[Tensor, Tensor]:
    """Bounds of the means between the `quantile` and 1 - `quantile` per axis (ignores stray floaters
    and the far sky shell, renderer.sky, unless the scene is nothing else)."""
    if len(scene) == 0:
        raise SceneError("an empty scene has no bounds")
    m = scene.means.detach().float().cpu()
    body = ~shell_mask(scene).cpu()
    if body.any():
        m = m[body]
    if len(m) > 200_000:  # quantile on a strided sample: exact enough, bounded cost
        m = m[:: len(m) // 200_000]
    return torch.quantile(m, quantile, dim=0), torch.quantile(m, 1 - quantile, dim=0)


def frame_orbit_camera(
    scene: GaussianScene,
    azimuth_deg: float,
    elevation_deg: float,
    width: int,
    height: int,
    fov_y_deg: float = 60.0,
    distance: float | None = None,
) -> Camera:
    """An orbit camera around the scene's centre; by default far enough to see all of it."""
    if not (math.isfinite(azimuth_deg) and math.isfinite(elevation_deg)):
        raise ArgumentError(f"azimuth and elevation must be finite degrees, got {azimuth_deg} and {elevation_deg}")
    lo, hi = robust_bounds(scene)
    center = (lo + hi) / 2
    if distance is None:
        radius = max(float((hi - lo).norm()) / 2, 1e-3)
        fov = math.radians(min(fov_y_deg, fov_y_deg * width / height))
        distance = 1.1 * radius / math.sin(fov / 2)
    return Camera.orbit(center, distance, azimuth_deg, elevation_deg, width=width, height=height, fov_y_deg=fov_y_deg)


def exploration_path(start: Camera, n: int, max_yaw_deg: float = 40.0, step_back_m: float = 0.5,
                     max_pitch_deg: float = 10.0) -> list[Camera]:
    """n cameras exploring around a starting view (a user's photo): turn left, sweep right, come back
    while stepping back, then look around a little higher and lower. Same intrinsics as `start`;
    yaw is about world +Z through the camera's position."""
    if n < 1:
        raise ArgumentError(f"an exploration path needs at least one camera, got {n}")
    fwd = start.forward.double()
    base_yaw = math.atan2(float(fwd[1]), float(fwd[0]))
    base_pitch = math.asin(max(-1.0, min(1.0, float(fwd[2]))))
    back = torch.tensor([math.cos(base_yaw), math.sin(base_yaw), 0.0], dtype=torch.float64)
    out = []
    for i in range(n):
        t = (i + 1) / n  # 0 is the start view itself
        if t <= 0.5:  # turn left, then right, symmetric about the start
            yaw, pitch, retreat = max_yaw_deg * math.sin(4 * math.pi * t), 0.0, 0.0
        else:  # step back while swinging gently, looking up and down
            u = (t - 0.5) * 2
            yaw = 0.7 * max_yaw_deg * math.sin(2 * math.pi * u)
            pitch, retreat = max_pitch_deg * math.sin(4 * math.pi * u), step_back_m * min(1.0, 2 * u)
        y, p = base_yaw + math.radians(yaw), base_pitch + math.radians(pitch)
        eye = start.position.double() - retreat * back
        look = torch.tensor([math.cos(p) * math.cos(y), math.cos(p) * math.sin(y), math.sin(p)], dtype=torch.float64)
        out.append(Camera(start.K, look_at_c2w(eye, eye + look), start.width, start.height))
    return out
