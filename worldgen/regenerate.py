"""Regenerating a selected region of a world through the frame model.

The views of the world that see the region most are re-rendered by the frame model with the
world's spatial memory, from which the region has been cut out (its pixels lose their depth, so
nothing old is warped into it and the model fills it from the layout guide and the prompt). The
new frames' pixels that land in the region are lifted into fresh Gaussians, fitted to those
frames alone (black, depthless elsewhere, so they keep to the region); the caller swaps them in
for the selection (`renderer.edit` "replace").
"""

from __future__ import annotations

import torch
from torch import Tensor

from renderer import Camera, GaussianScene
from renderer.edit import EditError
from renderer.lift import LiftConfig, initial_scene, lift
from renderer.warp import unproject

from .config import DEFAULT_FRAME_MODEL
from .models import frame_model, text_encoder_of, text_states
from .world import World

REGION_MARGIN_M = 0.1
MAX_REGION_POINTS = 20_000


def _in_box(points: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    return ((points >= lo) & (points <= hi)).all(dim=-1)


def views_of_region(cameras: list[Camera], points: Tensor, views: int) -> list[Camera]:
    """The `views` cameras in which the most of `points` [P, 3] project inside the frame."""
    seen = []
    for cam in cameras:
        uv, z = cam.project(points)
        inside = (z > 1e-3) & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
        seen.append(int(inside.sum()))
    order = sorted(range(len(cameras)), key=lambda i: (-seen[i], i))
    return [cameras[i] for i in order[:views] if seen[i] > 0]


def regenerate_region(world: World, scene: GaussianScene, mask: Tensor, *, seed: int = 0, views: int = 4,
                      time_budget_s: float | None = 6.0, lift_steps: int | None = None,
                      checkpoint=DEFAULT_FRAME_MODEL) -> GaussianScene:
    """New Gaussians for the region of `scene` selected by `mask` [N], made by the frame model."""
    from renderer.guide import GuideRenderer
    from rtfm.inputs import Condition, MemoryFrame, layout_grid
    from rtfm.layers import resize_map
    from rtfm.rollout import rollout

    from .explore import world_memory

    pts = scene.means.detach()[mask]
    lo, hi = pts.amin(0) - REGION_MARGIN_M, pts.amax(0) + REGION_MARGIN_M
    sample = pts[torch.randperm(len(pts), generator=torch.Generator().manual_seed(seed))[:2000]]
    chosen = views_of_region(world.cameras, sample, views)
    if not chosen:
        raise EditError("none of the world's cameras sees the selected region, so it cannot be regenerated")
    model = frame_model(checkpoint)
    res = model.cfg.resolution
    memory = world_memory(world, (res, res), capacity=32)
    for i, f in enumerate(memory.frames):  # cut the region out of what memory may warp in
        points, valid = unproject(f.depth[None], [f.camera])
        inside = _in_box(points[0], lo, hi) & valid[0]
        memory.replace(i, MemoryFrame(f.camera, f.rgb, torch.where(inside, torch.zeros_like(f.depth), f.depth), f.label))
    layout = world.layout
    prompt = (world.manifest.get("inputs") or {}).get("prompt")
    condition = Condition(text=text_states(text_encoder_of(checkpoint))(prompt) if prompt else None,
                          layout=None if layout is None else layout_grid(layout, model.cfg.layout_grid))
    guide = None if layout is None else GuideRenderer(layout).render
    short = lambda c: c.scaled(round(c.width * res / min(c.width, c.height)), round(c.height * res / min(c.width, c.height)))  # noqa: E731
    made = list(rollout(model, [short(c) for c in chosen], condition, memory, guide, seed=seed))
    cams, images, depths, labels = [], [], [], []
    for cam, f in zip(chosen, made):
        depth = resize_map(f.depth, cam.width, cam.height, "nearest")
        points, valid = unproject(depth[None], [cam])
        keep = _in_box(points[0], lo, hi) & valid[0]
        cams.append(cam)
        images.append(resize_map(f.rgb, cam.width, cam.height, "bilinear").clamp(0, 1) * keep[..., None])
        depths.append(torch.where(keep, depth, torch.zeros_like(depth)))
        labels.append(torch.where(keep, resize_map(f.label, cam.width, cam.height, "nearest").long(), -1))
    images, depths, labels = torch.stack(images), torch.stack(depths), torch.stack(labels)
    if not (depths > 0).any():
        raise EditError("the frame model put nothing inside the selected region; try another seed or a larger region")
    n = int(min(max(int(mask.sum()), 2000), MAX_REGION_POINTS))
    init = initial_scene(cams, images, depths, labels, n, torch.Generator().manual_seed(seed))
    cfg = (LiftConfig(iterations=lift_steps, seed=seed, densify=False) if lift_steps is not None else
           LiftConfig(iterations=100_000, time_budget_s=time_budget_s, seed=seed, densify=False))
    fitted = lift(cams, images, depths, labels, cfg, init=init).scene.detach()
    inside = _in_box(fitted.means, lo - REGION_MARGIN_M, hi + REGION_MARGIN_M)
    if not inside.any():
        raise EditError("the regenerated region lifted to nothing inside it")
    return fitted.subset(inside)
