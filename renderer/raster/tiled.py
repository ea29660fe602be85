"""The `torch` backend: a tiled, vectorised, differentiable CPU rasteriser.

Gaussians are binned to square screen tiles by their bounding boxes and sorted front to back
within each tile. Compositing then walks depth in chunks: each step takes the next B Gaussians
of every still-active tile and evaluates them against the tile's pixels as one
[tiles, B, pixels] tensor, carrying each pixel's transmittance to the next step. Tiles whose
pixels are all saturated, or whose lists are exhausted, drop out. The backward pass is written
by hand (`_Composite`): it replays the same chunks, so nothing of size intersections x pixels
outlives the forward pass.

Work is proportional to the tile area each Gaussian touches, not to N x H x W, and memory per
step is bounded by `chunk_elems`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .common import ALPHA_MAX, ALPHA_THRESHOLD, TRANSMITTANCE_MIN, tile_grid


@torch.no_grad()
def bin_to_tiles(
    means2d: Tensor, radii: Tensor, depths: Tensor, width: int, height: int, tile_size: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Tile/Gaussian intersections, front to back within each tile.

    means2d [N, 2], radii [N, 2] int (0 = culled), depths [N].
    Returns gauss_ids [M] (sorted by tile, then depth), tile_start [T], tile_count [T].
    """
    tw, th = tile_grid(width, height, tile_size)
    ids = ((radii > 0).all(-1)).nonzero().squeeze(1)
    ids = ids[torch.argsort(depths[ids], stable=True)]
    m, r = means2d[ids].double(), radii[ids].double()
    limit = torch.tensor([tw, th], dtype=torch.float64)
    tmin = torch.minimum(torch.floor((m - r) / tile_size).clamp(min=0), limit).long()
    tmax = torch.minimum(torch.ceil((m + r) / tile_size).clamp(min=0), limit).long()
    span = (tmax - tmin).clamp(min=0)
    counts = span[:, 0] * span[:, 1]
    owner = torch.repeat_interleave(torch.arange(len(ids)), counts)
    local = torch.arange(int(counts.sum())) - (torch.cumsum(counts, 0) - counts)[owner]
    row_len = span[owner, 0]
    tile = (tmin[owner, 1] + local // row_len) * tw + tmin[owner, 0] + local % row_len
    tile, order = torch.sort(tile, stable=True)  # stable: keeps depth order inside a tile
    tile_count = torch.bincount(tile, minlength=tw * th)
    tile_start = torch.cumsum(tile_count, 0) - tile_count
    return ids[owner[order]], tile_start, tile_count


class _TileGeometry:
    """Pixel grid shared by all tiles: the quadratic basis of tile-local pixel centres."""

    def __init__(self, width: int, height: int, tile_size: int, dtype: torch.dtype):
        self.tw, self.th = tile_grid(width, height, tile_size)
        self.n_tiles, self.p = self.tw * self.th, tile_size * tile_size
        local = torch.arange(self.p)
        lx = (local % tile_size).to(dtype) + 0.5
        ly = (local // tile_size).to(dtype) + 0.5
        # -ln(alpha) = coef . (1, x, y, x^2, y^2, xy): one batched matmul evaluates a chunk.
        self.neg_basis = -torch.stack([torch.ones_like(lx), lx, ly, lx * lx, ly * ly, lx * ly])  # [6, P]
        tiles = torch.arange(self.n_tiles)
        self.origin = torch.stack([(tiles % self.tw) * tile_size, (tiles // self.tw) * tile_size], 1).to(dtype)


def _chunk_alpha(coef: Tensor, neg_basis: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
    """Unclamped and composited alpha [A, B, P] for the intersections at `pos` [A, B]."""
    # opacity * exp(-sigma); exp is several times slower where it underflows, and anything
    # below e^-30 is far under the 1/255 cut anyway.
    raw = torch.exp((coef[pos] @ neg_basis).clamp_(min=-30.0))
    alpha = raw.clamp(max=ALPHA_MAX)
    return raw, torch.where(alpha >= ALPHA_THRESHOLD, alpha, 0.0)


def _slots(tile_start: Tensor, tile_count: Tensor, active: Tensor, step: int, b: int, pad: int) -> Tensor:
    """Intersection index [A, B] of each active tile's next b Gaussians; `pad` past a list's end."""
    slot = step + torch.arange(b)
    return torch.where(slot[None] < tile_count[active, None], tile_start[active, None] + slot[None], pad)


def _padded(coef: Tensor, feat: Tensor) -> tuple[Tensor, Tensor]:
    """One extra intersection that never shows (alpha = e^-30) fills ragged chunks."""
    pad = coef.new_zeros(1, 6)
    pad[0, 0] = 30.0
    return torch.cat([coef, pad]), torch.cat([feat, feat.new_zeros(1, feat.shape[1])])


class _Composite(torch.autograd.Function):
    """Front-to-back compositing over per-intersection quadratic coefficients, with gsplat's
    rules, and a hand-written backward: the chunks are replayed in order and each alpha's
    gradient is T_i (f_i . g) - R_i / (1 - a_i), R_i the weighted sum behind it (3DGS's backward).
    Nothing of size intersections x pixels is kept between forward and backward."""

    @staticmethod
    def forward(ctx, coef, feat, lab, n_labels, tile_start, tile_count, geo, chunk_elems):
        m, f = feat.shape
        dtype = coef.dtype
        coef_p, feat_p = _padded(coef, feat)
        trans = torch.ones(geo.n_tiles, geo.p, dtype=dtype)
        out = torch.zeros(geo.n_tiles, geo.p, f, dtype=dtype)
        labels = torch.zeros(geo.n_tiles, n_labels, geo.p, dtype=dtype) if lab is not None else None
        lab_p = torch.cat([lab, lab.new_zeros(1)]) if lab is not None else None
        replay = []  # the chunk schedule and each chunk's incoming transmittance, for backward
        active = (tile_count > 0).nonzero().squeeze(1)
        step = 0
        while active.numel() > 0:
            b = max(8, min(256, chunk_elems // (active.numel() * geo.p)))
            pos = _slots(tile_start, tile_count, active, step, b, m)
            _, alpha = _chunk_alpha(coef_p, geo.neg_basis, pos)
            t_in = trans[active]
            t_after = torch.cumprod(1.0 - alpha, dim=1) * t_in[:, None, :]
            keep = t_after > TRANSMITTANCE_MIN  # stop before the Gaussian that would saturate the pixel
            t_before = torch.cat([t_in[:, None, :], t_after[:, :-1]], dim=1)
            weight = torch.where(keep, alpha * t_before, 0.0)
            out.index_add_(0, active, torch.bmm(weight.transpose(1, 2), feat_p[pos]))
            if labels is not None:
                per_label = torch.zeros(active.numel(), n_labels, geo.p, dtype=dtype)
                per_label.scatter_add_(1, lab_p[pos][:, :, None].expand(-1, -1, geo.p), weight)
                labels.index_add_(0, active, per_label)
            trans[active] = t_after[:, -1]
            replay.append((active, step, b, t_in))
            step += b
            done = (t_after[:, -1] <= TRANSMITTANCE_MIN).all(dim=1) | (tile_count[active] <= step)
            active = active[~done]
        ctx.save_for_backward(coef, feat, out)
        ctx.replay, ctx.geo, ctx.tile_start, ctx.tile_count = replay, geo, tile_start, tile_count
        if labels is not None:
            ctx.mark_non_differentiable(labels)
        return out, labels

    @staticmethod
    def backward(ctx, g_out, _g_labels):
        coef, feat, out = ctx.saved_tensors
        geo, tile_start, tile_count = ctx.geo, ctx.tile_start, ctx.tile_count
        m = feat.shape[0]
        coef_p, feat_p = _padded(coef, feat)
        g_coef = torch.zeros_like(coef_p)
        g_feat = torch.zeros_like(feat_p)
        total = (out * g_out).sum(-1)  # per pixel: sum_j w_j (f_j . g)
        done_sum = torch.zeros_like(total)  # the part of it from Gaussians already visited
        for active, step, b, t_in in ctx.replay:
            pos = _slots(tile_start, tile_count, active, step, b, m)
            raw, alpha = _chunk_alpha(coef_p, geo.neg_basis, pos)
            t_after = torch.cumprod(1.0 - alpha, dim=1) * t_in[:, None, :]
            keep = t_after > TRANSMITTANCE_MIN
            t_before = torch.cat([t_in[:, None, :], t_after[:, :-1]], dim=1)
            weight = torch.where(keep, alpha * t_before, 0.0)
            g = g_out[active]  # [A, P, F]
            fg = torch.bmm(feat_p[pos], g.transpose(1, 2))  # f_i . g(p)  [A, B, P]
            contrib = weight * fg
            behind = total[active][:, None, :] - (done_sum[active][:, None, :] + torch.cumsum(contrib, dim=1))
            done_sum[active] += contrib.sum(1)
            g_alpha = torch.where(keep, t_before * fg - behind / (1.0 - alpha), 0.0)
            # alpha = min(0.999, raw) above the 1/255 cut: the gradient passes where neither bites.
            g_exp = torch.where((alpha > 0) & (raw <= ALPHA_MAX), g_alpha * raw, 0.0)  # d raw / d(exponent) = raw
            flat = pos.reshape(-1)  # padding slots all land on row m, dropped below
            g_coef.index_add_(0, flat, (g_exp @ geo.neg_basis.T).reshape(-1, 6))
            g_feat.index_add_(0, flat, torch.bmm(weight, g).reshape(-1, feat.shape[1]))
        return g_coef[:m], g_feat[:m], None, None, None, None, None, None


def composite_tiles(
    means2d: Tensor,
    conics: Tensor,
    opacities: Tensor,
    features: Tensor,
    label_index: Tensor | None,
    n_labels: int,
    gauss_ids: Tensor,
    tile_start: Tensor,
    tile_count: Tensor,
    width: int,
    height: int,
    tile_size: int,
    chunk_elems: int = 1 << 22,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Front-to-back alpha compositing of binned Gaussians.

    means2d [N, 2], conics [N, 3], opacities [N], features [N, F], label_index [N] in 0..L-1.
    Returns features [H, W, F] = sum(w * f), alpha [H, W] = sum(w), label weights [H, W, L] or None.
    """
    n, f = features.shape
    geo = _TileGeometry(width, height, tile_size, means2d.dtype)
    # Per intersection (tile, Gaussian): the exponent's coefficients in tile-local pixels, small
    # numbers, so float32 loses nothing against the direct formula; autograd carries them back
    # to the Gaussians.
    tile_of = torch.repeat_interleave(torch.arange(geo.n_tiles), tile_count)
    uv = means2d[gauss_ids] - geo.origin[tile_of]
    u, v = uv[:, 0], uv[:, 1]
    ca, cb, cc = conics[gauss_ids].unbind(-1)
    log_o = torch.log(opacities[gauss_ids].clamp(min=1e-30))
    coef = torch.stack([0.5 * ca * u * u + 0.5 * cc * v * v + cb * u * v - log_o,
                        -(ca * u + cb * v), -(cc * v + cb * u), 0.5 * ca, 0.5 * cc, cb], dim=-1)  # [M, 6]
    # A constant channel of ones accumulates sum(w) = 1 - T_final: the pixel's alpha.
    feat = torch.cat([features[gauss_ids], features.new_ones(gauss_ids.numel(), 1)], dim=1)
    lab = label_index[gauss_ids] if label_index is not None else None
    acc, labels_acc = _Composite.apply(coef, feat, lab, n_labels, tile_start, tile_count, geo, chunk_elems)

    def untile(x: Tensor) -> Tensor:  # [T, P, ...] -> [H, W, ...]
        rest = x.shape[2:]
        x = x.reshape(geo.th, geo.tw, tile_size, tile_size, *rest).transpose(1, 2)
        return x.reshape(geo.th * tile_size, geo.tw * tile_size, *rest)[:height, :width]

    out = untile(acc)
    lw = None if labels_acc is None else untile(labels_acc.transpose(1, 2))
    return out[..., :f], out[..., f], lw
