"""The `torch` backend: a tiled, vectorised, differentiable CPU rasteriser.

Gaussians are binned to square screen tiles by their bounding boxes and sorted front to back
within each tile. Compositing then walks depth in chunks: each step takes the next B Gaussians
of every still-active tile and evaluates them against the tile's pixels as one
[tiles, pixels, B] tensor, carrying each pixel's transmittance to the next step. Tiles whose
pixels are all saturated, or whose lists are exhausted, drop out. The backward pass is written
by hand (`_Composite`): it replays the same chunks, reusing the forward's weights and
transmittances while they fit in a fixed budget and recomputing them beyond it, so memory stays
bounded whatever the scene.

Work is proportional to the tile area each Gaussian touches, not to N x H x W, and memory per
step is bounded by `chunk_elems`.
"""

from __future__ import annotations

import torch
from torch import Tensor

import torch.nn.functional as F

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
        self.neg_basis_t = self.neg_basis.T.contiguous()  # [P, 6]
        tiles = torch.arange(self.n_tiles)
        self.origin = torch.stack([(tiles % self.tw) * tile_size, (tiles // self.tw) * tile_size], 1).to(dtype)


# Just below 1/255, so that F.threshold (which keeps x > t) keeps alpha >= 1/255 as gsplat does.
_KEEP_ABOVE = float(torch.nextafter(torch.tensor(ALPHA_THRESHOLD, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)))
# Forward chunks keep their weights and transmittances for backward (saving its recomputation,
# half of its work) while they fit in this many elements (4 bytes each, two tensors); beyond it,
# backward recomputes them.
SAVE_ELEMS = 1 << 27


def _chunk_weights(coef: Tensor, geo: _TileGeometry, pos: Tensor, t_in: Tensor,
                   may_cap: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """Blending weights of the intersections at `pos` [A, B] over their tiles' pixels, entering
    with transmittance t_in [A, P]. Layout [A, P, B] (depth innermost: the scans along it and the
    batched matmuls run several times faster than with depth in the middle).

    Returns weight [A, P, B] = alpha * T_before (0 past the pixel's cutoff), the transmittance
    buffer [A, P, B + 1] (T before the chunk, then after each intersection), and where alpha was
    capped at ALPHA_MAX ([A, P, B] bool; None when nowhere). Alpha never exceeds the opacity, so
    only `may_cap` (some opacity above ALPHA_MAX) needs the test."""
    # -sigma + ln(opacity), floored at -30: exp is several times slower where it underflows, and
    # anything below e^-30 is far under the 1/255 cut anyway.
    alpha = torch.matmul(geo.neg_basis_t, coef[pos].transpose(1, 2)).clamp_(min=-30.0).exp_()
    capped = None
    if may_cap:
        capped = alpha > ALPHA_MAX
        capped = capped if bool(capped.any()) else None
    F.threshold(alpha, _KEEP_ABOVE, 0.0, inplace=True)
    alpha.clamp_(max=ALPHA_MAX)
    a, p, b = alpha.shape
    trans = torch.empty(a, p, b + 1, dtype=alpha.dtype)
    trans[..., 0] = t_in
    torch.mul(alpha, -1.0, out=trans[..., 1:])
    trans[..., 1:].add_(1.0)
    trans.cumprod_(2)
    weight = alpha.mul_(trans[..., :-1])
    # Stop before the Gaussian that would take the pixel's transmittance to the cutoff (a float
    # mask: multiplying by a bool tensor or torch.where is many times slower on CPU).
    if bool((trans[..., -1] <= TRANSMITTANCE_MIN).any()):
        weight.mul_(torch.gt(trans[..., 1:], TRANSMITTANCE_MIN, out=torch.empty_like(weight)))
    return weight, trans, capped


def _slots(tile_start: Tensor, tile_count: Tensor, active: Tensor, step: int, b: int, pad: int) -> Tensor:
    """Intersection index [A, B] of each active tile's next b Gaussians; `pad` past a list's end."""
    slot = step + torch.arange(b)
    return torch.where(slot[None] < tile_count[active, None], tile_start[active, None] + slot[None], pad)


def _padded(coef: Tensor, feat: Tensor) -> tuple[Tensor, Tensor]:
    """One extra intersection that never shows (alpha = e^-30) fills ragged chunks."""
    pad = coef.new_zeros(1, 6)
    pad[0, 0] = 30.0
    return torch.cat([coef, pad]), torch.cat([feat, feat.new_zeros(1, feat.shape[1])])


def _chunk_depth(tile_count: Tensor, active: Tensor, step: int, n_pixels: int, chunk_elems: int) -> int:
    """Gaussians per tile in the next chunk: as many as the memory bound allows, but no more than
    most active tiles still have, so that padding does not dominate ragged lists."""
    left = tile_count[active] - step
    most = int(torch.quantile(left.float(), 0.75)) if left.numel() > 1 else int(left.max())
    return max(8, min(256, chunk_elems // (active.numel() * n_pixels), -(-most // 8) * 8))


class _Composite(torch.autograd.Function):
    """Front-to-back compositing over per-intersection quadratic coefficients, with gsplat's
    rules, and a hand-written backward that walks the same chunks in order: with w_i = alpha_i T_i
    and R_i the weighted sum behind i, d/d alpha_i = T_i (f_i . g) - R_i / (1 - alpha_i) (3DGS's
    backward), so the gradient of the exponent is w_i (f_i . g - R_i / T_after_i).
    Chunk weights and transmittances are kept for backward up to SAVE_ELEMS, and recomputed
    beyond it, so memory stays bounded for any scene."""

    @staticmethod
    def forward(ctx, coef, feat, lab, n_labels, tile_start, tile_count, geo, chunk_elems, may_cap):
        m, f = feat.shape
        ctx.may_cap = may_cap
        dtype = coef.dtype
        coef_p, feat_p = _padded(coef, feat)
        trans = torch.ones(geo.n_tiles, geo.p, dtype=dtype)
        out = torch.zeros(geo.n_tiles, geo.p, f, dtype=dtype)
        labels = torch.zeros(geo.n_tiles, geo.p, n_labels, dtype=dtype) if lab is not None else None
        lab_p = torch.cat([lab, lab.new_zeros(1)]) if lab is not None else None
        keep_for_backward = any(ctx.needs_input_grad[:2])
        replay = []  # per chunk: (active tiles, first slot, depth, T in, saved weights or None)
        saved = 0
        active = (tile_count > 0).nonzero().squeeze(1)
        step = 0
        while active.numel() > 0:
            b = _chunk_depth(tile_count, active, step, geo.p, chunk_elems)
            pos = _slots(tile_start, tile_count, active, step, b, m)
            t_in = trans[active]
            weight, tbuf, capped = _chunk_weights(coef_p, geo, pos, t_in, ctx.may_cap)
            # As [F, B] x [B, P] products: MKL's batched GEMM is much slower with the small F last.
            out.index_add_(0, active, torch.bmm(feat_p[pos].transpose(1, 2), weight.transpose(1, 2)).transpose(1, 2))
            if labels is not None:
                onehot = F.one_hot(lab_p[pos], n_labels).to(dtype)  # [A, B, L]
                labels.index_add_(0, active, torch.bmm(onehot.transpose(1, 2), weight.transpose(1, 2)).transpose(1, 2))
            t_out = tbuf[..., -1].clone()
            trans[active] = t_out
            kept = None
            if keep_for_backward and saved + 2 * weight.numel() <= SAVE_ELEMS:
                kept = (weight, tbuf[..., 1:].clamp_(min=TRANSMITTANCE_MIN), capped)  # clamped: R / T stays finite
                saved += 2 * weight.numel()
            replay.append((active, step, b, t_in, kept))
            step += b
            done = (t_out <= TRANSMITTANCE_MIN).all(dim=1) | (tile_count[active] <= step)
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
        g_out = g_out.contiguous()
        total = (out * g_out).sum(-1)  # per pixel: sum_j w_j (f_j . g)
        done_sum = torch.zeros_like(total)  # the part of it from Gaussians already visited
        for active, step, b, t_in, kept in ctx.replay:
            pos = _slots(tile_start, tile_count, active, step, b, m)
            if kept is None:
                weight, tbuf, capped = _chunk_weights(coef_p, geo, pos, t_in, ctx.may_cap)
                t_after = tbuf[..., 1:].clamp_(min=TRANSMITTANCE_MIN)
            else:
                weight, t_after, capped = kept
            g = g_out[active]  # [A, P, F]
            fpos = feat_p[pos]  # [A, B, F]
            fg = torch.bmm(g, fpos.transpose(1, 2))  # f_i . g(p)  [A, P, B]
            behind = torch.mul(weight, fg).cumsum_(2)
            done_here = behind[..., -1].clone()
            # R_i = total - (visited before this chunk) - (this chunk up to and including i)
            behind.neg_().add_((total[active] - done_sum[active])[..., None])
            done_sum[active] += done_here
            g_exp = fg.sub_(behind.div_(t_after)).mul_(weight)  # [A, P, B]
            if capped is not None:  # alpha = min(0.999, raw): no gradient where the cap bit
                g_exp.masked_fill_(capped, 0.0)
            flat = pos.reshape(-1)  # padding slots all land on row m, dropped below
            g_coef.index_add_(0, flat, torch.bmm(geo.neg_basis.expand(len(active), -1, -1), g_exp).transpose(1, 2).reshape(-1, 6))
            g_feat.index_add_(0, flat, torch.bmm(g.transpose(1, 2), weight).transpose(1, 2).reshape(-1, feat.shape[1]))
        return g_coef[:m], g_feat[:m], None, None, None, None, None, None, None


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
    # alpha <= opacity * e^(-sigma) with sigma >= 0 up to rounding: the 0.999 cap can only bite
    # when some opacity comes within rounding of it.
    may_cap = bool(opacities.numel()) and float(opacities.detach().max()) * (1 + 1e-5) > ALPHA_MAX
    acc, labels_acc = _Composite.apply(coef, feat, lab, n_labels, tile_start, tile_count, geo, chunk_elems, may_cap)

    def untile(x: Tensor) -> Tensor:  # [T, P, ...] -> [H, W, ...]
        rest = x.shape[2:]
        x = x.reshape(geo.th, geo.tw, tile_size, tile_size, *rest).transpose(1, 2)
        return x.reshape(geo.th * tile_size, geo.tw * tile_size, *rest)[:height, :width]

    out = untile(acc)
    lw = None if labels_acc is None else untile(labels_acc)
    return out[..., :f], out[..., f], lw
