"""A Grok-1-style decoder at any size, in one file (shared/research/backbone.md).

Per block, sandwich RMSNorm around both sub-layers:
    h = h + norm(attn(norm(h)))
    h = h + norm(moe(norm(h)))
Attention: grouped-query heads, RoPE (rotate-half, base 10000) on the full head dimension,
logits scaled by 1/sqrt(head_dim) and then soft-capped as 30 tanh(x / 30) in float32, no
biases. MoE: a float32 softmax router over all experts, top-2, gates not renormalised, experts
are gated GELU (tanh) FFNs out = W1(gelu(W x) * V x); a Switch-style load-balancing loss is
returned for training. Embeddings are tied and scaled by sqrt(d) on the way in; logits are
multiplied by 1/sqrt(3) on the way out. `generate` decodes with a KV cache. Optional, off by
default: an Engram hashed n-gram memory in chosen blocks, and mHC hyper-connected streams.

Soft-capping rules out fused SDPA kernels, so attention is computed explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .engram import Engram
from .mhc import HyperConnection


@dataclass
class GrokConfig:
    vocab_size: int = 4096
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 8
    n_kv_heads: int = 2
    head_dim: int | None = None  # default d_model // n_heads
    n_experts: int = 4
    top_k: int = 2
    ffn_dim: int | None = None  # default int(8 * d_model) * 2 // 3, rounded up to a multiple of 8
    max_seq_len: int = 512
    rope_base: float = 10000.0
    attn_softcap: float = 30.0
    norm_eps: float = 1e-5
    embedding_multiplier: float | None = None  # default sqrt(d_model)
    output_multiplier: float = 1 / math.sqrt(3)
    # Options, off by default (rtfm/language/engram.py, mhc.py):
    engram_layers: tuple[int, ...] = ()  # blocks that get a hashed n-gram memory before attention
    engram_heads: int = 4
    engram_dim: int = 32
    mhc_streams: int = 0  # > 1: that many hyper-connected residual streams

    def __post_init__(self) -> None:
        if self.head_dim is None:
            self.head_dim = self.d_model // self.n_heads
        if self.ffn_dim is None:
            self.ffn_dim = -(-(int(8 * self.d_model) * 2 // 3) // 8) * 8
        if self.embedding_multiplier is None:
            self.embedding_multiplier = math.sqrt(self.d_model)
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if not 1 <= self.top_k <= self.n_experts:
            raise ValueError(f"top_k must be in 1..n_experts, got {self.top_k} of {self.n_experts}")
        self.engram_layers = tuple(self.engram_layers)
        bad = [i for i in self.engram_layers if not 0 <= i < self.n_layers]
        if bad:
            raise ValueError(f"engram_layers {bad} are not blocks of a {self.n_layers}-layer model")

    @classmethod
    def preset(cls, name: str, **overrides) -> "GrokConfig":
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


PRESETS = {
    "tiny": dict(vocab_size=4096, d_model=128, n_layers=4, n_heads=4, n_kv_heads=2, n_experts=4, max_seq_len=512),
    "small": dict(vocab_size=16384, d_model=512, n_layers=8, n_heads=8, n_kv_heads=2, n_experts=8, max_seq_len=1024),
    "base": dict(vocab_size=32768, d_model=1024, n_layers=16, n_heads=16, n_kv_heads=4, n_experts=8, max_seq_len=2048),
    # xai-org/grok-1 run.py: 64 layers, d 6144, 48/8 heads of 128, 8 experts, FFN 32768, vocab 131072.
    "grok-1": dict(vocab_size=131072, d_model=6144, n_layers=64, n_heads=48, n_kv_heads=8, head_dim=128, n_experts=8,
                   ffn_dim=32768, max_seq_len=8192),
}


class RMSNorm(nn.Module):
    """x / rms(x) * scale, computed in float32 (Grok-1: scale multiplies directly, init 1)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x.float(), self.scale.shape, self.scale.float(), self.eps).to(x.dtype)


def rope_tables(head_dim: int, positions: Tensor, base: float) -> tuple[Tensor, Tensor]:
    """cos, sin [T, head_dim] for rotate-half RoPE at integer positions [T]."""
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim))
    angles = positions.float()[:, None] * inv[None]  # [T, head_dim / 2]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x [B, H, T, D]: x * cos + rotate_half(x) * sin."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        self.cfg = cfg
        d, hd = cfg.d_model, cfg.head_dim
        self.q = nn.Linear(d, cfg.n_heads * hd, bias=False)
        self.k = nn.Linear(d, cfg.n_kv_heads * hd, bias=False)
        self.v = nn.Linear(d, cfg.n_kv_heads * hd, bias=False)
        self.o = nn.Linear(cfg.n_heads * hd, d, bias=False)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | None, cache: dict | None) -> Tensor:
        """x [B, T, d]; mask [T, S] bool (True = may attend) over cached + new keys."""
        cfg = self.cfg
        b, t, _ = x.shape
        q = self.q(x).view(b, t, cfg.n_heads, cfg.head_dim).transpose(1, 2)
        k = self.k(x).view(b, t, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        v = self.v(x).view(b, t, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        # Query heads h = kv * group + g share key/value head kv: broadcast, not copied.
        q = q.view(b, cfg.n_kv_heads, cfg.n_heads // cfg.n_kv_heads, t, cfg.head_dim)
        k, v = k[:, :, None], v[:, :, None]
        logits = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(cfg.head_dim)  # [B, KV, group, T, S]
        logits = cfg.attn_softcap * torch.tanh(logits / cfg.attn_softcap)
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        att = torch.softmax(logits, dim=-1).to(v.dtype)
        return self.o((att @ v).view(b, cfg.n_heads, t, cfg.head_dim).transpose(1, 2).reshape(b, t, -1))


class Expert(nn.Module):
    """Gated GELU FFN: W1(gelu(W x) * V x)."""

    def __init__(self, d: int, ffn: int):
        super().__init__()
        self.w = nn.Linear(d, ffn, bias=False)
        self.v = nn.Linear(d, ffn, bias=False)
        self.w1 = nn.Linear(ffn, d, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w1(F.gelu(self.w(x), approximate="tanh") * self.v(x))


class MoE(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        self.cfg = cfg
        self.router = nn.Linear(cfg.d_model, cfg.n_experts, bias=False)
        self.experts = nn.ModuleList(Expert(cfg.d_model, cfg.ffn_dim) for _ in range(cfg.n_experts))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, T, d] -> (out [B, T, d], load-balancing loss)."""
        flat = x.reshape(-1, x.shape[-1])
        probs = torch.softmax(self.router(flat).float(), dim=-1)  # over all experts, float32
        gates, chosen = probs.topk(self.cfg.top_k, dim=-1)  # not renormalised (Grok-1)
        if flat.shape[0] == 1 and not self.training:  # one decoded token: run its k experts directly
            out = sum(self.experts[e](flat) * g for e, g in zip(chosen[0].tolist(), gates[0]))
            return out.to(flat.dtype).view_as(x), probs.new_zeros(())
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            rows, slot = (chosen == e).nonzero(as_tuple=True)
            if rows.numel():
                out.index_add_(0, rows, (expert(flat[rows]) * gates[rows, slot, None]).to(flat.dtype))
        if not self.training:  # the balance loss only matters to training
            return out.view_as(x), probs.new_zeros(())
        # Switch Transformer balance: n_experts * sum_e (token share routed to e) * (mean router prob of e).
        share = F.one_hot(chosen, self.cfg.n_experts).float().sum(1).mean(0) / self.cfg.top_k
        balance = self.cfg.n_experts * (share * probs.mean(0)).sum()
        return out.view_as(x), balance


class Block(nn.Module):
    def __init__(self, cfg: GrokConfig, index: int):
        super().__init__()
        eps = cfg.norm_eps
        self.pre_attn, self.post_attn = RMSNorm(cfg.d_model, eps), RMSNorm(cfg.d_model, eps)
        self.pre_moe, self.post_moe = RMSNorm(cfg.d_model, eps), RMSNorm(cfg.d_model, eps)
        self.attn = Attention(cfg)
        self.moe = MoE(cfg)
        self.engram = Engram(cfg.d_model, heads=cfg.engram_heads, dim=cfg.engram_dim, eps=eps) if index in cfg.engram_layers else None
        self.hc = None
        if cfg.mhc_streams > 1:
            names = (["engram"] if self.engram is not None else []) + ["attn", "moe"]
            self.hc = nn.ModuleDict({n: HyperConnection(cfg.d_model, cfg.mhc_streams, eps) for n in names})

    def forward(self, h: Tensor, ids: Tensor, cos, sin, mask, cache) -> tuple[Tensor, Tensor]:
        """h [B, T, d], or [B, T, n, d] with n hyper-connected streams."""
        balance = []

        def moe(x: Tensor) -> Tensor:
            out, bal = self.moe(self.pre_moe(x))
            balance.append(bal)
            return self.post_moe(out)

        subs = ([("engram", lambda x: self.engram(x, ids, cache))] if self.engram is not None else []) + [
            ("attn", lambda x: self.post_attn(self.attn(self.pre_attn(x), cos, sin, mask, cache))), ("moe", moe)]
        for name, sub in subs:
            h = h + sub(h) if self.hc is None else self.hc[name](h, sub)
        return h, balance[0]


class Grok(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.apply(self._init)
        self._rope: tuple[Tensor, Tensor] | None = None  # cos, sin for every position, made on first use

    @staticmethod
    def _init(m: nn.Module) -> None:
        # Variance scaling 1.0, fan-average (Phoenix's Grok port).
        if isinstance(m, nn.Linear):
            fan_in, fan_out = m.weight.shape[1], m.weight.shape[0]
            nn.init.trunc_normal_(m.weight, std=math.sqrt(2.0 / (fan_in + fan_out)))
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=1.0 / math.sqrt(m.weight.shape[1]))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden(self, ids: Tensor, start: int = 0, caches: list[dict] | None = None,
               mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """ids [B, T] at positions start.. -> final-normed hidden states [B, T, d] and the summed
        balance loss. `mask` [T, start + T] overrides the causal mask (True = may attend)."""
        b, t = ids.shape
        if start + t > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {start + t} tokens exceeds max_seq_len {self.cfg.max_seq_len}")
        h = self.embed(ids) * self.cfg.embedding_multiplier
        if self._rope is None or self._rope[0].device != ids.device:
            positions = torch.arange(self.cfg.max_seq_len, device=ids.device)
            self._rope = rope_tables(self.cfg.head_dim, positions, self.cfg.rope_base)
        cos, sin = self._rope[0][start : start + t], self._rope[1][start : start + t]
        if mask is None and t > 1:  # (one new token may attend to everything before it: no mask)
            mask = torch.ones(t, start + t, dtype=torch.bool, device=ids.device).tril(diagonal=start)
        if self.cfg.mhc_streams > 1:  # every stream starts as the embedding; they are averaged at the end
            h = h[:, :, None, :].expand(-1, -1, self.cfg.mhc_streams, -1).contiguous()
        balance = h.new_zeros((), dtype=torch.float32)
        for i, block in enumerate(self.blocks):
            h, bal = block(h, ids, cos, sin, mask, None if caches is None else caches[i])
            balance = balance + bal
        if self.cfg.mhc_streams > 1:
            h = h.mean(-2)
        return self.norm(h), balance

    def forward(self, ids: Tensor, start: int = 0, caches: list[dict] | None = None) -> tuple[Tensor, Tensor]:
        """Logits [B, T, vocab] (float32) through the tied embedding, and the balance loss."""
        h, balance = self.hidden(ids, start, caches)
        logits = (h @ self.embed.weight.T).float() * self.cfg.output_multiplier
        return logits, balance

    @torch.no_grad()
    def generate(self, ids: Tensor, max_new_tokens: int, temperature: float = 0.0, logits_filter=None,
                 stop_token: int | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Extend ids [B, T] by at most max_new_tokens (and never past max_seq_len). temperature 0 is
        greedy. `logits_filter(tokens_so_far, logits)` may mask logits (a grammar). Rows that emit
        `stop_token` are finished and padded with it; decoding ends when all rows are."""
        caches = [dict() for _ in self.blocks]
        logits, _ = self(ids, 0, caches)
        out = ids
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        for _ in range(max_new_tokens):
            step = logits[:, -1]
            if logits_filter is not None:
                step = logits_filter(out, step)
            if temperature > 0:
                nxt = torch.multinomial(torch.softmax(step / temperature, -1), 1, generator=generator)
            else:
                nxt = step.argmax(-1, keepdim=True)
            if stop_token is not None:
                nxt = torch.where(done[:, None], torch.full_like(nxt, stop_token), nxt)
                done |= nxt[:, 0] == stop_token
            out = torch.cat([out, nxt], dim=1)
            if done.all() or out.shape[1] >= self.cfg.max_seq_len:
                break
            logits, _ = self(nxt, out.shape[1] - 1, caches)
        return out

    @torch.no_grad()
    def beam_search(self, ids: Tensor, max_new_tokens: int, beams: int, stop_token: int, logits_filter=None) -> Tensor:
        """The most likely continuation of one prompt ids [1, T] that ends in `stop_token`, found
        by keeping the `beams` best unfinished hypotheses at each step (summed log-probabilities,
        no length penalty: a program missing a line is not better for being shorter). Returns
        [1, T + n]; without `stop_token` at its end when the token cap or max_seq_len came first.
        The search ends as soon as a finished hypothesis beats every unfinished one (scores only
        fall). `logits_filter` masks logits as in `generate`; beams=1 is greedy decoding."""
        if ids.shape[0] != 1:
            raise ValueError(f"beam_search decodes one prompt at a time, got a batch of {ids.shape[0]}")
        caches = [dict() for _ in self.blocks]
        logits, _ = self(ids, 0, caches)
        out, scores = ids, torch.zeros(1, device=ids.device)  # alive hypotheses [B, T + n], their log-probs [B]
        best, best_score = None, float("-inf")
        for _ in range(max_new_tokens):
            step = logits[:, -1]
            if logits_filter is not None:
                step = logits_filter(out, step)
            total = (scores[:, None] + torch.log_softmax(step.float(), -1)).flatten()
            top = total.topk(min(2 * beams, total.numel()))
            keep, vocab = [], step.shape[-1]
            for score, flat in zip(top.values.tolist(), top.indices.tolist()):
                if score == float("-inf") or len(keep) == beams:
                    break
                row, token = divmod(flat, vocab)
                if token == stop_token:
                    if score > best_score:
                        best, best_score = torch.cat([out[row], out.new_tensor([stop_token])]), score
                else:
                    keep.append((row, token, score))
            if not keep or best_score >= keep[0][2] or out.shape[1] + 1 >= self.cfg.max_seq_len:
                break
            rows = torch.tensor([r for r, _, _ in keep], device=ids.device)
            nxt = torch.tensor([[t] for _, t, _ in keep], device=ids.device)
            out, scores = torch.cat([out[rows], nxt], dim=1), torch.tensor([s for _, _, s in keep], device=ids.device)
            for cache in caches:  # each hypothesis continues the cache of the one it extends
                for key, value in cache.items():
                    cache[key] = value[rows]
            logits, _ = self(nxt, out.shape[1] - 1, caches)
        return out[:1] if best is None else best[None]
