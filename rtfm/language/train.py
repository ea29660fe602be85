"""Training the language backbone on (prompt, target) text pairs: `<bos> prompt <sep> target <eos>`,
loss on the target tokens only, plus the MoE balance loss. AdamW with warm-up and a cosine
schedule, gradient clipping, bf16 autocast on CUDA; under `torchrun` each rank trains on its
own shard of the pairs and gradients are averaged by DDP."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..schedule import warmup_cosine
from .model import Grok, GrokConfig
from .tokenizer import SPECIALS

PAD, BOS, EOS, SEP = (SPECIALS.index(s) for s in ("<pad>", "<bos>", "<eos>", "<sep>"))
MAX_PROMPT_CHARS = 2000  # longer prompts are cut before tokenizing, so a 1 MB prompt costs no more


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
    """Token ids of `<bos> prompt <sep> [target <eos>]` and the index of the first target token.
    The prompt is lower-cased and cut to MAX_PROMPT_CHARS characters, then to the tokens that fit."""
    p = tokenizer.encode(prompt[:MAX_PROMPT_CHARS].lower()).ids
    t = [] if target is None else tokenizer.encode(target).ids + [EOS]
    room = max_len - len(t) - 2
    p = p[: max(room, 0)]
    return [BOS] + p + [SEP] + t, len(p) + 2


def collate(rows: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoded pairs -> ids [B, T] (right-padded) and next-token targets [B, T] (-100 off the target)."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    target = torch.full((len(rows), width), -100, dtype=torch.long)
    for r, (seq, start) in enumerate(rows):
        ids[r, : len(seq)] = torch.tensor(seq)
        target[r, start - 1 : len(seq) - 1] = torch.tensor(seq[start:])  # predict each target token
    return ids, target


def batches(pairs: list[tuple[str, str]], tokenizer, batch_size: int, max_len: int, generator: torch.Generator,
            bucket: int = 64):
    """Endless shuffled batches. Pairs are sorted by length within windows of `bucket` batches, so a
    batch holds pairs of similar length and little compute goes to padding."""
    encoded = [encode_pair(tokenizer, a, b, max_len) for a, b in pairs]
    while True:
        order = torch.randperm(len(encoded), generator=generator).tolist()
        chunks = []
        for i in range(0, len(order), batch_size * bucket):
            window = sorted(order[i : i + batch_size * bucket], key=lambda j: len(encoded[j][0]))
            chunks += [window[k : k + batch_size] for k in range(0, len(window), batch_size)]
        for c in torch.randperm(len(chunks), generator=generator).tolist():
            yield collate([encoded[i] for i in chunks[c]])


@torch.no_grad()
def evaluate_loss(model: Grok, tokenizer, pairs: list[tuple[str, str]], batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per target token) of the model on held-out pairs."""
    was_training = model.training
    model.eval()
    encoded = [encode_pair(tokenizer, a, b, model.cfg.max_seq_len) for a, b in pairs]
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(encoded), batch_size):
        ids, target = (t.to(device) for t in collate(encoded[i : i + batch_size]))
        logits, _ = model(ids)
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100,
                                       reduction="sum"))
        count += int((target != -100).sum())
    model.train(was_training)
    return total / max(count, 1)


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
        return warmup_cosine(step, cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr_fraction)

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
