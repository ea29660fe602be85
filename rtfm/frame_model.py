"""The RTFM frame model: a conditional flow-matching diffusion transformer over one target frame.

Two token streams share every layer (MMDiT-style joint attention, separate weights):
  - target tokens: patches of the pixel-aligned inputs (noisy target RGB-D, the memory warped into
    the target view with its masks, the layout guide's labels/colour/depth, the target's rays),
    modulated by the noise level (adaLN-Zero);
  - context tokens: a null token, the K retrieved memory frames (RGB-D patches with Plücker rays
    relative to the target camera) and the condition tokens (text, images, video, 3D layout).
Context tokens never attend to target tokens and carry no noise level, so their keys and values
depend only on the frame's conditioning: `encode_context` computes them once per frame, with the
conditioning pixels' share of the target embedding and of the refine's first convolution (both
linear), and `denoise` reuses them at every sampling step. `forward` is the joint (uncached) path
used in training; a test checks that both agree.

The network predicts the clean frame x0 (as a correction to the warped memory where it landed) (RGB in [-1, 1], depth as `depth_to_net`) and label
logits; `velocity` turns x0 into the flow-matching velocity v = noise - x0 that diffusers'
FlowMatchEulerDiscreteScheduler steps with. Shapes are in each method's docstring.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import Tensor

from renderer.layout import LABELS

from .attention import attend, key_bias
from .encoder import MultimodalEncoder
from .layers import patchify, sincos_2d, timestep_embedding, unpatchify
from .inputs import GUIDE_CHANNELS, MEMORY_CHANNELS, RAY_CHANNELS, WARP_CHANNELS, FrameInputError, FrameInputs

RGBD = 4  # diffused channels: RGB + depth
HEAD_FEATURES = 16  # per-pixel features the token head hands the refine convolution


@dataclass(frozen=True)
class FrameModelConfig:
    resolution: int = 64  # square training resolution; any multiple of memory_patch works at inference
    patch: int = 4  # target patch size in pixels
    memory_patch: int = 16  # memory-frame patch size
    dim: int = 128
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    num_labels: int = len(LABELS)
    label_dim: int = 8
    text_dim: int = 128  # width of the language backbone's TextEncoder
    image_size: int = 64  # images and video frames are resized to this square for the ViT
    image_patch: int = 8
    image_pool: int = 2  # image tokens are pooled pool x pool (video frames twice as much)
    encoder_depth: int = 2
    layout_grid: tuple[int, int, int] = (16, 16, 8)
    layout_patch: int = 4
    refine_channels: int = 32
    max_memory: int = 8
    # the memory warp the model reads (`renderer.warp.forward_warp(supersample=...)`); checkpoints
    # from before it was a setting were trained on 1
    warp_supersample: int = 1

    # presets: name -> overrides. Parameter counts and FLOPs per frame are printed by bench/rtfm.py
    # and listed in the README (`FrameModel.flops_per_frame`).
    PRESETS = {
        "tiny": dict(warp_supersample=2),  # 2 CPU cores, 64x64
        # the same network over the same 256 target tokens at 4x and 16x the pixels (JiT: an
        # x-predicting transformer keeps its quality with larger patches); `checkpoint.grow_resolution`
        # makes them from a trained tiny model
        "tiny-128": dict(resolution=128, patch=8, memory_patch=32, warp_supersample=2),  # 2 CPU cores, 128x128
        "tiny-256": dict(resolution=256, patch=16, memory_patch=64, warp_supersample=2),  # 2 CPU cores, 256x256
        "gpu": dict(resolution=256, patch=8, memory_patch=32, dim=768, depth=12, heads=12, image_size=128,
                    image_patch=16, encoder_depth=4, refine_channels=48, warp_supersample=2),  # one H100, bf16, 256x256
    }

    @classmethod
    def preset(cls, name: str, **overrides) -> "FrameModelConfig":
        if name not in cls.PRESETS:
            raise ValueError(f"unknown frame model preset {name!r}; choose from {', '.join(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **overrides})

    def __post_init__(self):
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} must be divisible by heads {self.heads}")
        if self.memory_patch % self.patch or self.resolution % self.memory_patch:
            raise ValueError("memory_patch must be a multiple of patch, and resolution a multiple of memory_patch")


class Mlp(nn.Sequential):
    """Linear, exact GELU, linear. Exact, not the tanh form the first checkpoints were trained with:
    ATen's tanh GELU took 3x as long on a CPU (240 against 80 us on [256, 512]); the two differ by
    under 1e-3 and gave the same held-out figures to 0.01 dB with the same weights."""

    def __init__(self, dim: int, ratio: float):
        super().__init__(nn.Linear(dim, int(dim * ratio)), nn.GELU(), nn.Linear(int(dim * ratio), dim))


class JointBlock(nn.Module):
    """One layer of both streams. Context: pre-LN self-attention over context keys only, MLP.
    Target: adaLN-Zero modulated attention over [context keys; target keys], MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.c_norm1, self.c_norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.c_qkv, self.c_proj, self.c_mlp = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim), Mlp(dim, mlp_ratio)
        self.t_norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.t_norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.t_qkv, self.t_proj, self.t_mlp = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim), Mlp(dim, mlp_ratio)
        self.t_mod = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.t_mod.weight)
        nn.init.zeros_(self.t_mod.bias)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, n, three_d = x.shape
        q, k, v = x.reshape(b, n, 3, self.heads, three_d // (3 * self.heads)).permute(2, 0, 3, 1, 4)
        return q, k, v  # each [B, heads, N, head_dim]

    @staticmethod
    def _merge(x: Tensor) -> Tensor:
        b, h, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, h * d)

    def context_qkv(self, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self._heads(self.c_qkv(self.c_norm1(c)))

    def context_out(self, c: Tensor, attn: Tensor) -> Tensor:
        c = c + self.c_proj(self._merge(attn))
        return c + self.c_mlp(self.c_norm2(c))

    def target_qkv(self, x: Tensor, mod: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        shift, scale = mod[0], mod[1]
        return self._heads(self.t_qkv(self.t_norm1(x) * (1 + scale[:, None]) + shift[:, None]))

    def target_out(self, x: Tensor, attn: Tensor, mod: Tensor) -> Tensor:
        gate1, shift2, scale2, gate2 = mod[2], mod[3], mod[4], mod[5]
        x = x + gate1[:, None] * self.t_proj(self._merge(attn))
        return x + gate2[:, None] * self.t_mlp(self.t_norm2(x) * (1 + scale2[:, None]) + shift2[:, None])

    def modulation(self, temb: Tensor) -> Tensor:
        return self.t_mod(F.silu(temb)).chunk(6, dim=-1)


@dataclass
class ContextCache:
    """What a frame's conditioning gives every sampling step: per-layer context keys and values
    [B, heads, Lc, head_dim], the context key mask [B, Lc], the target rows' key bias (`key_bias`
    of [context mask; target], None when every key is valid), and the conditioning pixels' share of
    the target tokens [B, Lt, D] and of the refine's first convolution [B, refine_channels, H, W]."""

    keys: list[Tensor]
    values: list[Tensor]
    mask: Tensor
    target_bias: Tensor | None
    pixel_tokens: Tensor
    pixel_refine: Tensor


class FrameModel(ModelMixin, ConfigMixin):
    config_name = "config.json"

    @register_to_config
    def __init__(self, resolution: int = 64, patch: int = 4, memory_patch: int = 16, dim: int = 128, depth: int = 6,
                 heads: int = 4, mlp_ratio: float = 4.0, num_labels: int = len(LABELS), label_dim: int = 8,
                 text_dim: int = 128, image_size: int = 64, image_patch: int = 8, image_pool: int = 2, encoder_depth: int = 2,
                 layout_grid: tuple = (16, 16, 8), layout_patch: int = 4, refine_channels: int = 32,
                 max_memory: int = 8, warp_supersample: int = 1):
        values = dict(locals())
        super().__init__()
        cfg = FrameModelConfig(**{**{f.name: values[f.name] for f in dataclasses.fields(FrameModelConfig)},
                                  "layout_grid": tuple(layout_grid)})
        self.cfg = cfg
        # label id -1 (none) maps to the extra last row
        self.label_embed = nn.Embedding(num_labels + 1, label_dim)
        pix = RGBD + WARP_CHANNELS + GUIDE_CHANNELS + RAY_CHANNELS + 2 * label_dim
        self.pixel_channels = pix
        self.target_embed = nn.Linear(pix * patch * patch, dim)
        self.memory_embed = nn.Linear(MEMORY_CHANNELS * memory_patch * memory_patch, dim)
        self.memory_type = nn.Parameter(torch.zeros(max_memory, dim))
        self.null_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.encoder = MultimodalEncoder(cfg)
        self.time_mlp = nn.Sequential(nn.Linear(256, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(JointBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.final_norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.final_mod = nn.Linear(dim, 2 * dim)
        nn.init.zeros_(self.final_mod.weight)
        nn.init.zeros_(self.final_mod.bias)
        self.head = nn.Linear(dim, HEAD_FEATURES * patch * patch)
        r = refine_channels
        # input channels: head features, the noisy frame, then the conditioning pixels (`encode_pixels`)
        self.refine = nn.Sequential(nn.Conv2d(HEAD_FEATURES + pix, r, 3, padding=1), nn.GELU(),
                                    nn.Conv2d(r, r, 3, padding=1), nn.GELU(), nn.Conv2d(r, RGBD + num_labels, 1))

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "FrameModel":
        return cls(**dataclasses.asdict(FrameModelConfig.preset(name, **overrides)))

    # ---- inputs -> tokens -------------------------------------------------------------------
    def _labels(self, label: Tensor) -> Tensor:
        """[B, H, W] ids (-1 = none) -> [B, label_dim, H, W]."""
        idx = torch.where(label < 0, torch.full_like(label, self.cfg.num_labels), label.clamp(max=self.cfg.num_labels))
        return self.label_embed(idx).permute(0, 3, 1, 2)

    def condition_pixels(self, inputs: FrameInputs) -> Tensor:
        """The pixel-aligned conditioning [B, pixel_channels - 4, H, W]: warped memory and its labels,
        the guide and its labels, the target's rays. The noisy frame x_t comes before it."""
        return torch.cat([inputs.warp, self._labels(inputs.warp_label), inputs.guide,
                          self._labels(inputs.guide_label), inputs.rays], 1)

    def encode_pixels(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """cond [B, C, H, W] (`condition_pixels`) -> its share of the target tokens [B, Lt, D] (with
        the embedding's bias and the positions) and of the refine's first convolution [B, r, H, W]
        (with its bias). Both layers are linear in their input, so the noisy frame's share is added
        at each step (`_target_tokens`, `_output`) and this part is computed once per frame."""
        p, h, w = self.cfg.patch, cond.shape[-2], cond.shape[-1]
        if h % self.cfg.memory_patch or w % self.cfg.memory_patch:
            raise FrameInputError(f"frame size {w}x{h} must be a multiple of {self.cfg.memory_patch}")
        embed, conv = self.target_embed, self.refine[0]
        tokens = F.linear(patchify(cond, p), embed.weight[:, RGBD * p * p:], embed.bias)
        tokens = tokens + sincos_2d(h // p, w // p, self.cfg.dim, cond.device)[None]
        return tokens, F.conv2d(cond, conv.weight[:, HEAD_FEATURES + RGBD:], conv.bias, padding=1)

    def _memory_tokens(self, inputs: FrameInputs) -> tuple[Tensor, Tensor]:
        mem = inputs.memory  # [B, K, C, H, W]
        b, k = mem.shape[:2]
        if k == 0:
            return mem.new_zeros(b, 0, self.cfg.dim), torch.zeros(b, 0, dtype=torch.bool, device=mem.device)
        if k > self.cfg.max_memory:
            raise FrameInputError(f"{k} memory frames given; this model takes at most {self.cfg.max_memory}")
        p = self.cfg.memory_patch
        h, w = mem.shape[-2:]
        tok = self.memory_embed(patchify(mem.flatten(0, 1), p))  # [B K, n, D]
        tok = tok + sincos_2d(h // p, w // p, self.cfg.dim, tok.device)[None]
        tok = tok.reshape(b, k, -1, self.cfg.dim) + self.memory_type[:k, None]
        mask = inputs.memory_mask[:, :, None].expand(b, k, tok.shape[2])
        return tok.flatten(1, 2), mask.flatten(1, 2)

    def context_tokens(self, inputs: FrameInputs) -> tuple[Tensor, Tensor]:
        """-> context tokens [B, Lc, D] and mask [B, Lc]: null token, memory, then condition tokens."""
        b = inputs.rays.shape[0]
        null = self.null_token.expand(b, 1, self.cfg.dim)
        mem, mem_mask = self._memory_tokens(inputs)
        cond, cond_mask = self.encoder(inputs)
        tokens = torch.cat([null.to(mem.dtype), mem, cond.to(mem.dtype)], 1)
        mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=mem.device), mem_mask, cond_mask], 1)
        return tokens, mask

    def _target_tokens(self, x_t: Tensor, pixel_tokens: Tensor) -> Tensor:
        p = self.cfg.patch
        return F.linear(patchify(x_t, p), self.target_embed.weight[:, : RGBD * p * p]) + pixel_tokens

    def _refine_first(self, feat: Tensor, x_t: Tensor, pixel_refine: Tensor) -> Tensor:
        """The refine's first convolution over [head features; x_t; conditioning pixels]: the first
        two at this step plus the conditioning's share from `encode_pixels` -> [B, r, H, W]."""
        weight = self.refine[0].weight[:, : HEAD_FEATURES + RGBD]
        return F.conv2d(torch.cat([feat, x_t], 1), weight, padding=1) + pixel_refine

    def _output(self, x: Tensor, temb: Tensor, x_t: Tensor, pixel_refine: Tensor,
                warp: Tensor) -> tuple[Tensor, Tensor]:
        shift, scale = self.final_mod(F.silu(temb)).chunk(2, dim=-1)
        x = self.final_norm(x) * (1 + scale[:, None]) + shift[:, None]
        h, w = x_t.shape[-2:]
        feat = unpatchify(self.head(x), self.cfg.patch, h, w)
        out = self.refine[1:](self._refine_first(feat, x_t, pixel_refine))
        # Residual on the warped memory: where a memory pixel landed, the network predicts a correction
        # to it (occlusion, lighting, noise); elsewhere it generates the pixel outright.
        skip = torch.cat([warp[:, :3] * warp[:, 4:5], warp[:, 3:4] * warp[:, 5:6]], 1)
        return out[:, :RGBD] + skip, out[:, RGBD:]

    # ---- the two paths ----------------------------------------------------------------------
    def forward(self, x_t: Tensor, sigma: Tensor, inputs: FrameInputs) -> tuple[Tensor, Tensor]:
        """Joint path: x_t [B, 4, H, W], sigma [B] -> x0 [B, 4, H, W], label logits [B, L, H, W].
        One attention call per layer over [context; target] with context rows masked off the target."""
        ctx, ctx_mask = self.context_tokens(inputs)
        pixel_tokens, pixel_refine = self.encode_pixels(self.condition_pixels(inputs))
        x = self._target_tokens(x_t, pixel_tokens)
        temb = self.time_mlp(timestep_embedding(sigma, 256))
        lc, lt = ctx.shape[1], x.shape[1]
        b = x.shape[0]
        keys_ok = torch.cat([ctx_mask, torch.ones(b, lt, dtype=torch.bool, device=x.device)], 1)  # [B, Lc+Lt]
        rows_ctx = torch.arange(lc + lt, device=x.device) < lc
        mask = keys_ok[:, None, None, :] & ~(rows_ctx[None, None, :, None] & ~rows_ctx[None, None, None, :])
        for i, blk in enumerate(self.blocks):
            mod = blk.modulation(temb)
            qc, kc, vc = blk.context_qkv(ctx)
            qt, kt, vt = blk.target_qkv(x, mod)
            out = attend(torch.cat([qc, qt], 2), torch.cat([kc, kt], 2), torch.cat([vc, vt], 2), mask)
            if i < len(self.blocks) - 1:
                ctx = blk.context_out(ctx, out[:, :, :lc])
            x = blk.target_out(x, out[:, :, lc:], mod)
        return self._output(x, temb, x_t, pixel_refine, inputs.warp)

    def encode_context(self, inputs: FrameInputs) -> ContextCache:
        """Run the context stream once (per-layer keys/values) and encode the conditioning pixels,
        for `denoise` to reuse at every step."""
        ctx, mask = self.context_tokens(inputs)
        pixel_tokens, pixel_refine = self.encode_pixels(self.condition_pixels(inputs))
        keys, values = [], []
        key_mask = key_bias(mask[:, None, None, :])
        for i, blk in enumerate(self.blocks):
            q, k, v = blk.context_qkv(ctx)
            keys.append(k)
            values.append(v)
            if i < len(self.blocks) - 1:
                ctx = blk.context_out(ctx, attend(q, k, v, key_mask))
        b, lt = pixel_tokens.shape[:2]
        target_keys = torch.cat([mask, torch.ones(b, lt, dtype=torch.bool, device=mask.device)], 1)
        return ContextCache(keys, values, mask, key_bias(target_keys[:, None, None, :]), pixel_tokens, pixel_refine)

    def denoise(self, x_t: Tensor, sigma: Tensor, inputs: FrameInputs, cache: ContextCache) -> tuple[Tensor, Tensor]:
        """Cached path: the same outputs as `forward`, with the context stream read from `cache`."""
        x = self._target_tokens(x_t, cache.pixel_tokens)
        temb = self.time_mlp(timestep_embedding(sigma, 256))
        for blk, kc, vc in zip(self.blocks, cache.keys, cache.values):
            mod = blk.modulation(temb)
            q, k, v = blk.target_qkv(x, mod)
            x = blk.target_out(x, attend(q, torch.cat([kc, k], 2), torch.cat([vc, v], 2), cache.target_bias), mod)
        return self._output(x, temb, x_t, cache.pixel_refine, inputs.warp)

    @staticmethod
    def velocity(x_t: Tensor, x0: Tensor, sigma: Tensor, min_sigma: float = 1e-3) -> Tensor:
        """Flow-matching velocity v = noise - x0 implied by an x0 prediction: (x_t - x0) / sigma."""
        return (x_t - x0) / sigma.clamp(min=min_sigma).view(-1, 1, 1, 1)

    # ---- sizes ------------------------------------------------------------------------------
    def flops_per_frame(self, width: int, height: int, context_tokens: int, steps: int,
                        cfg_batches: int = 1) -> dict[str, float]:
        """Analytic FLOPs (2 per multiply-add) of sampling one frame: the context stream and the
        conditioning pixels once (`encode_context`), the target stream `steps` times, all `cfg_batches`
        times (2 with guidance). Linear layers, attention and the refine convolution; norms and
        element-wise ops are left out."""
        c = self.cfg
        d, mlp = c.dim, int(c.dim * c.mlp_ratio)
        lt, lc = (width // c.patch) * (height // c.patch), context_tokens
        layer = lambda n: n * (4 * d * d + 2 * d * mlp)  # noqa: E731  (qkv + proj + mlp per token)
        r, cond = c.refine_channels, self.pixel_channels - RGBD
        ctx = c.depth * (layer(lc) + 2 * lc * lc * d)
        pixels = lt * d * cond * c.patch ** 2 + width * height * 9 * cond * r
        tgt = c.depth * (layer(lt) + 2 * lt * (lc + lt) * d + 6 * d * d)
        embed_head = lt * d * (RGBD + HEAD_FEATURES) * c.patch ** 2
        refine = width * height * (9 * (HEAD_FEATURES + RGBD) * r + 9 * r * r + r * (RGBD + c.num_labels))
        per_step = 2 * cfg_batches * (tgt + embed_head + refine)
        context = 2 * cfg_batches * (ctx + pixels)
        return {"context_gflop": context / 1e9, "per_step_gflop": per_step / 1e9,
                "total_gflop": (context + steps * per_step) / 1e9}
