"""Lifting posed frames into Gaussian splats.

Initialise from every pixel with depth, one Gaussian per voxel whose size follows the pixel's
footprint (so frames seeing the same surface do not stack duplicates), a disc in the surface's
plane carrying the voxel's mean colour and most frequent label (or, without depth, from given
points such as structure from motion's, else random points inside the cameras' shared view).
Where labels show sky without depth, a sky texture by view direction (renderer.sky) is fitted
with the splats as the background behind them, the splats' alpha is pushed to 0 there, and the
result carries the sky as a shell of far Gaussians.
Then optimise against the frames with the differentiable rasteriser: L1 + D-SSIM on colour,
L1 on depth where it is given, optional opacity and scale regularisers, Adam with gsplat's per-parameter learning rates (means decaying
exponentially), an SH degree schedule, and gsplat's `DefaultStrategy` for densification and
pruning (its ops are plain torch, so the same strategy object runs on CPU and CUDA). Stops on
an iteration count, a time budget or a PSNR target. Deterministic for a seed.

The scene keeps the world frame of the input poses. With `refine_poses` (poses from structure
from motion), each camera also gets a rigid correction fitted with the splats
(renderer.pose_refine), and the result carries the refined cameras.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .camera import Camera
from .errors import ArgumentError
from .gaussians import GaussianScene
from .pose_refine import corrected, moved_scene
from .raster import render
from .raycast import SKY_LABEL
from .sky import fit_sky, pixel_directions, quats_z_to, sample_sky, sky_shell


@dataclass
class LiftConfig:
    iterations: int = 3000
    time_budget_s: float | None = None  # stop after this many seconds of optimisation
    target_psnr: float | None = None  # stop once the running training PSNR reaches this
    init_points: int = 40_000  # Gaussians to start from (sampled pixels)
    max_sh_degree: int = 1
    sh_degree_every: int = 500  # raise the SH degree every this many steps (scaled with a time budget)
    lambda_dssim: float = 0.2
    lambda_depth: float = 0.1
    lambda_opacity: float = 0.0  # opacity regulariser: mean sigmoid(opacity) (gsplat's opacity_reg)
    lambda_scale: float = 0.0  # scale regulariser: mean exp(log scale) (gsplat's scale_reg)
    # Learning rates of the "draft" preset: a few hundred CPU steps want larger steps than the
    # 3DGS defaults (the "full" preset), which are tuned for tens of thousands of GPU steps.
    lr_means: float = 6e-4  # times the scene scale, decaying to 1% by the last iteration
    lr_scales: float = 4e-2
    lr_quats: float = 2e-3
    lr_opacities: float = 0.2
    lr_sh0: float = 4e-2
    lr_shN: float = 1e-3
    # A longer run wants smaller steps for colour and size and larger ones for position: from
    # `short_run_steps` planned steps to `long_run_steps`, these rates take over (geometrically
    # in the step count). None keeps the rate above at every length (the "full" preset).
    lr_means_long: float | None = 2.4e-3
    lr_scales_long: float | None = 1.2e-2
    lr_sh0_long: float | None = 1.2e-2
    short_run_steps: int = 100
    long_run_steps: int = 800
    densify: bool = True
    max_gaussians: int | None = None  # densification's cap: past it the least opaque Gaussians are pruned back to it
    refine_start: int = 200
    refine_stop_fraction: float = 0.6
    refine_every: int = 100
    grow_grad2d: float = 2e-4
    min_steps_to_densify: int = 1500  # under a time budget allowing fewer steps, densification only hurts
    # Without depth, given points (SfM's) also place init_points pixel samples at the depth of the
    # nearest point seen in their frame: a few hundred points alone cannot cover the frames in a
    # CPU budget too short to densify.
    spread_points: bool = True
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)  # behind the splats where no sky is modelled
    # Initialisation from depth: "voxel" (every pixel, one Gaussian per voxel of voxel_px pixel
    # footprints, discs of init_scale cells in the surface's plane) or "sample" (the reference:
    # init_points random pixels, spheres scaled by their nearest neighbours).
    init: str = "voxel"
    voxel_px: float = 2.0
    init_scale: float = 0.45  # standard deviation, in voxel cells
    init_flatness: float = 0.2  # disc thickness / width
    init_opacity: float = 0.8
    # The sky: "auto" models it where labels say sky and there is no depth, "depth" wherever
    # there is no depth (frames known to be outdoors), "off" never.
    sky: str = "auto"
    sky_size: tuple[int, int] = (32, 64)  # equirectangular texture rows x columns
    lr_sky: float = 0.005
    lambda_sky_alpha: float = 0.1  # pushes the splats' alpha to 0 on sky pixels
    sky_shell: int = 2000  # far Gaussians baked from the sky into the scene (0: the texture alone)
    # Poses from structure from motion are refined with the splats (renderer.pose_refine): a
    # rigid correction per camera, from `pose_start_fraction` of the steps on, when the scene has
    # taken shape. Off for poses known exactly (procedural and generated frames).
    refine_poses: bool = False
    lr_pose: float = 5e-3  # radians, and scene-scale units of translation, per step (a CPU budget gives each camera few)
    pose_start_fraction: float = 0.1
    tile_size: int = 8  # CPU rasteriser tiles
    seed: int = 0


    @classmethod
    def preset(cls, name: str, **overrides) -> "LiftConfig":
        """"draft": short CPU budgets (the defaults); "full": 3DGS's schedule for long GPU runs."""
        if name not in LIFT_PRESETS:
            raise ArgumentError(f"unknown lift preset {name!r}; choose from {', '.join(LIFT_PRESETS)}")
        return cls(**{**LIFT_PRESETS[name], **overrides})


LIFT_PRESETS = {
    "draft": {},
    "full": dict(iterations=30_000, lr_means=1.6e-4, lr_scales=5e-3, lr_quats=1e-3, lr_opacities=5e-2, lr_sh0=2.5e-3,
                 lr_shN=2.5e-3 / 20, max_sh_degree=3, sh_degree_every=1000, refine_start=500, refine_stop_fraction=0.5,
                 init_points=100_000, lr_means_long=None, lr_scales_long=None, lr_sh0_long=None),
}


@dataclass
class LiftResult:
    scene: GaussianScene
    history: list[dict] = field(default_factory=list)  # {"step", "seconds", "loss", "psnr", "gaussians"}
    steps: int = 0
    seconds: float = 0.0
    stopped_by: str = "iterations"
    sky: Tensor | None = None  # the fitted sky texture [3, H, W] (renderer.sky), None without sky pixels
    cameras: list[Camera] | None = None  # the refined cameras (with `refine_poses`), else None


def _knn_scale(points: np.ndarray, k: int = 4) -> np.ndarray:
    from scipy.spatial import cKDTree

    d, _ = cKDTree(points).query(points, k=k + 1)
    return np.sqrt((d[:, 1:] ** 2).mean(1)).clip(1e-4, None)


def depth_pixels(cameras: list[Camera], depths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Every pixel with depth, backprojected: (world points [P, 3], unit normals [P, 3] facing the
    camera, footprint [P] in metres (the pixel's width at its depth, z / f), edge [P] bool (a
    neighbour is another surface or has no depth), flat index [P] into the frames [M * H * W]).
    Normals come from the depth map's central differences; at an edge those would be
    meaningless, and the pixel faces its camera instead."""
    m, h, w = depths.shape
    valid = torch.isfinite(depths) & (depths > 0)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5, torch.arange(w, dtype=torch.float32) + 0.5,
                            indexing="ij")
    pix = torch.stack([xs, ys, torch.ones_like(xs)], -1)  # [H, W, 3]
    pts, normals, feet, edges, index = [], [], [], [], []
    for i, cam in enumerate(cameras):
        z = torch.where(valid[i], depths[i], 0.0)
        local = (pix @ torch.linalg.inv(cam.K).T) * z[..., None]  # [H, W, 3] camera space
        pad = F.pad(local.permute(2, 0, 1)[None], (1, 1, 1, 1), mode="replicate")[0].permute(1, 2, 0)
        zp = F.pad(z[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
        du, dv = pad[1:-1, 2:] - pad[1:-1, :-2], pad[2:, 1:-1] - pad[:-2, 1:-1]
        n = F.normalize(torch.cross(du, dv, dim=-1), dim=-1)
        # A neighbour more than 5% nearer or farther per pixel, or without depth, is another surface.
        near = torch.stack([zp[1:-1, 2:], zp[1:-1, :-2], zp[2:, 1:-1], zp[:-2, 1:-1]])
        smooth = ((near - z).abs() < 0.1 * z).all(0) & (near > 0).all(0)
        view = -F.normalize(local, dim=-1)
        n = torch.where((n * view).sum(-1, keepdim=True) < 0, -n, n)  # face the camera
        n = torch.where(smooth[..., None] & (n.norm(dim=-1, keepdim=True) > 0.5), n, view)
        sel = valid[i].reshape(-1).nonzero().squeeze(1)
        R = cam.c2w[:3, :3]
        pts.append(local.reshape(-1, 3)[sel] @ R.T + cam.c2w[:3, 3])
        normals.append(n.reshape(-1, 3)[sel] @ R.T)
        feet.append(z.reshape(-1)[sel] / float(torch.sqrt(cam.K[0, 0] * cam.K[1, 1])))
        edges.append(~smooth.reshape(-1)[sel])
        index.append(sel + i * h * w)
    return torch.cat(pts), torch.cat(normals), torch.cat(feet), torch.cat(edges), torch.cat(index)


def voxel_groups(points: Tensor, size: Tensor) -> tuple[Tensor, Tensor, int]:
    """Group points [P, 3] on voxel grids whose cell size follows each point's own `size` [P]
    (metres), snapped down to a power of two, so that a surface seen by many frames at similar
    distances gets one group per cell instead of one point per frame.

    Grids of different sizes are nested, and finer ones win: a point whose cell also holds
    points of a finer grid (the same surface seen from nearer) moves to the finest of those
    grids, where it joins their cells rather than stacking a coarse Gaussian over fine ones.
    Cells are counted from half a coarsest cell below the lowest point on each axis.
    -> (group [P] in 0..G-1, cell size [P] metres of the grid each point ended on, G).
    Deterministic: groups are numbered by grid, finest first, then by cell key."""
    level = torch.floor(torch.log2(size.double().clamp(min=1e-6))).long()
    levels = torch.unique(level).tolist()  # ascending: finest first
    # Integer cell coordinates on the finest grid (a coarser grid's are a shift away), from an
    # origin half a coarsest cell below the lowest point: procedural walls and floors often lie
    # exactly on the bounds, and a surface on a cell boundary would fill two layers of cells.
    origin = points.double().amin(0) - 0.5 * 2.0 ** levels[-1]
    base = torch.floor((points.double() - origin) / 2.0 ** levels[0]).long()

    def key(index: Tensor, lv: int) -> Tensor:
        return _cell_key(base[index] >> (lv - levels[0]))

    # 1. One representative (the first point) per occupied cell of each point's own grid: the
    #    nesting test below then scans cells, not the many pixels that fall in each.
    rep_of = torch.empty(len(points), dtype=torch.int64)
    reps, rep_level, cells = [], [], {}  # cells: per grid, its occupied cells' sorted keys and first id
    for lv in levels:
        sel = (level == lv).nonzero().squeeze(1)
        uniq, inverse = torch.unique(key(sel, lv), return_inverse=True)
        k = len(uniq)
        cells[lv] = (uniq, sum(len(r) for r in reps))
        rep_of[sel] = inverse + cells[lv][1]
        first = torch.full((k,), len(sel), dtype=torch.int64).scatter_reduce_(0, inverse, torch.arange(len(sel)), "amin")
        reps.append(sel[first])
        rep_level.append(torch.full((k,), lv, dtype=torch.int64))
    rp, rl = torch.cat(reps), torch.cat(rep_level)  # representatives' point indices, grids
    # 2. The finest grid with a representative in each representative's own cell.
    finest = rl.clone()
    for lv in levels[1:]:
        sub = (rl <= lv).nonzero().squeeze(1)
        _, inverse = torch.unique(key(rp[sub], lv), return_inverse=True)
        low = torch.full((int(inverse.max()) + 1,), lv, dtype=torch.int64).scatter_reduce_(0, inverse, rl[sub], "amin")
        here = rl[sub] == lv
        finest[sub[here]] = low[inverse[here]]
    # 3. Cells that stayed are groups; the points of cells that moved join the finer grid's cell
    #    they fall in (which stayed: it holds nothing finer, or they would have moved further)
    #    or, where it has none, make new groups.
    moved = finest != rl
    stayed_id = torch.cumsum(~moved, 0) - 1
    group = stayed_id[rep_of]
    n = int((~moved).sum())
    final = finest[rep_of]
    point_moved = moved[rep_of]
    for lv in levels:
        sel = (point_moved & (final == lv)).nonzero().squeeze(1)
        if not len(sel):
            continue
        k = key(sel, lv)
        uniq, first_id = cells[lv]
        at = torch.searchsorted(uniq, k).clamp(max=len(uniq) - 1)
        hit = uniq[at] == k
        group[sel[hit]] = stayed_id[first_id + at[hit]]
        if (~hit).any():
            _, inverse = torch.unique(k[~hit], return_inverse=True)
            group[sel[~hit]] = inverse + n
            n += int(inverse.max()) + 1
    return group, (2.0 ** final.double()).float(), n


def _cell_key(ijk: Tensor) -> Tensor:
    """Non-negative integer cell coordinates [P, 3] -> one int64 key each, 21 bits a coordinate
    (2M cells a side; beyond that, far cells share keys)."""
    q = ijk.clamp(max=(1 << 21) - 1)
    return (q[:, 0] << 42) | (q[:, 1] << 21) | q[:, 2]


def _group_mean(values: Tensor, group: Tensor, n: int) -> Tensor:
    """Per-group mean [G, C] of values [P, C] for group [P] in 0..G-1."""
    total = torch.zeros(n, values.shape[1], dtype=torch.float64).index_add_(0, group, values.double())
    count = torch.bincount(group, minlength=n).clamp(min=1)
    return (total / count[:, None]).to(values.dtype)


def _group_mode(labels: Tensor, group: Tensor, n: int) -> Tensor:
    """Per-group most frequent label [G] (ties: the smaller label) of labels [P] int64."""
    values, code = torch.unique(labels, return_inverse=True)
    counts = torch.zeros(n, len(values), dtype=torch.int64).index_put_((group, code), torch.ones_like(group), accumulate=True)
    return values[counts.argmax(1)]


def voxel_initial_points(cameras: list[Camera], images: Tensor, depths: Tensor, labels: Tensor | None,
                         voxel_px: float = 1.0, max_points: int | None = None
                         ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Every pixel with depth, one Gaussian per voxel (see `voxel_groups`) of `voxel_px` pixel
    footprints, the voxels grown until at most `max_points` remain (a surface of area A holds
    about A / cell^2 of them). -> (means [G, 3], unit normals [G, 3], rgb [G, 3], labels [G],
    cell size [G] metres, edge share [G]): the mean point, normal and colour, the most frequent
    label, and the share of pixels on a depth edge (`depth_pixels`) of each voxel."""
    pts, normals, foot, edge, index = depth_pixels(cameras, depths)
    if len(pts) == 0:
        raise ValueError("no valid depth in any frame")
    for _ in range(4):
        group, cell, n = voxel_groups(pts, foot * voxel_px)
        if max_points is None or n <= max_points:
            break
        voxel_px *= 1.05 * math.sqrt(n / max_points)
    rgb = images.reshape(-1, 3)[index]
    lab = labels.reshape(-1)[index].long() if labels is not None else torch.full((len(index),), -1, dtype=torch.int64)
    normal = F.normalize(_group_mean(normals, group, n), dim=1)
    return (_group_mean(pts, group, n), normal, _group_mean(rgb, group, n), _group_mode(lab, group, n),
            _group_mean(cell[:, None], group, n)[:, 0], _group_mean(edge[:, None].float(), group, n)[:, 0])


def _nearest_point_depth(cam: Camera, points: Tensor, u: Tensor, v: Tensor, cell: int = 8) -> Tensor:
    """Depth z [P] at pixel positions (u, v) [P] of the nearest (in the image) of `points` [N, 3]
    visible in `cam`; 0 where no point projects into the frame. A coarse z-buffer (cells of `cell`
    pixels keep their nearest point) drops points hidden behind nearer ones."""
    from scipy.spatial import cKDTree

    uv, z = cam.project(points)
    inside = (z > 1e-6) & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
    if int(inside.sum()) < 3:
        return torch.zeros(len(u))
    uv, z = uv[inside].double().numpy(), z[inside].double().numpy()
    cols = -(-cam.width // cell)
    key = (uv[:, 1] // cell).astype(np.int64) * cols + (uv[:, 0] // cell).astype(np.int64)
    order = np.lexsort((z, key))  # by cell, nearest first
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    _, nearest = cKDTree(uv[first]).query(np.stack([u.double().numpy(), v.double().numpy()], 1))
    return torch.from_numpy(z[first][nearest]).float()


def initial_scene(cameras: list[Camera], images: Tensor, depths: Tensor | None, labels: Tensor | None,
                  n_points: int, generator: torch.Generator, points: Tensor | None = None,
                  point_rgb: Tensor | None = None, spread_points: bool = True, method: str = LiftConfig.init,
                  voxel_px: float = LiftConfig.voxel_px, scale_per_cell: float = LiftConfig.init_scale,
                  opacity: float = LiftConfig.init_opacity, flatness: float = LiftConfig.init_flatness) -> GaussianScene:
    """images [M, H, W, 3], depths [M, H, W] (0 or non-finite = unknown), labels [M, H, W].

    With depth, `method` "voxel" starts from every pixel with depth, one Gaussian per voxel of
    `voxel_px` pixel footprints (`voxel_initial_points`), of standard deviation `scale_per_cell`
    cells, discs `flatness` as thick as wide in the surface's plane; at most n_points of them
    (the voxels grow until they fit). "sample" (the reference) takes n_points random pixels with
    depth, spheres scaled by their nearest neighbours. Gaussians start at `opacity`.

    points [N, 3] with colours point_rgb [N, 3] in [0, 1] (e.g. triangulated by structure from
    motion) start the cloud where there is no depth: with `spread_points`, n_points random pixels
    are placed at the depth of the nearest point visible in their frame and join the points;
    without, the points alone. With depth for some frames the points join the depth samples.
    Their labels are -1 (unknown)."""
    m, h, w, _ = images.shape
    if points is not None:
        points = torch.as_tensor(points, dtype=torch.float32).reshape(-1, 3)
        point_rgb = torch.as_tensor(point_rgb, dtype=torch.float32).reshape(-1, 3)
        if len(points) == 0 or len(point_rgb) != len(points) or not torch.isfinite(points).all():
            raise ValueError(f"initial points must be N >= 1 finite [N, 3] with colours [N, 3], got {tuple(points.shape)} "
                             f"and {tuple(point_rgb.shape)}")
        if not (depths is not None and bool((torch.isfinite(depths) & (depths > 0)).any())):
            depths = None
            n_points = n_points if spread_points else 0  # without spreading: the given points alone
    if points is not None and depths is None:  # random pixels at the depth of the nearest given point
        f = torch.randint(0, m, (n_points,), generator=generator)
        y = torch.randint(0, h, (n_points,), generator=generator)
        x = torch.randint(0, w, (n_points,), generator=generator)
        z = torch.zeros(n_points)
        for i in range(m):
            sel = f == i
            if sel.any():
                z[sel] = _nearest_point_depth(cameras[i], points, x[sel] + 0.5, y[sel] + 0.5)
        seen = z > 0
        f, y, x, z = f[seen], y[seen], x[seen], z[seen]
    elif depths is not None and method == "voxel":
        return _voxel_scene(cameras, images, depths, labels, n_points, generator, points, point_rgb, voxel_px,
                            scale_per_cell, opacity, flatness)
    elif depths is not None:  # sampled pixels with known depth
        valid = torch.isfinite(depths) & (depths > 0)
        idx = valid.reshape(-1).nonzero().squeeze(1)
        if len(idx) == 0:
            raise ValueError("no valid depth in any frame")
        pick = idx[torch.randperm(len(idx), generator=generator)[:n_points]]
        f, rem = pick // (h * w), pick % (h * w)
        y, x = rem // w, rem % w
        z = depths[f, y, x]
    else:  # no depth: random pixels at random depths within the cameras' spread
        centers = torch.stack([c.position for c in cameras])
        reach = max(float((centers - centers.mean(0)).norm(dim=1).max()), 1.0)
        f = torch.randint(0, m, (n_points,), generator=generator)
        y = torch.randint(0, h, (n_points,), generator=generator)
        x = torch.randint(0, w, (n_points,), generator=generator)
        z = reach * (0.3 + 1.7 * torch.rand(n_points, generator=generator))
    pts = torch.empty(len(f), 3)
    for i in range(m):  # backproject frame by frame: z * K^-1 [u, v, 1], then to the world
        sel = f == i
        if not sel.any():
            continue
        cam = cameras[i]
        pix = torch.stack([x[sel] + 0.5, y[sel] + 0.5, torch.ones(int(sel.sum()))], 1)
        pts[sel] = ((pix @ torch.linalg.inv(cam.K).T) * z[sel, None]) @ cam.c2w[:3, :3].T + cam.c2w[:3, 3]
    rgb = images[f, y, x]
    lab = labels[f, y, x].long() if labels is not None else torch.full((len(f),), -1, dtype=torch.int64)
    if points is not None:
        pts, rgb = torch.cat([pts, points]), torch.cat([rgb, point_rgb.clamp(0, 1)])
        lab = torch.cat([lab, torch.full((len(points),), -1, dtype=torch.int64)])
    scale = torch.from_numpy(_knn_scale(pts.numpy().astype(np.float64))).float()
    return GaussianScene.from_points(pts, rgb, scale=scale, opacity=opacity, labels=lab)


def _voxel_scene(cameras, images, depths, labels, n_points: int, generator: torch.Generator, points, point_rgb,
                 voxel_px: float, scale_per_cell: float, opacity: float, flatness: float) -> GaussianScene:
    """initial_scene's "voxel" method."""
    pts, normal, rgb, lab, cell, edge = voxel_initial_points(cameras, images, depths, labels, voxel_px, n_points)
    if len(pts) > n_points:  # the snapped cell sizes can still overshoot: drop the excess at random
        keep = torch.randperm(len(pts), generator=generator)[:n_points].sort().values
        pts, normal, rgb, lab, cell, edge = pts[keep], normal[keep], rgb[keep], lab[keep], cell[keep], edge[keep]
    # Half size on silhouettes: a full-size disc there would spill over the edge as a halo (onto
    # the sky, most visibly) that the few steps of a draft lift cannot take back.
    scale = cell * scale_per_cell * (1.0 - 0.5 * edge)
    scene = GaussianScene.from_points(pts, rgb.clamp(0, 1), scale=scale, opacity=opacity, labels=lab)
    # Discs in the surface's plane: a sphere would stick out of it and show as a bump at grazing views.
    scene.quats = quats_z_to(normal)
    scene.log_scales = scene.log_scales + torch.tensor([0.0, 0.0, math.log(flatness)])
    if points is not None:
        extra = torch.from_numpy(_knn_scale(torch.cat([pts, points]).numpy().astype(np.float64))[len(pts):]).float()
        given = GaussianScene.from_points(points, point_rgb.clamp(0, 1), scale=extra, opacity=opacity)
        scene = GaussianScene.concat([scene, given])
    return scene


def run_learning_rates(cfg: LiftConfig, planned: int) -> dict[str, float]:
    """Adam's rate per parameter group for a run of `planned` steps (0: not yet known, the short
    rates): each `*_long` rate takes over geometrically between short_run_steps and long_run_steps
    (means in scene-scale units, before their decay)."""
    span = math.log(cfg.long_run_steps / cfg.short_run_steps)
    t = min(1.0, max(0.0, math.log(max(planned, 1) / cfg.short_run_steps) / span)) if span > 0 else 1.0
    blend = lambda short, long: short if long is None else short ** (1 - t) * long**t  # noqa: E731
    return {"means": blend(cfg.lr_means, cfg.lr_means_long), "scales": blend(cfg.lr_scales, cfg.lr_scales_long),
            "quats": cfg.lr_quats, "opacities": cfg.lr_opacities, "sh0": blend(cfg.lr_sh0, cfg.lr_sh0_long),
            "shN": cfg.lr_shN}


def camera_spread(cameras: list[Camera]) -> float:
    """The scene scale of 3DGS: 1.1 x the largest camera distance from their centroid (1 for one)."""
    centers = torch.stack([c.position for c in cameras])
    return float((centers - centers.mean(0)).norm(dim=1).max()) * 1.1 or 1.0


def _psnr(pred: Tensor, gt: Tensor) -> float:
    mse = F.mse_loss(pred, gt).item()
    return 10 * math.log10(1.0 / max(mse, 1e-10))


def lift(cameras: list[Camera], images: Tensor, depths: Tensor | None = None, labels: Tensor | None = None,
         config: LiftConfig | None = None, progress: bool = False, init: GaussianScene | None = None,
         init_points: tuple[Tensor, Tensor] | None = None) -> LiftResult:
    """Optimise Gaussians to reproduce `images` [M, H, W, 3] seen from `cameras`.

    init_points: (xyz [N, 3], rgb [N, 3]) to start from where frames have no depth (see
    `initial_scene`), e.g. structure-from-motion points; ignored when `init` is given."""
    cfg = config or LiftConfig()
    # Multi-threaded CPU reductions are otherwise free to change the summation order run to run.
    previous = torch.are_deterministic_algorithms_enabled()
    _deterministic(True)
    try:
        return _lift(cameras, images, depths, labels, cfg, progress, init, init_points)
    finally:
        _deterministic(previous)


def _deterministic(mode: bool) -> None:
    """torch.use_deterministic_algorithms for eager ops: the public function also imports
    torch._inductor to set its flag, seconds of a draft's budget that eager CPU code never uses."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:
        torch.use_deterministic_algorithms(mode)
    else:
        setter(mode)


class Densification:
    """The densification strategy object: gsplat's `DefaultStrategy` (grow by 2D gradient, split, prune),
    with its window fitted to the steps a time budget allows (`fit`). `LiftConfig.densify=False`
    gives `NoDensification`, which leaves the cloud as it started."""

    def __init__(self, cfg: LiftConfig, params: torch.nn.ParameterDict, optimizers: dict, scene_scale: float):
        from gsplat.strategy import DefaultStrategy

        self.cfg = cfg
        self.strategy = DefaultStrategy(refine_start_iter=cfg.refine_start,
                                        refine_stop_iter=int(cfg.iterations * cfg.refine_stop_fraction),
                                        refine_every=cfg.refine_every, reset_every=10**9, grow_grad2d=cfg.grow_grad2d,
                                        verbose=False)
        self.strategy.check_sanity(params, optimizers)
        self.state = self.strategy.initialize_state(scene_scale=scene_scale)

    def fit(self, planned: int) -> None:
        """A run of `planned` steps (fewer than configured): too few for new Gaussians to settle keeps
        the initial cloud; otherwise the window and its period shrink with the run."""
        cfg, s = self.cfg, self.strategy
        if planned < cfg.min_steps_to_densify:
            s.refine_stop_iter = 0
        elif planned < cfg.iterations:
            s.refine_every = max(10, planned // 12)
            s.refine_start_iter = max(6, min(cfg.refine_start, planned // 8))
            s.refine_stop_iter = int(planned * cfg.refine_stop_fraction)

    def pre_backward(self, params, optimizers, step: int, info: dict) -> None:
        self.strategy.step_pre_backward(params, optimizers, self.state, step, info)

    def post_backward(self, params, optimizers, step: int, info: dict) -> None:
        self.strategy.step_post_backward(params, optimizers, self.state, step, info, packed=False)
        excess = len(params["means"]) - (self.cfg.max_gaussians or len(params["means"]))
        if excess > 0:  # over the cap: the least opaque go
            from gsplat.strategy.ops import remove

            mask = torch.zeros(len(params["means"]), dtype=torch.bool)
            mask[torch.argsort(params["opacities"].detach(), stable=True)[:excess]] = True
            remove(params, optimizers, self.state, mask)


class NoDensification:
    def fit(self, planned: int) -> None:
        pass

    def pre_backward(self, params, optimizers, step: int, info: dict) -> None:
        pass

    def post_backward(self, params, optimizers, step: int, info: dict) -> None:
        pass


def _parameters(scene: GaussianScene, max_sh_degree: int) -> torch.nn.ParameterDict:
    sh = scene.with_sh_degree(max_sh_degree).sh
    return torch.nn.ParameterDict({
        "means": torch.nn.Parameter(scene.means.clone()),
        "scales": torch.nn.Parameter(scene.log_scales.clone()),
        "quats": torch.nn.Parameter(scene.quats.clone()),
        "opacities": torch.nn.Parameter(scene.opacity_logits.clone()),
        "sh0": torch.nn.Parameter(sh[:, :1].clone()),
        "shN": torch.nn.Parameter(sh[:, 1:].clone()),
        # Not optimised, but carried through every split, clone and prune by the strategy.
        "labels": torch.nn.Parameter(scene.labels.clone(), requires_grad=False),
    })


def _scene_of(params: torch.nn.ParameterDict) -> GaussianScene:
    return GaussianScene(params["means"], params["quats"], params["scales"], params["opacities"],
                         torch.cat([params["sh0"], params["shN"]], 1), params["labels"].detach())


def lift_loss(pred: Tensor, gt: Tensor, out, params, cfg: LiftConfig, scene_scale: float, depth: Tensor | None,
              sky_mask: Tensor | None) -> Tensor:
    """One view's loss: (1 - lambda_dssim) L1 + lambda_dssim (1 - SSIM) on colour, L1 on depth where it
    is known and the splats cover the pixel (in scene-scale units), alpha on the sky's pixels, and
    the opacity and scale regularisers. pred, gt [H, W, 3]; depth [H, W]; sky_mask [H, W] bool."""
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    l1 = (pred - gt).abs().mean()
    d_ssim = 1.0 - ssim(pred.permute(2, 0, 1)[None], gt.permute(2, 0, 1)[None], data_range=1.0)
    loss = (1 - cfg.lambda_dssim) * l1 + cfg.lambda_dssim * d_ssim
    if depth is not None and cfg.lambda_depth > 0:
        known = torch.isfinite(depth) & (depth > 0) & (out.alpha[0].detach() > 0.5)
        if known.any():
            loss = loss + cfg.lambda_depth * ((out.depth[0] - torch.nan_to_num(depth))[known].abs() / scene_scale).mean()
    if sky_mask is not None and cfg.lambda_sky_alpha > 0:  # nothing stands in front of the sky
        loss = loss + cfg.lambda_sky_alpha * (out.alpha[0] * sky_mask).mean()
    if cfg.lambda_opacity > 0:
        loss = loss + cfg.lambda_opacity * torch.sigmoid(params["opacities"]).mean()
    if cfg.lambda_scale > 0:
        loss = loss + cfg.lambda_scale * torch.exp(params["scales"]).mean()
    return loss


def _progress_bar(cfg: LiftConfig):
    from tqdm import tqdm

    # Under a time budget the bar counts seconds of it (the step count is not known ahead).
    timed = cfg.time_budget_s is not None
    # Into a log file (not a terminal) a line every 10 s, not one every step.
    return tqdm(total=round(cfg.time_budget_s, 1) if timed else cfg.iterations, desc="lift",
                unit="s" if timed else "step", dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 10.0,
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s {postfix}" if timed else None)


@dataclass
class _Schedule:
    """What a time budget re-plans after the first steps: the steps planned, the means' decay per
    step and the steps between SH degrees."""

    planned: int
    decay: float
    sh_every: int

    def refit(self, cfg: LiftConfig, per_step: float, step: int, optimizers: dict, scene_scale: float,
              densification) -> None:
        """Fit the schedules (densification window, means decay, SH degrees) to the steps the budget
        allows, so a short budget still densifies and anneals."""
        self.planned = max(10, min(cfg.iterations, int(cfg.time_budget_s / per_step)))
        self.decay = 0.01 ** (1.0 / self.planned)
        fitted = run_learning_rates(cfg, self.planned)
        fitted["means"] *= scene_scale * self.decay**step
        for name, opt in optimizers.items():
            opt.param_groups[0]["lr"] = fitted[name]
        if self.planned < cfg.iterations:
            self.sh_every = max(1, int(cfg.sh_degree_every * self.planned / cfg.iterations))
        densification.fit(self.planned)


def _lift(cameras, images, depths, labels, cfg: LiftConfig, progress: bool, init: GaussianScene | None,
          init_points=None) -> LiftResult:
    """The optimisation loop; the loss is `lift_loss`, densification a `Densification` strategy."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    images = torch.as_tensor(images, dtype=torch.float32)
    depths = None if depths is None else torch.as_tensor(depths, dtype=torch.float32)
    labels = None if labels is None else torch.as_tensor(labels)
    m = len(cameras)
    if images.shape[0] != m:
        raise ValueError(f"{m} cameras but {images.shape[0]} images")
    points, point_rgb = init_points if init_points is not None else (None, None)
    scene = init if init is not None else initial_scene(cameras, images, depths, labels, cfg.init_points, gen,
                                                        points, point_rgb, cfg.spread_points, method=cfg.init,
                                                        voxel_px=cfg.voxel_px, scale_per_cell=cfg.init_scale,
                                                        opacity=cfg.init_opacity, flatness=cfg.init_flatness)
    scene_scale = camera_spread(cameras)
    params = _parameters(scene, cfg.max_sh_degree)
    lrs = run_learning_rates(cfg, cfg.iterations if cfg.time_budget_s is None else 0)
    lrs["means"] *= scene_scale
    optimizers = {n: torch.optim.Adam([{"params": params[n], "lr": lr, "name": n}], eps=1e-15) for n, lr in lrs.items()}
    sky_mask = sky_pixels(depths, labels, cfg.sky)
    sky = None
    if sky_mask is not None:  # started from the sky pixels' own colours, then fitted with the splats
        dirs = torch.cat([pixel_directions(c)[sky_mask[k]] for k, c in enumerate(cameras)])
        sky = torch.nn.Parameter(fit_sky(dirs, images[sky_mask], cfg.sky_size))
        sky_opt = torch.optim.Adam([sky], lr=cfg.lr_sky, eps=1e-15)
    # One parameter per camera: Adam skips those without a gradient, so a camera's correction
    # moves only on its own steps (momentum would drift the others).
    poses = [torch.nn.Parameter(torch.zeros(6)) for _ in range(m)] if cfg.refine_poses else None
    if poses is not None:
        pose_opt = torch.optim.Adam(poses, lr=cfg.lr_pose, eps=1e-15)
        pose_units = torch.tensor([1.0, 1.0, 1.0, scene_scale, scene_scale, scene_scale])
    densification = Densification(cfg, params, optimizers, scene_scale) if cfg.densify else NoDensification()
    # with a time budget, `planned` is re-estimated from the first steps' speed
    schedule = _Schedule(cfg.iterations, 0.01 ** (1.0 / max(cfg.iterations, 1)), cfg.sh_degree_every)
    result = LiftResult(scene)
    bar = _progress_bar(cfg) if progress else None
    order = torch.randperm(m, generator=gen)
    t0 = time.perf_counter()
    running_psnr = None
    step = 0
    for step in range(cfg.iterations):
        i = int(order[step % m])
        if step % m == m - 1:
            order = torch.randperm(m, generator=gen)
        cur, cam = _scene_of(params), cameras[i]
        posed = poses is not None and step >= cfg.pose_start_fraction * schedule.planned
        if posed:
            cur = moved_scene(cur, cam, poses[i] * pose_units)
        if cfg.time_budget_s is not None and step == 5:
            schedule.refit(cfg, (time.perf_counter() - t0) / 5, step, optimizers, scene_scale, densification)
        degree = min(cfg.max_sh_degree, step // schedule.sh_every)
        out = render(cur, cam, sh_degree=degree, background=cfg.background if sky is None else (0.0, 0.0, 0.0),
                     with_labels=False, tile_size=cfg.tile_size)
        info = {"means2d": out.meta["means2d"], "radii": out.meta["radii"], "width": cam.width,
                "height": cam.height, "n_cameras": 1, "gaussian_ids": None}
        densification.pre_backward(params, optimizers, step, info)
        pred, gt = out.rgb[0], images[i]
        if sky is not None:  # the sky shows through what the splats leave uncovered
            # the sky turns with the camera's refined pose, as the splats do through the moved scene
            view = corrected(cam, poses[i].detach() * pose_units) if posed else cam
            env = sample_sky(sky, pixel_directions(view))
            # Only sky pixels teach the sky: elsewhere it would soak up what the splats get wrong.
            env = torch.where(sky_mask[i][..., None], env, env.detach())
            pred = pred + (1.0 - out.alpha[0])[..., None] * env
        loss = lift_loss(pred, gt, out, params, cfg, scene_scale, None if depths is None else depths[i],
                         None if sky is None else sky_mask[i])
        loss.backward()
        for opt in [*optimizers.values(), *([sky_opt] if sky is not None else []), *([pose_opt] if posed else [])]:
            opt.step()
            opt.zero_grad(set_to_none=True)
        for group in optimizers["means"].param_groups:
            group["lr"] *= schedule.decay
        densification.post_backward(params, optimizers, step, info)
        psnr = _psnr(pred.detach(), gt)
        running_psnr = psnr if running_psnr is None else 0.9 * running_psnr + 0.1 * psnr
        elapsed = time.perf_counter() - t0
        if step % 25 == 0 or step == cfg.iterations - 1:
            result.history.append({"step": step, "seconds": round(elapsed, 3), "loss": float(loss.detach()), "psnr": round(running_psnr, 3),
                                   "gaussians": len(params["means"])})
        if bar is not None:
            bar.update(min(elapsed, cfg.time_budget_s) - bar.n if cfg.time_budget_s is not None else 1)
            bar.set_postfix(step=step + 1, loss=f"{float(loss.detach()):.4f}", psnr=f"{running_psnr:.2f}",
                            n=len(params["means"]), refresh=False)
        if cfg.time_budget_s is not None and elapsed >= cfg.time_budget_s:
            result.stopped_by = "time"
            break
        if cfg.target_psnr is not None and step > m and running_psnr >= cfg.target_psnr:
            result.stopped_by = "psnr"
            break
    if bar is not None:
        bar.close()
    result.steps, result.seconds = step + 1, time.perf_counter() - t0
    return _finish(result, params, cameras, poses, pose_units if poses is not None else None, sky, cfg)


def _finish(result: LiftResult, params, cameras, poses, pose_units, sky, cfg: LiftConfig) -> LiftResult:
    """The optimised scene (with its sky shell), refined cameras and sky texture into `result`."""
    result.scene = GaussianScene(params["means"].detach().clone(), params["quats"].detach().clone(),
                                 params["scales"].detach().clone(), params["opacities"].detach().clone(),
                                 torch.cat([params["sh0"], params["shN"]], 1).detach().clone(), params["labels"].detach().clone())
    if poses is not None:
        result.cameras = [corrected(c, poses[k].detach() * pose_units) for k, c in enumerate(cameras)]
    if sky is not None:
        result.sky = sky.detach().clamp(0, 1).clone()
        if cfg.sky_shell > 0:
            result.scene = GaussianScene.concat([result.scene, _shell_for(result.sky, result.scene, cameras, cfg.sky_shell)])
    return result


def sky_pixels(depths: Tensor | None, labels: Tensor | None, mode: str) -> Tensor | None:
    """[M, H, W] bool: the pixels that see the sky (LiftConfig.sky), or None where no frame shows any."""
    if mode not in ("auto", "depth", "off"):
        raise ArgumentError(f"sky must be auto, depth or off, got {mode!r}")
    if mode == "off" or depths is None or (mode == "auto" and labels is None):
        return None
    mask = ~(torch.isfinite(depths) & (depths > 0))
    if mode == "auto":
        mask &= labels == SKY_LABEL
    return mask if bool(mask.any()) else None


def _shell_for(sky: Tensor, scene: GaussianScene, cameras: list[Camera], n: int) -> GaussianScene:
    """The sky shell around the cameras, well beyond the scene: 10x the distance holding 99% of
    the Gaussians and 30x the cameras' spread, so that moving among the cameras shifts the sky by
    at most about two degrees."""
    centers = torch.stack([c.position for c in cameras])
    center = centers.mean(0)
    spread = float((centers - center).norm(dim=1).max())
    reach = float(torch.quantile((scene.means - center).norm(dim=1)[:: max(1, len(scene) // 100_000)], 0.99)) if len(scene) else 1.0
    return sky_shell(sky, center, max(10.0 * reach, 30.0 * spread, 10.0), n)


def evaluate(scene: GaussianScene, cameras: list[Camera], images: Tensor, background=(0.0, 0.0, 0.0)) -> dict[str, float]:
    """PSNR (dB) and SSIM of renders against images [M, H, W, 3], with torchmetrics."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    with torch.no_grad():
        pred = torch.cat([render(scene, c, background=background, with_labels=False).rgb for c in cameras]).clamp(0, 1)
    gt = torch.as_tensor(images, dtype=torch.float32)
    p, g = pred.permute(0, 3, 1, 2), gt.permute(0, 3, 1, 2)
    return {"psnr": float(peak_signal_noise_ratio(p, g, data_range=1.0)),
            "ssim": float(structural_similarity_index_measure(p, g, data_range=1.0))}
