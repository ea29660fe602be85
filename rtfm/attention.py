"""One attention entry point: xformers' memory-efficient kernel on CUDA when it is installed,
torch's `scaled_dot_product_attention` everywhere else. Both take the same boolean mask."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor


@functools.lru_cache(maxsize=1)
def _xformers_ops():
    try:
        import xformers.ops as xops  # noqa: F401  (CUDA-only kernels; absent on CPU machines)

        return xops
    except Exception:  # not installed, or installed without a usable build: use torch's kernel
        return None


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, backend: str = "auto") -> Tensor:
    """q [B, H, Lq, D], k and v [B, H, Lk, D], mask broadcastable to [B, H, Lq, Lk] (True = may attend)
    -> [B, H, Lq, D]. Every query row must be allowed at least one key."""
    if backend not in ("auto", "sdpa", "xformers"):
        raise ValueError(f"unknown attention backend {backend!r}; choose auto, sdpa or xformers")
    use_xf = backend == "xformers" or (backend == "auto" and q.is_cuda and _xformers_ops() is not None)
    if not use_xf:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    xops = _xformers_ops()
    if xops is None or not q.is_cuda:
        raise RuntimeError("the xformers backend needs xformers installed and CUDA tensors")
    bias = None
    if mask is not None:
        b, h, lq, lk = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
        # xformers wants the bias's last dimension stored padded to a multiple of 8.
        padded = torch.zeros(b, h, lq, (lk + 7) // 8 * 8, dtype=q.dtype, device=q.device)
        bias = padded[..., :lk]
        bias.masked_fill_(~mask.expand(b, h, lq, lk), float("-inf"))
    out = xops.memory_efficient_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_bias=bias)
    return out.transpose(1, 2)
