"""The multimodal encoder: condition tokens for the frame model from whatever inputs are present.

- text: the language backbone's `TextEncoder` states (computed by the caller, frozen), projected;
- images: patch tokens of a small ViT trained with the frame model;
- video: the same ViT per sampled frame, pooled 2x2, plus an embedding of the frame's time;
- layout: the coarse layout as a label/colour voxel grid, cut into 3D patches, each placed by
  Fourier features of its centre in the target camera's frame.
Each modality gets a type embedding; an absent modality contributes no tokens (its mask is False).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .attention import attend
from .layers import fourier, patchify, sincos_2d

TEXT, IMAGE, VIDEO, LAYOUT = range(4)
FOURIER_FREQS = 8  # per coordinate


class ViTBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        # exact GELU, as in `frame_model.Mlp`
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.proj(attend(q, k, v).transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class ImageEncoder(nn.Module):
    """A small ViT: images [N, 3, S, S] in [0, 1] -> patch tokens [N, (S/p)^2, D]."""

    def __init__(self, size: int, patch: int, dim: int, heads: int, depth: int):
        super().__init__()
        self.size, self.patch = size, patch
        self.embed = nn.Linear(3 * patch * patch, dim)
        self.blocks = nn.ModuleList(ViTBlock(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, images: Tensor) -> Tensor:
        x = self.embed(patchify(images * 2 - 1, self.patch))
        g = self.size // self.patch
        x = x + sincos_2d(g, g, x.shape[-1], x.device)[None]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class MultimodalEncoder(nn.Module):
    """FrameInputs -> condition tokens [B, N, D] and mask [B, N] (True = a real token)."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg.dim
        self.cfg = cfg
        self.text_proj = nn.Sequential(nn.LayerNorm(cfg.text_dim), nn.Linear(cfg.text_dim, d))
        self.image = ImageEncoder(cfg.image_size, cfg.image_patch, d, cfg.heads, cfg.encoder_depth)
        self.time_proj = nn.Linear(2 * FOURIER_FREQS, d)
        self.voxel_label = nn.Embedding(cfg.num_labels + 1, 8)
        p = cfg.layout_patch
        self.layout_embed = nn.Linear((8 + 3 + 1) * p ** 3, d)
        self.layout_pos = nn.Linear(3 * 2 * FOURIER_FREQS, d)
        self.type_embed = nn.Embedding(4, d)

    def _images(self, images: Tensor, pool: int) -> Tensor:
        """[B, I, 3, S, S] -> [B, I, n / pool^2, D]: ViT patch tokens, average-pooled pool x pool."""
        b, i = images.shape[:2]
        tok = self.image(images.flatten(0, 1))
        g = self.cfg.image_size // self.cfg.image_patch
        grid = tok.reshape(b * i, g, g, -1).permute(0, 3, 1, 2)
        return F.avg_pool2d(grid, pool).flatten(2).transpose(1, 2).reshape(b, i, -1, self.cfg.dim)

    def _video(self, frames: Tensor, times: Tensor) -> Tensor:
        """[B, F, 3, S, S], times [B, F] (s) -> [B, F, n', D]: pooled twice as much as images, plus time."""
        tok = self._images(frames, 2 * self.cfg.image_pool)
        return tok + self.time_proj(fourier(times[..., None] * 4.0, FOURIER_FREQS))[:, :, None]

    def _layout(self, label: Tensor, rgb: Tensor, pos: Tensor) -> Tensor:
        """label [B, X, Y, Z] (-1 empty), rgb [B, 3, X, Y, Z], pos [B, 3, X, Y, Z] (target-camera frame, m)
        -> [B, n, D], one token per layout_patch^3 block."""
        p = self.cfg.layout_patch
        # -1 (empty) and ids this model was built without (labels added after its checkpoint) share
        # the last, "unknown" embedding, as the frame model's pixel labels do
        idx = torch.where(label < 0, torch.full_like(label, self.cfg.num_labels), label.clamp(max=self.cfg.num_labels))
        occ = (label >= 0).to(rgb.dtype)[:, None]
        vox = torch.cat([self.voxel_label(idx).permute(0, 4, 1, 2, 3), rgb * occ, occ], 1)  # [B, 12, X, Y, Z]
        b, c, X, Y, Z = vox.shape

        def blocks(t: Tensor) -> Tensor:
            t = t.reshape(b, t.shape[1], X // p, p, Y // p, p, Z // p, p).permute(0, 2, 4, 6, 1, 3, 5, 7)
            return t.reshape(b, (X // p) * (Y // p) * (Z // p), -1)

        centre = blocks(pos).reshape(b, -1, 3, p ** 3).mean(-1)
        return self.layout_embed(blocks(vox)) + self.layout_pos(fourier(centre))

    def forward(self, inputs) -> tuple[Tensor, Tensor]:
        parts, masks = [], []
        ref = inputs.rays

        def add(tokens: Tensor, mask: Tensor, kind: int) -> None:
            parts.append(tokens + self.type_embed.weight[kind])
            masks.append(mask)

        if inputs.text is not None:
            add(self.text_proj(inputs.text), inputs.text_mask, TEXT)
        if inputs.images is not None:
            tok = self._images(inputs.images, self.cfg.image_pool)
            add(tok.flatten(1, 2), inputs.image_mask[:, :, None].expand(tok.shape[:3]).flatten(1, 2), IMAGE)
        if inputs.video is not None:
            tok = self._video(inputs.video, inputs.video_time)
            add(tok.flatten(1, 2), inputs.video_mask[:, :, None].expand(tok.shape[:3]).flatten(1, 2), VIDEO)
        if inputs.layout_label is not None:
            tok = self._layout(inputs.layout_label, inputs.layout_rgb, inputs.layout_pos)
            add(tok, inputs.layout_mask[:, None].expand(tok.shape[:2]), LAYOUT)
        if not parts:
            b = ref.shape[0]
            return ref.new_zeros(b, 0, self.cfg.dim), torch.zeros(b, 0, dtype=torch.bool, device=ref.device)
        return torch.cat(parts, 1), torch.cat(masks, 1)
