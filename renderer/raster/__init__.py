"""`render(scene, cameras) -> RenderOutput`: one entry point over swappable backends.

Backends:
    "gsplat"  gsplat's fused CUDA kernels; chosen by "auto" when the scene is on a CUDA device.
    "torch"   tiled, vectorised, differentiable CPU rasteriser (renderer/raster/tiled.py).
    "dense"   naive O(N x H x W) reference (renderer/raster/dense.py), for checks only.
All three composite by gsplat's rules, so they agree to float precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import Tensor

from ..camera import Camera, stack_cameras
from ..errors import ArgumentError
from ..gaussians import GaussianScene
from .common import compact_labels, finish, project
from .dense import composite_dense
from .tiled import bin_to_tiles, composite_tiles

DEFAULT_TILE_SIZE = 8


@dataclass
class RenderOutput:
    """rgb [C, H, W, 3] in [0, 1] (background blended in), depth [C, H, W] metric expected z
    (0 where nothing is hit), alpha [C, H, W], label [C, H, W] int64 (-1 = background/unlabelled)."""

    rgb: Tensor
    depth: Tensor
    alpha: Tensor
    label: Tensor
    # Screen-space quantities for densification (gsplat's names): "means2d" [C, N, 2] pixels,
    # with its gradient retained after backward; "radii" [C, N, 2] (0 = not drawn).
    meta: dict = field(default_factory=dict)


def _render_cpu(composite: str):
    def run(scene, Ks, viewmats, width, height, *, sh_degree, eps2d, near_plane, far_plane, antialiased,
            with_labels, tile_size, chunk_elems):
        proj = project(scene, Ks, viewmats, width, height, sh_degree=sh_degree, eps2d=eps2d,
                       near_plane=near_plane, far_plane=far_plane, antialiased=antialiased)
        label_index, values = compact_labels(scene.labels)
        outs = []
        for c in range(Ks.shape[0]):
            feats = torch.cat([proj.colors[c], proj.depths[c, :, None]], dim=1)
            li = label_index if with_labels else None
            if composite == "torch":
                ids, start, count = bin_to_tiles(proj.means2d[c].detach(), proj.radii[c], proj.depths[c].detach(),
                                                 width, height, tile_size)
                outs.append(composite_tiles(proj.means2d[c], proj.conics[c], proj.opacities[c], feats, li, len(values),
                                            ids, start, count, width, height, tile_size, chunk_elems))
            else:
                valid = (proj.radii[c] > 0).all(-1)
                outs.append(composite_dense(proj.means2d[c], proj.conics[c], proj.opacities[c], proj.depths[c], valid,
                                            feats, li, len(values), width, height))
        feat = torch.stack([o[0] for o in outs])
        lw = torch.stack([o[2] for o in outs]) if with_labels else None
        meta = {"means2d": proj.means2d, "radii": proj.radii}
        return feat[..., :3], feat[..., 3], torch.stack([o[1] for o in outs]), lw, values, meta

    return run


def _render_gsplat(scene, Ks, viewmats, width, height, *, tile_size, chunk_elems, **kw):
    from .gsplat_backend import render_gsplat

    return render_gsplat(scene, Ks, viewmats, width, height, **kw)


BACKENDS: dict[str, Callable] = {
    "torch": _render_cpu("torch"),
    "dense": _render_cpu("dense"),
    "gsplat": _render_gsplat,
}


def render(
    scene: GaussianScene,
    cameras: Camera | Sequence[Camera],
    *,
    backend: str = "auto",
    background: Sequence[float] | Tensor = (0.0, 0.0, 0.0),
    sh_degree: int | None = None,
    eps2d: float = 0.3,
    antialiased: bool = False,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    with_labels: bool = True,
    tile_size: int = DEFAULT_TILE_SIZE,
    chunk_elems: int = 1 << 22,
) -> RenderOutput:
    """Rasterise `scene` from one camera or a list of cameras sharing an image size.

    `eps2d` is added to every 2D covariance (gsplat's low-pass filter); `antialiased=True`
    also rescales opacity to preserve each Gaussian's energy (gsplat's "antialiased" mode).
    `sh_degree` caps the SH degree used (None: all the scene has). Differentiable on the
    "torch" and "gsplat" backends. `chunk_elems` bounds the torch backend's working memory.
    """
    if backend == "auto":
        backend = "gsplat" if scene.means.is_cuda else "torch"
    if backend not in BACKENDS:
        raise ArgumentError(f"unknown render backend {backend!r}; choose from {sorted(BACKENDS)} or 'auto'")
    if backend == "gsplat" and not scene.means.is_cuda:
        raise ArgumentError("the gsplat backend needs the scene on a CUDA device (scene.to('cuda')); use backend='torch' on CPU")
    if tile_size < 1:
        raise ValueError(f"tile_size must be positive, got {tile_size}")
    scene.validate()
    Ks, viewmats, width, height = stack_cameras(cameras)
    Ks, viewmats = Ks.to(scene.device), viewmats.to(scene.device)
    bg = torch.as_tensor(background, dtype=scene.means.dtype, device=scene.device).reshape(3)
    if len(scene) == 0:
        c = Ks.shape[0]
        zeros = torch.zeros(c, height, width, dtype=scene.means.dtype, device=scene.device)
        return RenderOutput(bg.expand(c, height, width, 3).clone(), zeros, zeros.clone(),
                            torch.full((c, height, width), -1, dtype=torch.int64, device=scene.device))
    rgb, depth_acc, alpha, lw, values, meta = BACKENDS[backend](
        scene, Ks, viewmats, width, height, sh_degree=sh_degree, eps2d=eps2d, near_plane=near_plane,
        far_plane=far_plane, antialiased=antialiased, with_labels=with_labels, tile_size=tile_size,
        chunk_elems=chunk_elems,
    )
    feats = torch.cat([rgb, depth_acc[..., None]], dim=-1)
    rgb, depth, alpha, label = finish(feats, alpha, lw, values, bg)
    return RenderOutput(rgb, depth, alpha, label, meta)


__all__ = ["render", "RenderOutput", "BACKENDS"]
