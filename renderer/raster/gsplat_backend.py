"""The `gsplat` backend: gsplat's fused CUDA kernels (chosen automatically on a CUDA device)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..gaussians import GaussianScene
from .common import compact_labels

LABEL_CHANNELS_PER_PASS = 32


def render_gsplat(
    scene: GaussianScene,
    Ks: Tensor,
    viewmats: Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None,
    eps2d: float,
    near_plane: float,
    far_plane: float,
    antialiased: bool,
    with_labels: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor]:
    """Returns rgb (no background) [C,H,W,3], depth*alpha [C,H,W], alpha [C,H,W], label weights,
    label values, and gsplat's meta (means2d, radii; unpacked) for densification."""
    from gsplat import rasterization

    degree = scene.sh_degree if sh_degree is None else min(sh_degree, scene.sh_degree)
    common = dict(
        means=scene.means,
        quats=scene.quats,
        scales=scene.log_scales.exp(),
        opacities=torch.sigmoid(scene.opacity_logits),
        viewmats=viewmats.to(scene.means),
        Ks=Ks.to(scene.means),
        width=width,
        height=height,
        near_plane=near_plane,
        far_plane=far_plane,
        eps2d=eps2d,
        rasterize_mode="antialiased" if antialiased else "classic",
    )
    out, alpha, info = rasterization(colors=scene.sh, sh_degree=degree, render_mode="RGB+D", packed=False, **common)
    rgb, depth_acc, alpha = out[..., :3], out[..., 3], alpha[..., 0]
    label_index, values = compact_labels(scene.labels)
    lw = None
    if with_labels:
        passes = []
        with torch.no_grad():
            for start in range(0, len(values), LABEL_CHANNELS_PER_PASS):
                idx = torch.arange(start, min(start + LABEL_CHANNELS_PER_PASS, len(values)), device=scene.device)
                onehot = (label_index[:, None] == idx[None]).to(scene.means.dtype)
                part, _, _ = rasterization(colors=onehot, sh_degree=None, render_mode="RGB", **common)
                passes.append(part)
        lw = torch.cat(passes, dim=-1)
    return rgb, depth_acc, alpha, lw, values, {"means2d": info["means2d"], "radii": info["radii"]}
