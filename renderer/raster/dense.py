"""The `dense` backend: the naive reference rasteriser.

Every Gaussian is evaluated at every pixel (no tiles, no culling but the projection's own),
sorted once by depth, with the same compositing rules as the tiled backend. It is O(N x H x W)
and exists to check the fast backends against (tests and bench/raster.py). Pixels are processed
in chunks so that N x chunk stays within `chunk_elems`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .common import ALPHA_MAX, ALPHA_THRESHOLD, TRANSMITTANCE_MIN


def composite_dense(
    means2d: Tensor,
    conics: Tensor,
    opacities: Tensor,
    depths: Tensor,
    valid: Tensor,
    features: Tensor,
    label_index: Tensor | None,
    n_labels: int,
    width: int,
    height: int,
    chunk_elems: int = 1 << 24,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """means2d [N, 2], conics [N, 3], opacities [N], depths [N], valid [N] bool, features [N, F].

    Returns sum(w * f) [H, W, F], alpha [H, W], per-label weights [H, W, L] or None.
    """
    order = valid.nonzero().squeeze(1)
    order = order[torch.argsort(depths[order].detach(), stable=True)]
    mu, con, opa, feat = means2d[order], conics[order], opacities[order], features[order]
    n = order.numel()
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    px = xs.reshape(-1).to(mu.dtype) + 0.5
    py = ys.reshape(-1).to(mu.dtype) + 0.5
    step = max(1, chunk_elems // max(n, 1))
    outs, alphas, labels = [], [], []
    for s in range(0, px.numel(), step):
        dx = mu[:, 0:1] - px[None, s : s + step]  # [N, Pc]
        dy = mu[:, 1:2] - py[None, s : s + step]
        sigma = 0.5 * (con[:, 0:1] * dx * dx + con[:, 2:3] * dy * dy) + con[:, 1:2] * dx * dy
        alpha = (opa[:, None] * torch.exp(-sigma)).clamp(max=ALPHA_MAX)
        alpha = torch.where((sigma >= 0) & (alpha >= ALPHA_THRESHOLD), alpha, torch.zeros_like(alpha))
        t_after = torch.cumprod(1.0 - alpha, dim=0)
        t_before = torch.cat([torch.ones_like(t_after[:1]), t_after[:-1]], dim=0)
        weight = torch.where(t_after > TRANSMITTANCE_MIN, alpha * t_before, torch.zeros_like(alpha))
        outs.append(weight.T @ feat)
        alphas.append(weight.sum(0))
        if label_index is not None:
            lw = torch.zeros(n_labels, weight.shape[1], dtype=weight.dtype)
            lw.index_add_(0, label_index[order], weight.detach())
            labels.append(lw.T)
    out = torch.cat(outs).reshape(height, width, -1)
    alpha = torch.cat(alphas).reshape(height, width)
    lw = torch.cat(labels).reshape(height, width, n_labels) if label_index is not None else None
    return out, alpha, lw
