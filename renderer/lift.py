"""Lifting posed frames into Gaussian splats.

Initialise one Gaussian per sampled pixel, backprojected with its depth (or, without depth, from
given points such as structure from motion's, else random points inside the cameras' shared
view), carrying the pixel's colour and label;
then optimise against the frames with the differentiable rasteriser: L1 + D-SSIM on colour,
L1 on depth where it is given, optional opacity and scale regularisers, Adam with gsplat's per-parameter learning rates (means decaying
exponentially), an SH degree schedule, and gsplat's `DefaultStrategy` for densification and
pruning (its ops are plain torch, so the same strategy object runs on CPU and CUDA). Stops on
an iteration count, a time budget or a PSNR target. Deterministic for a seed.

The scene keeps the world frame of the input poses.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .camera import Camera
from .errors import ArgumentError
from .gaussians import GaussianScene
from .raster import render


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
    lr_scales: float = 2e-2
    lr_quats: float = 2e-3
    lr_opacities: float = 0.1
    lr_sh0: float = 2e-2
    lr_shN: float = 1e-3
    densify: bool = True
    refine_start: int = 200
    refine_stop_fraction: float = 0.6
    refine_every: int = 100
    grow_grad2d: float = 2e-4
    min_steps_to_densify: int = 600  # under a time budget allowing fewer steps, densification only hurts
    # Without depth, given points (SfM's) also place init_points pixel samples at the depth of the
    # nearest point seen in their frame: a few hundred points alone cannot cover the frames in a
    # CPU budget too short to densify.
    spread_points: bool = True
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
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
                 init_points=100_000),
}


@dataclass
class LiftResult:
    scene: GaussianScene
    history: list[dict] = field(default_factory=list)  # {"step", "seconds", "loss", "psnr", "gaussians"}
    steps: int = 0
    seconds: float = 0.0
    stopped_by: str = "iterations"


def _knn_scale(points: np.ndarray, k: int = 4) -> np.ndarray:
    from scipy.spatial import cKDTree

    d, _ = cKDTree(points).query(points, k=k + 1)
    return np.sqrt((d[:, 1:] ** 2).mean(1)).clip(1e-4, None)


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
                  point_rgb: Tensor | None = None, spread_points: bool = True) -> GaussianScene:
    """images [M, H, W, 3], depths [M, H, W] (0 or non-finite = unknown), labels [M, H, W].

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
    return GaussianScene.from_points(pts, rgb, scale=scale, opacity=0.5, labels=lab)


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
    torch.use_deterministic_algorithms(True)
    try:
        return _lift(cameras, images, depths, labels, cfg, progress, init, init_points)
    finally:
        torch.use_deterministic_algorithms(previous)


def _lift(cameras, images, depths, labels, cfg: LiftConfig, progress: bool, init: GaussianScene | None,
          init_points=None) -> LiftResult:
    from gsplat.strategy import DefaultStrategy
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

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
                                                        points, point_rgb, cfg.spread_points)
    centers = torch.stack([c.position for c in cameras])
    scene_scale = float((centers - centers.mean(0)).norm(dim=1).max()) * 1.1 or 1.0

    sh = scene.with_sh_degree(cfg.max_sh_degree).sh
    params = torch.nn.ParameterDict({
        "means": torch.nn.Parameter(scene.means.clone()),
        "scales": torch.nn.Parameter(scene.log_scales.clone()),
        "quats": torch.nn.Parameter(scene.quats.clone()),
        "opacities": torch.nn.Parameter(scene.opacity_logits.clone()),
        "sh0": torch.nn.Parameter(sh[:, :1].clone()),
        "shN": torch.nn.Parameter(sh[:, 1:].clone()),
        # Not optimised, but carried through every split, clone and prune by the strategy.
        "labels": torch.nn.Parameter(scene.labels.clone(), requires_grad=False),
    })
    lrs = {"means": cfg.lr_means * scene_scale, "scales": cfg.lr_scales, "quats": cfg.lr_quats,
           "opacities": cfg.lr_opacities, "sh0": cfg.lr_sh0, "shN": cfg.lr_shN}
    optimizers = {n: torch.optim.Adam([{"params": params[n], "lr": lr, "name": n}], eps=1e-15) for n, lr in lrs.items()}
    strategy = None
    if cfg.densify:
        strategy = DefaultStrategy(refine_start_iter=cfg.refine_start, refine_stop_iter=int(cfg.iterations * cfg.refine_stop_fraction),
                                   refine_every=cfg.refine_every, reset_every=10**9, grow_grad2d=cfg.grow_grad2d,
                                   verbose=False)
        strategy.check_sanity(params, optimizers)
        state = strategy.initialize_state(scene_scale=scene_scale)
    planned = cfg.iterations  # with a time budget, re-estimated from the first steps' speed
    decay = 0.01 ** (1.0 / max(planned, 1))
    sh_every = cfg.sh_degree_every
    result = LiftResult(scene)
    bar = None
    if progress:
        from tqdm import tqdm

        # Under a time budget the bar counts seconds of it (the step count is not known ahead).
        timed = cfg.time_budget_s is not None
        bar = tqdm(total=round(cfg.time_budget_s, 1) if timed else cfg.iterations, desc="lift",
                   unit="s" if timed else "step", dynamic_ncols=True,
                   bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s {postfix}" if timed else None)
    order = torch.randperm(m, generator=gen)
    t0 = time.perf_counter()
    running_psnr = None
    step = 0
    for step in range(cfg.iterations):
        i = int(order[step % m])
        if step % m == m - 1:
            order = torch.randperm(m, generator=gen)
        cur = GaussianScene(params["means"], params["quats"], params["scales"], params["opacities"],
                            torch.cat([params["sh0"], params["shN"]], 1), params["labels"].detach())
        if cfg.time_budget_s is not None and step == 5:
            # Fit the schedules (densification window, means decay, SH degrees) to the steps the
            # budget allows, so a short budget still densifies and anneals.
            per_step = (time.perf_counter() - t0) / 5
            planned = max(10, min(cfg.iterations, int(cfg.time_budget_s / per_step)))
            decay = 0.01 ** (1.0 / planned)
            sh_every = max(1, int(cfg.sh_degree_every * planned / cfg.iterations)) if planned < cfg.iterations else sh_every
            if strategy is not None and planned < cfg.min_steps_to_densify:
                strategy.refine_stop_iter = 0  # too few steps for new Gaussians to settle: keep the initial cloud
            elif strategy is not None and planned < cfg.iterations:
                strategy.refine_every = max(10, planned // 12)
                strategy.refine_start_iter = max(6, min(cfg.refine_start, planned // 8))
                strategy.refine_stop_iter = int(planned * cfg.refine_stop_fraction)
        degree = min(cfg.max_sh_degree, step // sh_every)
        out = render(cur, cameras[i], sh_degree=degree, background=cfg.background, with_labels=False, tile_size=cfg.tile_size)
        info = {"means2d": out.meta["means2d"], "radii": out.meta["radii"], "width": cameras[i].width,
                "height": cameras[i].height, "n_cameras": 1, "gaussian_ids": None}
        if strategy is not None:
            strategy.step_pre_backward(params, optimizers, state, step, info)
        pred, gt = out.rgb[0], images[i]
        l1 = (pred - gt).abs().mean()
        d_ssim = 1.0 - ssim(pred.permute(2, 0, 1)[None], gt.permute(2, 0, 1)[None], data_range=1.0)
        loss = (1 - cfg.lambda_dssim) * l1 + cfg.lambda_dssim * d_ssim
        if depths is not None and cfg.lambda_depth > 0:
            d = depths[i]
            known = torch.isfinite(d) & (d > 0) & (out.alpha[0].detach() > 0.5)
            if known.any():
                loss = loss + cfg.lambda_depth * ((out.depth[0] - torch.nan_to_num(d))[known].abs() / scene_scale).mean()
        if cfg.lambda_opacity > 0:
            loss = loss + cfg.lambda_opacity * torch.sigmoid(params["opacities"]).mean()
        if cfg.lambda_scale > 0:
            loss = loss + cfg.lambda_scale * torch.exp(params["scales"]).mean()
        loss.backward()
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        for group in optimizers["means"].param_groups:
            group["lr"] *= decay
        if strategy is not None:
            strategy.step_post_backward(params, optimizers, state, step, info, packed=False)
        psnr = _psnr(pred.detach(), gt)
        running_psnr = psnr if running_psnr is None else 0.9 * running_psnr + 0.1 * psnr
        elapsed = time.perf_counter() - t0
        if step % 25 == 0 or step == cfg.iterations - 1:
            result.history.append({"step": step, "seconds": round(elapsed, 3), "loss": float(loss.detach()), "psnr": round(running_psnr, 3),
                                   "gaussians": len(params["means"])})
        if bar is not None:
            bar.update(min(elapsed, cfg.time_budget_s) - bar.n if cfg.time_budget_s is not None else 1)
            bar.set_postfix(step=step + 1, loss=f"{float(loss.detach()):.4f}", psnr=f"{running_psnr:.2f}",
                            n=len(params["means"]))
        if cfg.time_budget_s is not None and elapsed >= cfg.time_budget_s:
            result.stopped_by = "time"
            break
        if cfg.target_psnr is not None and step > m and running_psnr >= cfg.target_psnr:
            result.stopped_by = "psnr"
            break
    if bar is not None:
        bar.close()
    result.steps, result.seconds = step + 1, time.perf_counter() - t0
    result.scene = GaussianScene(params["means"].detach().clone(), params["quats"].detach().clone(),
                                 params["scales"].detach().clone(), params["opacities"].detach().clone(),
                                 torch.cat([params["sh0"], params["shN"]], 1).detach().clone(), params["labels"].detach().clone())
    return result


def evaluate(scene: GaussianScene, cameras: list[Camera], images: Tensor, background=(0.0, 0.0, 0.0)) -> dict[str, float]:
    """PSNR (dB) and SSIM of renders against images [M, H, W, 3], with torchmetrics."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    with torch.no_grad():
        pred = torch.cat([render(scene, c, background=background, with_labels=False).rgb for c in cameras]).clamp(0, 1)
    gt = torch.as_tensor(images, dtype=torch.float32)
    p, g = pred.permute(0, 3, 1, 2), gt.permute(0, 3, 1, 2)
    return {"psnr": float(peak_signal_noise_ratio(p, g, data_range=1.0)),
            "ssim": float(structural_similarity_index_measure(p, g, data_range=1.0))}
