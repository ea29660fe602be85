"""Engram-style hashed n-gram memory (deepseek-ai/Engram; shared/research/backbone.md).

For every position, the 2- and 3-grams ending there are hashed by several heads (distinct odd
multipliers and prime table sizes per head) into embedding tables. The concatenated memory e
is gated by the hidden state: key = RMSNorm(Wk e), query = RMSNorm(h), g = <k, q> / sqrt(d),
alpha = sigmoid(sign(g) sqrt(|g|)); value = alpha * Wv e; out = value + ShortConv(value), a
depthwise causal convolution (kernel 4, dilation 3) between RMSNorm and SiLU. The block adds
out to the residual stream before attention. Everything is causal: position t sees tokens <= t.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

# Primes for the hash tables and odd multipliers for mixing, distinct per head.
PRIMES = [10007, 10009, 10037, 10039, 10061, 10067, 10069, 10079, 10091, 10093, 10099, 10103, 10111, 10133, 10139, 10141]
MULTIPLIERS = [0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1, 0xD3A2646C, 0xFD7046C5, 0xB55A4F09]


def ngram_hashes(ids: Tensor, order: int, head: int, table: int) -> Tensor:
    """ids [B, T] -> table indices [B, T] for the n-gram (t-order+1 .. t) under one hash head.
    Positions before the start count as token id -1 (all bits set), so they hash apart."""
    mix = torch.zeros_like(ids)
    for back in range(order):
        prev = F.pad(ids, (back, 0), value=-1)[:, : ids.shape[1]]
        mult = MULTIPLIERS[(head + back * 3) % len(MULTIPLIERS)]
        mix = mix ^ (prev * mult)
    return torch.remainder(mix, table)


class ShortConv(nn.Module):
    def __init__(self, dim: int, kernel: int = 4, dilation: int = 3, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.RMSNorm(dim, eps=eps)
        self.conv = nn.Conv1d(dim, dim, kernel, dilation=dilation, groups=dim, bias=False)
        self.pad = (kernel - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:  # x [B, T, d]
        y = F.pad(self.norm(x).transpose(1, 2), (self.pad, 0))  # left padding only: causal
        return F.silu(self.conv(y).transpose(1, 2))


class Engram(nn.Module):
    def __init__(self, d_model: int, orders: tuple[int, ...] = (2, 3), heads: int = 4, dim: int = 32, eps: float = 1e-5):
        super().__init__()
        self.orders, self.heads, self.d = orders, heads, d_model
        self.tables = nn.ModuleList(nn.Embedding(PRIMES[(i * heads + h) % len(PRIMES)], dim)
                                    for i in range(len(orders)) for h in range(heads))
        mem = len(orders) * heads * dim
        self.key = nn.Linear(mem, d_model, bias=False)
        self.value = nn.Linear(mem, d_model, bias=False)
        self.key_norm, self.query_norm = nn.RMSNorm(d_model, eps=eps), nn.RMSNorm(d_model, eps=eps)
        self.conv = ShortConv(d_model, eps=eps)
        for t in self.tables:
            nn.init.normal_(t.weight, std=dim**-0.5)

    def memory(self, ids: Tensor) -> Tensor:
        """ids [B, T] -> concatenated n-gram embeddings [B, T, orders * heads * dim]."""
        parts = []
        for i, order in enumerate(self.orders):
            for h in range(self.heads):
                table = self.tables[i * self.heads + h]
                parts.append(table(ngram_hashes(ids, order, h, table.num_embeddings)))
        return torch.cat(parts, dim=-1)

    def gate(self, h: Tensor, e: Tensor) -> Tensor:
        g = (self.key_norm(self.key(e)) * self.query_norm(h)).sum(-1, keepdim=True) / self.d**0.5
        return torch.sigmoid(torch.sign(g) * torch.sqrt(g.abs() + 1e-12))

    def forward(self, h: Tensor, ids: Tensor, cache: dict | None = None) -> Tensor:
        """The residual update [B, T, d] for hidden states h [B, T, d] at token ids [B, T].
        With a `cache` (KV-cached decoding), the previous tokens and values it keeps supply the
        n-gram and convolution history, so decoding one token at a time matches a full pass."""
        t = ids.shape[1]
        keep_ids, keep_vals = max(self.orders) - 1, self.conv.pad
        if cache is not None and "engram_ids" in cache:
            ids = torch.cat([cache["engram_ids"], ids], dim=1)
        e = self.memory(ids)[:, -t:]
        value = self.gate(h, e) * self.value(e)
        history = value
        if cache is not None:
            if "engram_vals" in cache:
                history = torch.cat([cache["engram_vals"], value], dim=1)
            cache["engram_ids"], cache["engram_vals"] = ids[:, -keep_ids:], history[:, -keep_vals:]
        return value + self.conv(history)[:, -t:]
