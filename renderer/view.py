"""Cameras chosen from a scene's extent: the default views of the CLI and the editor."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .camera import Camera
from .gaussians import GaussianScene, SceneError


def robust_bounds(scene: GaussianScene, quantile: float = 0.01) -> tuple[Tensor, Tensor]:
    """Bounds of the means between the `quantile` and 1 - `quantile` per axis (ignores stray floaters)."""
    if len(scene) == 0:
        raise SceneError("an empty scene has no bounds")
    m = scene.means.detach().float().cpu()
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
    lo, hi = robust_bounds(scene)
    center = (lo + hi) / 2
    if distance is None:
        radius = max(float((hi - lo).norm()) / 2, 1e-3)
        fov = math.radians(min(fov_y_deg, fov_y_deg * width / height))
        distance = 1.1 * radius / math.sin(fov / 2)
    return Camera.orbit(center, distance, azimuth_deg, elevation_deg, width=width, height=height, fov_y_deg=fov_y_deg)
