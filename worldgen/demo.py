"""A seeded demo splat scene: a checkered ground with a few labelled objects.

Gaussians are sampled on the surfaces of analytic shapes, flattened along the surface normal
and sized so that the surfaces are closed at the requested count, like a lifted scene. Used
by `worldgen demo`, the benchmarks and the tests until generated worlds replace it.
"""

from __future__ import annotations

import math

import torch

from renderer import GaussianScene
from renderer.errors import ArgumentError
from renderer.gaussians import quat_multiply, rgb_to_sh0

# label id -> (name, colour)
DEMO_LABELS = {0: ("ground", (0.55, 0.6, 0.5)), 1: ("sphere", (0.85, 0.25, 0.2)),
               2: ("box", (0.2, 0.45, 0.85)), 3: ("pillar", (0.95, 0.8, 0.3)), 4: ("ring", (0.3, 0.75, 0.4))}


def _quat_from_z_to(normals: torch.Tensor) -> torch.Tensor:
    """Unit w-first quaternions [N, 4] that rotate +Z onto each normal [N, 3]."""
    z = torch.tensor([0.0, 0.0, 1.0]).expand_as(normals)
    axis = torch.linalg.cross(z, normals)
    w = 1.0 + (normals * z).sum(1, keepdim=True)
    q = torch.cat([w, axis], dim=1)
    flip = w[:, 0] < 1e-6  # normal = -Z: rotate 180 degrees about X
    q[flip] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    return torch.nn.functional.normalize(q, dim=1)


def _surfel_scene(points, normals, rgb, label, spacing, gen) -> GaussianScene:
    n = points.shape[0]
    twist = torch.rand(n, generator=gen) * math.pi  # random in-plane rotation about the normal
    q_twist = torch.stack([torch.cos(twist / 2), torch.zeros(n), torch.zeros(n), torch.sin(twist / 2)], dim=1)
    quats = quat_multiply(_quat_from_z_to(normals), q_twist)
    tangent = spacing * (0.8 + 0.4 * torch.rand(n, 2, generator=gen))
    scales = torch.cat([tangent, 0.15 * tangent[:, :1]], dim=1)
    sh = torch.zeros(n, 4, 3)
    sh[:, 0] = rgb_to_sh0(rgb)
    sh[:, 1:] = 0.05 * torch.randn(n, 3, 3, generator=gen)  # a little view dependence
    return GaussianScene(points, quats, scales.log(), torch.full((n,), 3.0), sh, torch.full((n,), label, dtype=torch.int64))


def demo_scene(num_gaussians: int = 50_000, seed: int = 0) -> GaussianScene:
    """About `num_gaussians` surface Gaussians in a 4 m x 4 m scene centred on the origin, +Z up."""
    if num_gaussians < 16:
        raise ArgumentError(f"demo scene needs at least 16 Gaussians, got {num_gaussians}")
    gen = torch.Generator().manual_seed(seed)
    rand = lambda *s: torch.rand(*s, generator=gen)  # noqa: E731
    # Surface areas decide how the budget is shared, so the density is uniform.
    areas = {"ground": 16.0, "sphere": 4 * math.pi * 0.5**2, "box": 6 * 0.7**2, "pillar": 2 * math.pi * 0.25 * 1.6, "ring": 4 * math.pi**2 * 0.45 * 0.12}
    total = sum(areas.values())
    count = {k: max(4, int(num_gaussians * a / total)) for k, a in areas.items()}
    spacing = math.sqrt(total / num_gaussians)
    parts = []

    def color(label, n, jitter=0.06):
        base = torch.tensor(DEMO_LABELS[label][1])
        return (base + jitter * (rand(n, 3) - 0.5)).clamp(0, 1)

    n = count["ground"]  # checkered ground plane z = 0
    p = torch.cat([(rand(n, 2) - 0.5) * 4.0, torch.zeros(n, 1)], dim=1)
    checker = ((p[:, 0].floor() + p[:, 1].floor()) % 2)[:, None]
    rgb = color(0, n) * (0.75 + 0.25 * checker)
    parts.append(_surfel_scene(p, torch.tensor([[0.0, 0, 1]]).expand(n, 3), rgb, 0, spacing, gen))

    n = count["sphere"]  # sphere r = 0.5 at (-0.8, -0.6, 0.5)
    d = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=1)
    rgb = color(1, n) * (0.8 + 0.2 * (d[:, 2:3] > 0.3))
    parts.append(_surfel_scene(torch.tensor([-0.8, -0.6, 0.5]) + 0.5 * d, d, rgb, 1, spacing, gen))

    n = count["box"]  # axis-aligned cube, side 0.7, rotated 30 degrees about Z, at (0.9, -0.4)
    face = torch.randint(0, 6, (n,), generator=gen)
    axis, sign = face // 2, (face % 2) * 2 - 1
    local = (rand(n, 3) - 0.5) * 0.7
    local[torch.arange(n), axis] = 0.35 * sign
    normal = torch.zeros(n, 3)
    normal[torch.arange(n), axis] = sign.float()
    c, s_ = math.cos(math.pi / 6), math.sin(math.pi / 6)
    R = torch.tensor([[c, -s_, 0], [s_, c, 0], [0, 0, 1.0]])
    parts.append(_surfel_scene(local @ R.T + torch.tensor([0.9, -0.4, 0.35]), normal @ R.T, color(2, n) * (0.85 + 0.15 * normal[:, 2:3].abs()), 2, spacing, gen))

    n = count["pillar"]  # cylinder r = 0.25, height 1.6 at (0.2, 0.9)
    t = rand(n) * 2 * math.pi
    normal = torch.stack([torch.cos(t), torch.sin(t), torch.zeros(n)], dim=1)
    p = torch.stack([0.2 + 0.25 * torch.cos(t), 0.9 + 0.25 * torch.sin(t), 1.6 * rand(n)], dim=1)
    stripes = (torch.floor(p[:, 2] * 5) % 2)[:, None]
    parts.append(_surfel_scene(p, normal, color(3, n) * (0.7 + 0.3 * stripes), 3, spacing, gen))

    n = count["ring"]  # torus R = 0.45, r = 0.12, standing upright at (-0.9, 0.9, 0.6)
    u, v = rand(n) * 2 * math.pi, rand(n) * 2 * math.pi
    normal = torch.stack([torch.cos(u) * torch.cos(v), torch.sin(v), torch.sin(u) * torch.cos(v)], dim=1)
    ring_center = torch.stack([0.45 * torch.cos(u), torch.zeros(n), 0.45 * torch.sin(u)], dim=1)
    parts.append(_surfel_scene(torch.tensor([-0.9, 0.9, 0.6]) + ring_center + 0.12 * normal, normal, color(4, n), 4, spacing, gen))
    return GaussianScene.concat(parts)
