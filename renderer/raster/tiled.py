"""The `torch` backend: a tiled, vectorised, differentiable CPU rasteriser.

Gaussians are binned to square screen tiles by their bounding boxes and sorted front to back
within each tile. Compositing then walks depth in chunks: each step takes the next B Gaussians
of every still-active tile and evaluates them against the tile's pixels as one
[tiles, B, pixels] tensor, carrying each pixel's transmittance to the next step. Tiles whose
pixels are all saturated, or whose lists are exhausted, drop out. Autograd differentiates it.

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
    # A constant channel of ones accumulates sum(w) = 1 - T_final: the pixel's alpha.
    features = torch.cat([features, features.new_ones(n, 1)], dim=1)
    dtype = means2d.dtype
    tw, th = tile_grid(width, height, tile_size)
    n_tiles, p = tw * th, tile_size * tile_size
    # One padding Gaussian (index n) with zero opacity fills ragged chunks.
    pad = lambda t: torch.cat([t, t.new_zeros((1,) + t.shape[1:])])  # noqa: E731
    mu, con, opa, feat = pad(means2d), pad(conics), pad(opacities), pad(features)

    # The Gaussian's exponent is a quadratic in tile-local pixel coordinates (x, y):
    #   -ln(alpha) = sum_k coef_k * basis_k(x, y),  basis = (1, x, y, x^2, y^2, xy),
    # so one batched matmul evaluates a whole chunk. Local coordinates (< tile_size) keep the
    # expanded terms small, so float32 loses nothing against the direct formula (see tests).
    local = torch.arange(p)
    lx = (local % tile_size).to(dtype) + 0.5  # pixel centres inside a tile
    ly = (local // tile_size).to(dtype) + 0.5
    neg_basis = -torch.stack([torch.ones_like(lx), lx, ly, lx * lx, ly * ly, lx * ly])  # [6, P]
    tiles = torch.arange(n_tiles)
    tile_origin = torch.stack([(tiles % tw) * tile_size, (tiles // tw) * tile_size], dim=1).to(dtype)  # [T, 2]
    log_opa = torch.log(opa.clamp(min=1e-30))

    trans = torch.ones(n_tiles, p, dtype=dtype)
    acc = torch.zeros(n_tiles, p, f + 1, dtype=dtype)
    labels_acc = None
    if label_index is not None:
        labels_acc = torch.zeros(n_tiles, n_labels, p, dtype=dtype)
        lab = torch.cat([label_index, label_index.new_zeros(1)])
    active = (tile_count > 0).nonzero().squeeze(1)
    step_start = 0
    m_total = gauss_ids.numel()
    while active.numel() > 0:
        a = active.numel()
        b = max(8, min(256, chunk_elems // (a * p)))
        slot = step_start + torch.arange(b)
        in_list = slot[None] < tile_count[active, None]  # [A, B]
        pos = (tile_start[active, None] + slot[None]).clamp(max=max(m_total - 1, 0))
        gid = torch.where(in_list, gauss_ids[pos], n)  # [A, B]

        uv = mu[gid] - tile_origin[active, None, :]  # mean in tile-local pixels [A, B, 2]
        u, v = uv[..., 0], uv[..., 1]
        ca, cb, cc = con[gid].unbind(-1)
        coef = torch.stack(
            [
                0.5 * ca * u * u + 0.5 * cc * v * v + cb * u * v - log_opa[gid],
                -(ca * u + cb * v),
                -(cc * v + cb * u),
                0.5 * ca,
                0.5 * cc,
                cb,
            ],
            dim=-1,
        )  # [A, B, 6]
        alpha = torch.exp(coef @ neg_basis).clamp(max=ALPHA_MAX)  # [A, B, P]
        alpha = torch.where(alpha >= ALPHA_THRESHOLD, alpha, 0.0)

        t_in = trans[active]  # [A, P]
        # Transmittance after each Gaussian, counting every one in order. A pixel stops before
        # the first Gaussian that would take it to 1e-4 or below, and stays stopped: the carried
        # product then keeps every later Gaussian (in this chunk or the next) below the cutoff.
        t_after = torch.cumprod(1.0 - alpha, dim=1) * t_in[:, None, :]  # [A, B, P]
        keep = t_after > TRANSMITTANCE_MIN
        t_before = torch.cat([t_in[:, None, :], t_after[:, :-1]], dim=1)
        weight = torch.where(keep, alpha * t_before, 0.0)  # [A, B, P]

        acc = acc.index_add(0, active, torch.bmm(weight.transpose(1, 2), feat[gid]))
        trans = trans.index_copy(0, active, t_after[:, -1])
        if labels_acc is not None:
            with torch.no_grad():
                per_label = torch.zeros(a, n_labels, p, dtype=dtype)
                per_label.scatter_add_(1, lab[gid][:, :, None].expand(-1, -1, p), weight.detach())
                labels_acc.index_add_(0, active, per_label)

        step_start += b
        with torch.no_grad():
            done = (t_after[:, -1] <= TRANSMITTANCE_MIN).all(dim=1) | (tile_count[active] <= step_start)
        active = active[~done]

    def untile(x: Tensor) -> Tensor:  # [T, P, ...] -> [H, W, ...]
        rest = x.shape[2:]
        x = x.reshape(th, tw, tile_size, tile_size, *rest).transpose(1, 2)
        return x.reshape(th * tile_size, tw * tile_size, *rest)[:height, :width]

    out = untile(acc)
    lw = None if labels_acc is None else untile(labels_acc.transpose(1, 2))
    return out[..., :f], out[..., f], lw
