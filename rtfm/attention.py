"""One attention entry point: xformers' memory-efficient kernel on CUDA when it is installed,
torch's `scaled_dot_product_attention` everywhere else. Both take the same mask: boolean, or the
additive bias `key_bias` makes of one."""

from __future__ import annotations

import contextlib
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


BACKENDS = ("auto", "sdpa", "xformers")
_default_backend = "auto"


def _check(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown attention backend {backend!r}; choose auto, sdpa or xformers")


@contextlib.contextmanager
def attention_backend(backend: str):
    """Run every `attend` call that names no backend (the models' own) on `backend` inside the block;
    benchmarks and parity tests use it to compare xformers with SDPA in a whole model."""
    global _default_backend
    _check(backend)
    previous, _default_backend = _default_backend, backend
    try:
        yield
    finally:
        _default_backend = previous


def key_bias(mask: Tensor | None) -> Tensor | None:
    """A boolean mask (True = may attend) -> None when it allows every key, else the additive bias
    (0 or -inf) `attend` also takes. Made once per frame rather than per layer: SDPA's CPU kernel
    took 0.84 ms with a boolean mask against 0.61 with none or a float bias (256 queries, 421 keys,
    4 heads of 32; less at other sizes)."""
    if mask is None or bool(mask.all()):
        return None
    return torch.zeros(mask.shape, device=mask.device).masked_fill_(~mask, float("-inf"))


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, backend: str | None = None) -> Tensor:
    """q [B, H, Lq, D], k and v [B, H, Lk, D], mask broadcastable to [B, H, Lq, Lk]: boolean (True =
    may attend) or an additive float bias (`key_bias`) -> [B, H, Lq, D]. Every query row must be
    allowed at least one key. backend None: the one `attention_backend` set ("auto" outside it)."""
    backend = _default_backend if backend is None else backend
    _check(backend)
    if mask is not None and mask.is_floating_point() and mask.dtype != q.dtype:
        mask = mask.to(q.dtype)  # under autocast q is bf16, and the kernels want the bias alike
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
        if mask.dtype == torch.bool:
            bias.masked_fill_(~mask.expand(b, h, lq, lk), float("-inf"))
        else:
            bias.copy_(mask.expand(b, h, lq, lk))
    out = xops.memory_efficient_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_bias=bias)
    return out.transpose(1, 2)
