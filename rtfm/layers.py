"""Small shape and embedding helpers shared by the frame model and its encoder."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor


def patchify(x: Tensor, p: int) -> Tensor:
    """[B, C, H, W] -> [B, (H/p)(W/p), C p p]."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // p) * (w // p), c * p * p)


def unpatchify(t: Tensor, p: int, h: int, w: int) -> Tensor:
    """[B, (H/p)(W/p), C p p] -> [B, C, H, W]."""
    b, _, cpp = t.shape
    c = cpp // (p * p)
    t = t.reshape(b, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5)
    return t.reshape(b, c, h, w)


@functools.lru_cache(maxsize=32)
def resize_map(t: Tensor, width: int, height: int, mode: str) -> Tensor:
    """An image [H, W, C] or a map [H, W] at another size (F.interpolate's `mode`); floats out."""
    x = t.float()[None, None] if t.dim() == 2 else t.float().permute(2, 0, 1)[None]
    corners = {} if mode in ("nearest", "area") else {"align_corners": False}
    y = F.interpolate(x, size=(height, width), mode=mode, **corners)
    return y[0, 0] if t.dim() == 2 else y[0].permute(1, 2, 0)


def sincos_2d(h: int, w: int, dim: int, device=None) -> Tensor:
    """Fixed 2D sine-cosine position embedding [h w, dim] (any grid size, no learned table).
    Remembered per (h, w, dim, device): the same few grids are asked for at every step."""
    quarter = dim // 4
    freqs = torch.exp(-math.log(10000.0) * torch.arange(quarter, device=device, dtype=torch.float32) / quarter)
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    ay, ax = ys.reshape(-1, 1) * freqs, xs.reshape(-1, 1) * freqs
    emb = torch.cat([torch.sin(ax), torch.cos(ax), torch.sin(ay), torch.cos(ay)], 1)
    return F.pad(emb, (0, dim - emb.shape[1]))


def fourier(x: Tensor, freqs: int = 8) -> Tensor:
    """[..., C] -> [..., 2 C freqs]: sin and cos at octave frequencies (pi/8 per metre upwards)."""
    scales = (2.0 ** torch.arange(freqs, device=x.device, dtype=torch.float32)) * (math.pi / 8)
    a = x[..., None] * scales
    return torch.cat([torch.sin(a), torch.cos(a)], -1).flatten(-2)


def timestep_embedding(sigma: Tensor, dim: int) -> Tensor:
    """sigma [B] in [0, 1] -> sinusoidal features [B, dim] (of 1000 sigma, as diffusers' timesteps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=sigma.device, dtype=torch.float32) / half)
    args = (sigma.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], -1)
