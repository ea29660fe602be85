"""Training the language backbone on (prompt, target) text pairs: `<bos> prompt <sep> target <eos>`,
loss on the target tokens only, plus the MoE balance loss. AdamW with warm-up and a cosine
schedule, gradient clipping, bf16 autocast on CUDA; under `torchrun` each rank trains on its
own shard of the pairs and gradients are averaged by DDP."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .model import Grok, GrokConfig
from .tokenizer import SPECIALS

PAD, BOS, EOS, SEP = (SPECIALS.index(s) for s in ("<pad>", "<bos>", "<eos>", "<sep>"))


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 32
    lr: float = 3e-3
    min_lr_fraction: float = 0.1
    warmup: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    balance_weight: float = 0.01
    time_budget_s: float | None = None
    seed: int = 0
    log_every: int = 50


def encode_pair(tokenizer, prompt: str, target: str | None, max_len: int) -> tuple[list[int], int]:
    """Token ids of `<bos> prompt <sep> [target <eos>]` (the prompt cut to fit) and the index of
    the first target token."""
    p = tokenizer.encode(prompt).ids
    t = [] if target is None else tokenizer.encode(target).ids + [EOS]
    room = max_len - len(t) - 2
    p = p[: max(room, 0)]
    return [BOS] + p + [SEP] + t, len(p) + 2


def batches(pairs: list[tuple[str, str]], tokenizer, batch_size: int, max_len: int, generator: torch.Generator):
    encoded = [encode_pair(tokenizer, a, b, max_len) for a, b in pairs]
    while True:
        for idx in torch.randperm(len(encoded), generator=generator).split(batch_size):
            rows = [encoded[i] for i in idx.tolist()]
            width = max(len(ids) for ids, _ in rows)
            ids = torch.full((len(rows), width), PAD, dtype=torch.long)
            target = torch.full((len(rows), width), -100, dtype=torch.long)
            for r, (seq, start) in enumerate(rows):
                ids[r, : len(seq)] = torch.tensor(seq)
                target[r, start - 1 : len(seq) - 1] = torch.tensor(seq[start:])  # predict each target token
            yield ids, target


def train(model: Grok, tokenizer, pairs: list[tuple[str, str]], cfg: TrainConfig,
          log: Callable[[str], None] = print) -> list[dict]:
    """Train in place; returns the logged history."""
    torch.manual_seed(cfg.seed)
    device = next(model.parameters()).device
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    net = model
    if distributed:  # torchrun: one process per device, each on its own shard of the pairs
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        pairs = pairs[rank::world]
        net = torch.nn.parallel.DistributedDataParallel(model)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.95))

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * (cfg.min_lr_fraction + (1 - cfg.min_lr_fraction) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    data = batches(pairs, tokenizer, cfg.batch_size, model.cfg.max_seq_len, torch.Generator().manual_seed(cfg.seed))
    history, t0, running = [], time.perf_counter(), None
    model.train()
    for step in range(cfg.steps):
        ids, target = (t.to(device) for t in next(data))
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits, balance = net(ids)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)
        (loss + cfg.balance_weight * balance).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        value = float(loss.detach())
        running = value if running is None else 0.95 * running + 0.05 * value
        elapsed = time.perf_counter() - t0
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            history.append({"step": step, "loss": round(running, 4), "lr": lr_at(step), "seconds": round(elapsed, 1)})
            log(f"step {step:5d}  loss {running:.4f}  lr {lr_at(step):.2e}  {elapsed:.0f}s")
        if cfg.time_budget_s is not None and elapsed > cfg.time_budget_s:
            log(f"time budget reached after {step + 1} steps")
            break
    model.eval()
    return history


def new_model(preset: str, vocab_size: int, **overrides) -> Grok:
    return Grok(GrokConfig.preset(preset, vocab_size=vocab_size, **overrides))
