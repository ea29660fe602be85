"""Training the frame model on posed walks: predict a target view from K retrieved memory frames.

Each step draws a batch of (walk, target) pairs from a replay buffer of recent walks (new walks
stream in from the caller's iterator). For each pair: K in 0..max_memory memory frames of the same
walk, retrieved by overlap with the target and its neighbours excluded (`Walk.memory_for`); some
memory frames lose their depth; warped inputs get noise; conditions (guide, text, layout, image,
video) are dropped at random so every subset works; some pairs are "photo" pairs (the target's
RGB given, no depth: the model learns depth from one image). After `forcing_start` of training,
some pairs replace one memory frame by the model's own prediction of it (Memory Forcing), so
rollouts learn not to drift. Losses: MSE on RGB and L1 on log depth (or the relative error of
depth, `depth_loss`) of the predicted clean frame, cross-entropy on labels. AdamW, warm-up +
cosine, EMA weights (diffusers' EMAModel), bf16 autocast on CUDA, DDP under torchrun; resumable
from `OUT/train_state`.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from renderer.errors import ArgumentError

from .frame_model import FrameModel, FrameModelConfig
from .inputs import DEPTH_LOG_SCALE, FAR_NET, Condition, FrameInputs, MemoryFrame, build_inputs
from .sampler import inference_sigmas, sample_frames
from .schedule import warmup_cosine
from .walks import Walk

INFERENCE_STEPS = 4
DEPTH_LOSSES = ("log_l1", "relative")


@dataclass
class FrameTrainConfig:
    steps: int = 20000
    batch_size: int = 8
    lr: float = 5e-4
    min_lr_fraction: float = 0.05
    warmup: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    buffer: int = 160  # walks kept for sampling
    min_buffer: int = 24  # walks gathered before the first step
    new_per_step: float = 0.5  # walks drawn from the stream per step
    max_memory: int = 4
    exclude: int = 2  # neighbours on each side of the target never used as its memory
    p_no_depth: float = 0.15
    p_photo: float = 0.1
    p_guide: float = 0.8
    p_text: float = 0.5
    p_layout: float = 0.5
    p_image: float = 0.15
    p_video: float = 0.1
    warp_noise: float = 0.06
    forcing_prob: float = 0.25
    forcing_start: float = 0.3  # fraction of `steps` before Memory Forcing starts
    depth_weight: float = 0.5
    depth_loss: str = "log_l1"  # one of DEPTH_LOSSES (`depth_loss`)
    label_weight: float = 0.1
    time_budget_s: float | None = None
    seed: int = 0
    log_every: int = 25
    checkpoint_every: int = 250

    def __post_init__(self):
        _check_depth_loss(self.depth_loss)


@dataclass
class Pair:
    """One training pair drawn from a walk (indices into it) and which inputs it gets."""

    walk: Walk
    target: int
    memory: list[int]
    no_depth: set[int] = field(default_factory=set)
    photo: bool = False
    guide: bool = True
    text: bool = False
    layout: bool = False
    image: int | None = None
    video: list[int] = field(default_factory=list)
    forced: int | None = None  # memory index replaced by the model's own prediction


def draw_pair(walk: Walk, rng: random.Random, cfg: FrameTrainConfig, forcing: bool) -> Pair:
    t = rng.randrange(len(walk))
    if rng.random() < cfg.p_photo:
        return Pair(walk, t, [], photo=True, guide=False, text=rng.random() < cfg.p_text)
    memory = walk.memory_for(t, rng.randint(0, cfg.max_memory), cfg.exclude)
    pair = Pair(walk, t, memory, no_depth={i for i in memory if rng.random() < cfg.p_no_depth},
                guide=rng.random() < cfg.p_guide, text=rng.random() < cfg.p_text, layout=rng.random() < cfg.p_layout)
    if rng.random() < cfg.p_image:
        pair.image = rng.randrange(len(walk))
    if rng.random() < cfg.p_video:
        pair.video = sorted(rng.sample(range(len(walk)), min(4, len(walk))))
    if forcing and memory and rng.random() < cfg.forcing_prob:
        pair.forced = rng.choice(memory)
    return pair


def pair_condition(pair: Pair) -> Condition | None:
    w = pair.walk
    c = Condition(text=w.text if pair.text else None, layout=w.grid if pair.layout else None)
    if pair.image is not None:
        c.images = w.frames[pair.image].rgb[None]
    if pair.video:
        c.video = torch.stack([w.frames[i].rgb for i in pair.video])
        c.video_time = torch.tensor(pair.video, dtype=torch.float32) / 8.0
    return c


def pair_inputs(pair: Pair, frames: dict[int, MemoryFrame], model_cfg: FrameModelConfig, warp_noise: float,
                generator: torch.Generator) -> FrameInputs:
    w = pair.walk
    target = w.frames[pair.target]
    memory = []
    for i in pair.memory:
        f = frames.get(i, w.frames[i])
        memory.append(MemoryFrame(f.camera, f.rgb, None, None) if i in pair.no_depth else f)
    return build_inputs(target.camera, memory, w.guides[pair.target] if pair.guide else None, pair_condition(pair),
                        target.rgb if pair.photo else None, image_size=model_cfg.image_size, warp_noise=warp_noise,
                        generator=generator, warp_supersample=model_cfg.warp_supersample)


@torch.no_grad()
def forced_frames(model: FrameModel, pairs: list[Pair], device) -> list[dict[int, MemoryFrame]]:
    """For each pair with `forced` set, that memory frame as the model predicts it (one step, from the
    pair's other memory frames and the same conditions): Memory Forcing's own-output memory."""
    out: list[dict[int, MemoryFrame]] = [{} for _ in pairs]
    jobs = [(n, p) for n, p in enumerate(pairs) if p.forced is not None]
    if not jobs:
        return out
    subs = [Pair(p.walk, p.forced, [i for i in p.memory if i != p.forced], guide=p.guide, text=p.text, layout=p.layout)
            for _, p in jobs]
    inputs = FrameInputs.collate([pair_inputs(s, {}, model.cfg, 0.0, torch.Generator()) for s in subs]).to(device)
    was_training = model.training
    model.eval()
    pred = sample_frames(model, inputs, steps=1)
    model.train(was_training)
    for k, (n, p) in enumerate(jobs):
        cam = p.walk.frames[p.forced].camera
        out[n][p.forced] = MemoryFrame(cam, pred.rgb[k].cpu(), pred.depth[k].cpu(), pred.label[k].cpu())
    return out


def make_batch(model: FrameModel, pairs: list[Pair], cfg: FrameTrainConfig, generator: torch.Generator, device):
    """-> (inputs, x0 [B, 4, H, W], labels [B, H, W])."""
    forced = forced_frames(model, pairs, device)
    inputs = FrameInputs.collate([pair_inputs(p, f, model.cfg, cfg.warp_noise, generator)
                                  for p, f in zip(pairs, forced)])
    targets = [p.walk.target(p.target) for p in pairs]
    x0 = torch.stack([t[0] for t in targets])
    labels = torch.stack([t[1] for t in targets])
    return inputs.to(device), x0.to(device), labels.to(device)


def draw_sigmas(n: int, generator: torch.Generator) -> torch.Tensor:
    """Half at the sampler's own noise levels (few-step sampling visits only those), half uniform."""
    levels = torch.tensor(inference_sigmas(INFERENCE_STEPS))
    at_levels = levels[torch.randint(len(levels), (n,), generator=generator)]
    uniform = torch.rand(n, generator=generator).clamp(1e-3, 1.0)
    return torch.where(torch.rand(n, generator=generator) < 0.5, at_levels, uniform)


def _check_depth_loss(kind: str) -> None:
    if kind not in DEPTH_LOSSES:
        raise ArgumentError(f"unknown depth loss {kind!r}; choose from {', '.join(DEPTH_LOSSES)}")


def depth_loss(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """pred, target [B, H, W] in the network's depth units (`depth_to_net`).

    "log_l1": L1 on log depth; where one image leaves the depth uncertain its minimiser is the
    median depth. "relative": |pred / target - 1|, the per-pixel AbsRel, whose minimiser is the
    median weighted by 1 / depth, nearer than the median by about the log depth's variance (the
    median estimate measured 6% too far on held-out photos, most at close range). Pixels with no
    depth (sky, at the far end) keep L1 on log depth: a relative error to infinity means nothing.
    """
    _check_depth_loss(kind)
    diff = pred - target
    if kind == "log_l1":
        return diff.abs().mean()
    far = target >= FAR_NET - 1e-4
    # clamped above at 20x too far: the loss grows exponentially with an overestimate
    relative = torch.expm1(DEPTH_LOG_SCALE * diff.clamp(max=2.0)).abs()
    return torch.where(far, diff.abs(), relative).mean()


def frame_losses(pred_x0, logits, x0, labels, cfg: FrameTrainConfig) -> dict[str, torch.Tensor]:
    rgb = F.mse_loss(pred_x0[:, :3].float(), x0[:, :3])
    depth = depth_loss(pred_x0[:, 3].float(), x0[:, 3], cfg.depth_loss)
    # a kind the model has no logit for (added to the vocabulary after its checkpoint) is not scored
    labels = torch.where(labels >= logits.shape[1], torch.full_like(labels, -1), labels)
    label = F.cross_entropy(logits.float(), labels, ignore_index=-1)
    total = rgb + cfg.depth_weight * depth + cfg.label_weight * label
    return {"loss": total, "rgb": rgb, "depth": depth, "label": label}


class WalkBuffer:
    """A FIFO of recent walks that batches are drawn from; `feed` pulls new ones from the stream."""

    def __init__(self, walks: Iterator[Walk], capacity: int):
        self.walks, self.capacity, self.items, self._credit = walks, capacity, [], 0.0

    def fill(self, n: int) -> None:
        while len(self.items) < n:
            self._add()

    def feed(self, rate: float) -> None:
        self._credit += rate
        while self._credit >= 1.0:
            self._add()
            self._credit -= 1.0

    def _add(self) -> None:
        self.items.append(next(self.walks))
        if len(self.items) > self.capacity:
            self.items.pop(0)


def stream_seed(seed: int, rank: int, start: int) -> int:
    """The seed of the world stream one process trains on: `seed` itself for rank 0 from step 0 (so
    a run's first worlds depend on --seed alone), else one hashed from all three. Worlds seen again
    are memorised: a stage continued on the same stream scored worse on unseen worlds than one on
    a new stream (single-RGB depth AbsRel 0.182 against 0.173)."""
    if rank == 0 and start == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank, start]).generate_state(1)[0])


def lr_at(step: int, cfg: FrameTrainConfig) -> float:
    return warmup_cosine(step, cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr_fraction)


def train_frames(model: FrameModel, walks: Callable[[int, int], Iterator[Walk]], cfg: FrameTrainConfig,
                 out: str | os.PathLike, resume: bool = True, log: Callable[[str], None] = print,
                 record: dict | None = None) -> list[dict]:
    """Train in place and write OUT (EMA weights, training.json, loss.png, train_state/); returns the history.
    `walks(rank, start_step)` opens the stream this process trains on: a torchrun rank, or a run resumed
    at a later step, asks for its own, so no two draw the same worlds (`stream_seed`)."""
    from diffusers.training_utils import EMAModel

    from .checkpoint import load_train_state, save_frame_model, save_train_state, write_training_log

    out = Path(out)
    device = next(model.parameters()).device
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    net = model
    if distributed:  # torchrun: one process per device, each with its own data seed
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        # modality dropout leaves a different set of parameters unused on each rank at each step
        net = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.99))
    ema = EMAModel(model.parameters(), decay=cfg.ema_decay, use_ema_warmup=True, power=0.75)
    start, history = 0, []
    if resume and (out / "train_state").exists():
        start, history = load_train_state(out / "train_state", model, opt, ema)
        log(f"resumed from {out / 'train_state'} at step {start}")
    rng = random.Random(cfg.seed * 1000 + rank * 7919 + start)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank * 7919 + start)
    buffer = WalkBuffer(walks(rank, start), cfg.buffer)
    t0 = time.perf_counter()
    buffer.fill(cfg.min_buffer)
    log(f"buffer of {len(buffer.items)} walks in {time.perf_counter() - t0:.0f}s")
    elapsed0 = history[-1]["seconds"] if history else 0.0
    t0, running, done = time.perf_counter(), {}, start

    def checkpoint(step_done: int) -> None:
        if rank != 0:
            return
        save_train_state(out / "train_state", model, opt, ema, step_done, history)
        ema.store(model.parameters())
        ema.copy_to(model.parameters())
        save_frame_model(model, out)
        ema.restore(model.parameters())
        write_training_log(out, history, {"train_config": asdict(cfg), **(record or {})})

    model.train()
    for step in range(start, cfg.steps):
        buffer.feed(cfg.new_per_step)
        forcing = step >= cfg.forcing_start * cfg.steps
        pairs = [draw_pair(rng.choice(buffer.items), rng, cfg, forcing) for _ in range(cfg.batch_size)]
        inputs, x0, labels = make_batch(model, pairs, cfg, gen, device)
        sigma = draw_sigmas(len(pairs), gen).to(device)
        noise = torch.randn(x0.shape, generator=gen).to(device)
        x_t = sigma.view(-1, 1, 1, 1) * noise + (1 - sigma.view(-1, 1, 1, 1)) * x0
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            pred, logits = net(x_t, sigma, inputs)
        losses = frame_losses(pred, logits, x0, labels, cfg)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.step(model.parameters())
        for k, v in losses.items():
            value = float(v.detach())
            running[k] = value if k not in running else 0.97 * running[k] + 0.03 * value
        elapsed = elapsed0 + time.perf_counter() - t0
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            history.append({"step": step, **{k: round(v, 5) for k, v in running.items()}, "lr": lr_at(step, cfg),
                            "seconds": round(elapsed, 1)})
            log(f"step {step:6d}  loss {running['loss']:.4f}  rgb {running['rgb']:.4f}  depth {running['depth']:.4f}  "
                f"label {running['label']:.3f}  lr {lr_at(step, cfg):.2e}  {elapsed:.0f}s")
        done = step + 1
        if done % cfg.checkpoint_every == 0:
            checkpoint(done)
        if cfg.time_budget_s is not None and time.perf_counter() - t0 > cfg.time_budget_s:
            log(f"time budget reached after step {done}")
            break
    checkpoint(done)
    model.eval()
    ema.copy_to(model.parameters())
    return history
