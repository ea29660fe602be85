"""The `dense` backend: the naive reference rasteriser.

Every Gaussian is evaluated at every pixel (no tiles, no culling but the projection's own),
sorted once by depth, with the same compositing rules as the tiled backend. It is O(N x H x W)
and exists to check the fast backends against (tests and bench/raster.py). Pixels are processed
in chunks so that N x chunk stays within `chunk_elems`.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

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

    def weights(px_c: Tensor, py_c: Tensor, mu: Tensor, con: Tensor, opa: Tensor) -> Tensor:  # [Pc, N]
        # Pixels by rows, Gaussians front to back along each row: gsplat's per-pixel loop, vectorised.
        dx = mu[None, :, 0] - px_c[:, None]
        dy = mu[None, :, 1] - py_c[:, None]
        sigma = 0.5 * (con[None, :, 0] * dx * dx + con[None, :, 2] * dy * dy) + con[None, :, 1] * dx * dy
        alpha = (opa[None] * torch.exp(-sigma.clamp(max=30.0))).clamp(max=ALPHA_MAX)  # exp underflow is slow; e^-30 is far below the 1/255 cutoff
        alpha = torch.where((sigma >= 0) & (alpha >= ALPHA_THRESHOLD), alpha, 0.0)
        t_after = torch.cumprod(1.0 - alpha, dim=1)
        t_before = torch.cat([torch.ones_like(t_after[:, :1]), t_after[:, :-1]], dim=1)
        return torch.where(t_after > TRANSMITTANCE_MIN, alpha * t_before, 0.0)

    def chunk(px_c, py_c, mu, con, opa, feat):
        w = weights(px_c, py_c, mu, con, opa)
        return w @ feat, w.sum(1)

    # With autograd on, recompute each chunk in backward instead of keeping N x H x W alive.
    recompute = torch.is_grad_enabled() and any(t.requires_grad for t in (mu, con, opa, feat))
    outs, alphas, labels = [], [], []
    for s in range(0, px.numel(), step):
        px_c, py_c = px[s : s + step], py[s : s + step]
        if recompute:
            o, a = checkpoint(chunk, px_c, py_c, mu, con, opa, feat, use_reentrant=False)
        else:
            o, a = chunk(px_c, py_c, mu, con, opa, feat)
        outs.append(o)
        alphas.append(a)
        if label_index is not None:
            with torch.no_grad():
                w = weights(px_c, py_c, mu, con, opa)
                lw = torch.zeros(w.shape[0], n_labels, dtype=w.dtype)
                lw.index_add_(1, label_index[order], w)
            labels.append(lw)
    out = torch.cat(outs).reshape(height, width, -1)
    alpha = torch.cat(alphas).reshape(height, width)
    lw = torch.cat(labels).reshape(height, width, n_labels) if label_index is not None else None
    return out, alpha, lw
