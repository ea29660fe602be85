"""Manifold-constrained hyper-connections (mHC, arXiv 2512.24880; shared/research/backbone.md).

The residual stream is widened to n parallel streams X [B, T, n, d]. Around a sub-layer F:
    X <- H_res X + H_post^T F(H_pre X)
with H_pre [n] = sigmoid(.), H_post [n] = 2 sigmoid(.), and H_res [n, n] projected onto the
doubly stochastic matrices by Sinkhorn-Knopp, so mixing streams neither amplifies nor loses
signal. The maps are dynamic: a small-scaled linear map of RMSNorm(flatten(X)) plus a static
bias, initialised so that H_res is the identity and H_pre reads the first stream.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor


def sinkhorn(logits: Tensor, iters: int = 20) -> Tensor:
    """Doubly stochastic matrices [..., n, n] from logits by alternating row/column normalisation
    (in log space, float32)."""
    log = logits.float()
    for _ in range(iters):
        log = log - torch.logsumexp(log, dim=-1, keepdim=True)
        log = log - torch.logsumexp(log, dim=-2, keepdim=True)
    return log.exp()


class HyperConnection(nn.Module):
    def __init__(self, d_model: int, streams: int, eps: float = 1e-5, dynamic_scale: float = 1e-2, iters: int = 20):
        super().__init__()
        n = streams
        self.n, self.iters, self.scale = n, iters, dynamic_scale
        self.norm = nn.RMSNorm(n * d_model, eps=eps)
        self.dynamic = nn.Linear(n * d_model, n + n + n * n, bias=False)
        nn.init.normal_(self.dynamic.weight, std=(n * d_model) ** -0.5)
        bias_pre = torch.full((n,), -4.0)
        bias_pre[0] = 4.0  # read (almost only) the first stream at start
        self.bias_pre = nn.Parameter(bias_pre)
        self.bias_post = nn.Parameter(torch.zeros(n))  # 2 sigmoid(0) = 1: write to every stream
        self.bias_res = nn.Parameter(torch.eye(n) * 8.0)  # Sinkhorn of this is ~ the identity

    def maps(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x [B, T, n, d] -> H_pre [B, T, n], H_post [B, T, n], H_res [B, T, n, n]."""
        n = self.n
        dyn = self.scale * self.dynamic(self.norm(x.flatten(-2)))
        pre = torch.sigmoid(dyn[..., :n] + self.bias_pre)
        post = 2 * torch.sigmoid(dyn[..., n : 2 * n] + self.bias_post)
        res = sinkhorn(dyn[..., 2 * n :].unflatten(-1, (n, n)) + self.bias_res, self.iters)
        return pre, post, res

    def forward(self, x: Tensor, sublayer) -> Tensor:
        """x [B, T, n, d]; sublayer maps [B, T, d] -> [B, T, d]."""
        pre, post, res = self.maps(x)
        y = sublayer((pre[..., None] * x).sum(-2).to(x.dtype))
        return (res.to(x.dtype) @ x) + post[..., None].to(x.dtype) * y[..., None, :]
