"""What every CPU backend shares: projecting a GaussianScene into screen space.

Projection, covariance and SH evaluation come from gsplat's pure-torch reference helpers
(`gsplat.cuda._torch_impl`), so the CPU backends see exactly the 2D Gaussians gsplat's CUDA
kernels see. Compositing rules follow gsplat too (pixel centres at +0.5, alpha clamped to
0.999, contributions below 1/255 skipped, a pixel stops once its transmittance would fall
to 1e-4 or below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from gsplat.cuda._torch_impl import (
    _fully_fused_projection,
    _quat_scale_to_covar_preci,
    _spherical_harmonics,
)
from torch import Tensor

from ..gaussians import GaussianScene

ALPHA_MAX = 0.999
ALPHA_THRESHOLD = 1.0 / 255.0
TRANSMITTANCE_MIN = 1e-4


@dataclass
class Projected:
    """Screen-space Gaussians for C cameras.

    means2d [C, N, 2] pixels; conics [C, N, 3] (upper triangle of the inverse 2D covariance);
    depths [C, N] camera z; radii [C, N, 2] int bounding half-extents (0 = culled);
    opacities [C, N] after antialiasing compensation; colors [C, N, 3] from SH.
    """

    means2d: Tensor
    conics: Tensor
    depths: Tensor
    radii: Tensor
    opacities: Tensor
    colors: Tensor


def project(
    scene: GaussianScene,
    Ks: Tensor,
    viewmats: Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    eps2d: float = 0.3,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    antialiased: bool = False,
) -> Projected:
    dtype = scene.means.dtype
    Ks, viewmats = Ks.to(scene.means), viewmats.to(scene.means)
    covars, _ = _quat_scale_to_covar_preci(scene.quats, scene.log_scales.exp(), compute_preci=False)
    parts = []
    for c in range(Ks.shape[0]):
        # Gaussians at or behind the near plane are culled, but autograd would still multiply
        # their zero gradient by the projection's infinite Jacobian (0 * inf = NaN). Project a
        # harmless point in front of the camera in their place, then cull them explicitly.
        with torch.no_grad():
            z = scene.means.detach() @ viewmats[c, 2, :3] + viewmats[c, 2, 3]
            front = (z > near_plane) & (z < far_plane)
            safe = torch.linalg.inv(viewmats[c])[:3] @ torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=dtype, device=Ks.device)
        means = torch.where(front[:, None], scene.means, safe)
        r, m2d, dep, con, comp = _fully_fused_projection(
            means, covars, viewmats[c : c + 1], Ks[c : c + 1], width, height,
            eps2d=eps2d, near_plane=near_plane, far_plane=far_plane, calc_compensations=antialiased,
        )
        parts.append((r * front[None, :, None], m2d, dep, con, comp))
    radii, means2d, depths, conics = (torch.cat([p[k] for p in parts]) for k in range(4))
    comp = torch.cat([p[4] for p in parts]) if antialiased else None
    opacities = torch.sigmoid(scene.opacity_logits)[None].expand(Ks.shape[0], -1)
    if antialiased:
        opacities = opacities * comp

    # Opacity-aware bounding box (gsplat's kernels; arXiv 2402.00525 B.2): beyond
    # sqrt(2 ln(255 o)) standard deviations the alpha is below 1/255 and is skipped anyway.
    with torch.no_grad():
        o = opacities.detach().to(torch.float64)
        extend = torch.sqrt(2.0 * torch.log((o / ALPHA_THRESHOLD).clamp(min=1.0))).clamp(max=3.33)
        # The conic (a, b, c) is the inverse 2D covariance, so cov_xx = c / det and cov_yy = a / det.
        a, b, c = conics.detach().double().unbind(-1)
        det = (a * c - b * b).clamp(min=1e-30)
        sx, sy = torch.sqrt((c / det).clamp(min=0)), torch.sqrt((a / det).clamp(min=0))
        tight = torch.stack([torch.ceil(extend * sx), torch.ceil(extend * sy)], dim=-1)
        keep = (radii > 0).all(-1) & (o >= ALPHA_THRESHOLD)
        m = means2d.detach()
        inside = (
            (m[..., 0] + tight[..., 0] > 0) & (m[..., 0] - tight[..., 0] < width)
            & (m[..., 1] + tight[..., 1] > 0) & (m[..., 1] - tight[..., 1] < height)
        )
        keep &= inside & (tight > 0).any(-1)
        radii = torch.where(keep[..., None], tight, torch.zeros_like(tight)).to(torch.int32)

    k = scene.sh.shape[1]
    degree = scene.sh_degree if sh_degree is None else min(sh_degree, scene.sh_degree)
    campos = torch.linalg.inv(viewmats)[:, :3, 3]  # [C, 3]
    dirs = scene.means[None] - campos[:, None]  # [C, N, 3]
    coeffs = scene.sh[None].expand(Ks.shape[0], -1, k, 3)
    colors = torch.clamp_min(_spherical_harmonics(degree, dirs, coeffs) + 0.5, 0.0)
    return Projected(means2d.to(dtype), conics.to(dtype), depths.to(dtype), radii, opacities.to(dtype), colors.to(dtype))


def compact_labels(labels: Tensor) -> tuple[Tensor, Tensor]:
    """Map labels [N] to dense indices 0..L-1 plus the table of values [L] (L includes -1).

    Background and unlabelled Gaussians both map to the index of -1, which is always present.
    """
    values, inverse = torch.unique(torch.cat([labels, labels.new_tensor([-1])]), return_inverse=True)
    return inverse[:-1], values


def finish(
    features: Tensor, alpha: Tensor, label_weights: Tensor | None, label_values: Tensor, background: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-pixel accumulators -> (rgb [H, W, 3], depth [H, W], alpha [H, W], label [H, W]).

    features [H, W, 4] holds sum(w * rgb) and sum(w * z); label_weights [H, W, L] the summed
    blending weight per label index. Depth is the expected depth of the covered part (0 where
    nothing is hit); the label is the one carrying most of the pixel's weight, the uncovered
    remainder (1 - alpha) counting as -1.
    """
    rgb = features[..., :3] + (1.0 - alpha)[..., None] * background.to(features)
    depth = torch.where(alpha > 0, features[..., 3] / alpha.clamp(min=1e-12), torch.zeros_like(alpha))
    if label_weights is None:
        label = torch.full(alpha.shape, -1, dtype=torch.int64, device=alpha.device)
    else:
        lw = label_weights.detach().clone()
        bg = int((label_values == -1).nonzero()[0])
        lw[..., bg] += (1.0 - alpha.detach())
        label = label_values[lw.argmax(-1)]
    return rgb, depth, alpha, label


def tile_grid(width: int, height: int, tile_size: int) -> tuple[int, int]:
    return math.ceil(width / tile_size), math.ceil(height / tile_size)
