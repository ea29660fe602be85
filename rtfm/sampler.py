"""Sampling a frame from the frame model with diffusers' FlowMatchEulerDiscreteScheduler.

Kept apart from the architecture (as gpt-fast keeps generate.py): the scheduler walks explicit
sigmas (4 steps by default), the context stream's keys and values are computed once per frame
and reused at every step, and classifier-free guidance mixes the conditional and unconditional
predictions, both run as one batch. On CUDA the network runs under bf16 autocast
(`autocast_dtype`); the scheduler's arithmetic stays in fp32.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from torch import Tensor

from renderer.errors import ArgumentError
from renderer.layout import LABEL_IDS

from .frame_model import FrameModel
from .inputs import FrameInputs, depth_from_net

DEFAULT_STEPS = 4
DEPTH_SAMPLES = 5  # samples whose median is a photo's depth (`sample_ensemble`)
SKY = LABEL_IDS["sky"]
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class FrameSample:
    """rgb [B, H, W, 3] in [0, 1], depth [B, H, W] metric z (0 = sky / no depth), label [B, H, W],
    label_probs [B, L, H, W]."""

    rgb: Tensor
    depth: Tensor
    label: Tensor
    label_probs: Tensor


def inference_sigmas(steps: int) -> list[float]:
    """Evenly spaced noise levels from 1 (pure noise) down, `steps` of them; the last step lands on 0."""
    if steps < 1:
        raise ArgumentError(f"steps must be >= 1, got {steps}")
    return [1.0 - i / steps for i in range(steps)]


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The dtype the network's matrix products run in while sampling, None for fp32. "auto" is bf16
    on CUDA (the gpu preset is made for it) and fp32 on a CPU: on this project's AVX512-BF16 CPU the
    tiny preset gave the same held-out figures in bf16 (`worldgen eval rtfm --precision`) but was no
    faster (bench/rtfm.py: fp32 1.05x faster at 64x64, 1.01x at 128x128, stored record), and
    fp32 makes the same world on every CPU. "bf16" asks for it on any device."""
    if precision not in PRECISIONS:
        raise ArgumentError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    return torch.bfloat16


def precision_name(device: torch.device, precision: str = "auto") -> str:
    """What `precision` resolves to on `device`: "bf16" or "fp32" (for reports)."""
    return "fp32" if autocast_dtype(device, precision) is None else "bf16"


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def make_scheduler() -> FlowMatchEulerDiscreteScheduler:
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)


@torch.no_grad()
def sample_frames(model: FrameModel, inputs: FrameInputs, steps: int = DEFAULT_STEPS, guidance: float = 1.0,
                  generator: torch.Generator | None = None, reuse_cache: bool = True,
                  snap: float | None = None, precision: str = "auto") -> FrameSample:
    """Sample B frames. `guidance` > 1 applies classifier-free guidance on the condition tokens
    (skipped when the batch has none). `reuse_cache=False` recomputes the context every step
    (the reference for the speed benchmark; same result). `snap`: see `snap_to_memory`.
    `precision`: the network's arithmetic (`autocast_dtype`)."""
    b = inputs.batch_size
    device, dtype = inputs.rays.device, inputs.rays.dtype
    h, w = inputs.rays.shape[-2:]
    guided = guidance != 1.0 and inputs.has_condition
    batch = FrameInputs.collate([inputs, inputs.without_condition()]) if guided else inputs
    scheduler = make_scheduler()
    scheduler.set_timesteps(sigmas=inference_sigmas(steps), device=device)
    x = torch.randn(b, 4, h, w, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
    # one autocast block for the whole frame: its cache keeps the bf16 copies of the weights for
    # every step (leaving the block drops them). The scheduler's element-wise steps are not cast.
    with _autocast(device, autocast_dtype(device, precision)):
        cache = model.encode_context(batch) if reuse_cache else None
        logits = None
        for i, t in enumerate(scheduler.timesteps):
            sigma = scheduler.sigmas[i].to(device)
            xin = torch.cat([x, x]) if guided else x
            s = sigma.expand(xin.shape[0]).to(dtype)
            x0, logits = model.denoise(xin, s, batch, cache) if reuse_cache else model(xin, s, batch)
            x0 = x0.to(dtype)
            if guided:
                x0 = x0[b:] + guidance * (x0[:b] - x0[b:])
                logits = logits[:b]
            v = model.velocity(x, x0, sigma.expand(b))
            x = scheduler.step(v, t, x, return_dict=False)[0]
    probs = torch.softmax(logits.float(), 1)
    label = probs.argmax(1)
    depth = depth_from_net(x[:, 3].float())
    depth = torch.where(label == SKY, torch.zeros_like(depth), depth)
    rgb = ((x[:, :3].float() + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1)
    out = FrameSample(rgb, depth, label, probs)
    return snap_to_memory(out, inputs, snap) if snap is not None else out


@torch.no_grad()
def sample_ensemble(model: FrameModel, inputs: FrameInputs, samples: int = DEPTH_SAMPLES, steps: int = DEFAULT_STEPS,
                    generator: torch.Generator | None = None, precision: str = "auto") -> FrameSample:
    """Test-time ensembling (as Marigold does for depth): `samples` frames per input from different
    noise, sampled as one batch, reduced per pixel to their median colour and depth and the label of
    their mean probabilities. A single sample commits to one guess where the model is unsure (a wall
    1 m or 2.5 m away); the median of several is the estimate with the least absolute error
    (held-out single-RGB depth AbsRel 0.151 -> 0.139 with 5 samples, twelfth-stage weights, `worldgen
    eval rtfm`). Use an odd count: the median of an even count is the lower middle value. Depth is 0
    where the label is sky."""
    if samples < 1:
        raise ArgumentError(f"samples must be >= 1, got {samples}")
    b = inputs.batch_size
    out = sample_frames(model, FrameInputs.collate([inputs] * samples), steps=steps, generator=generator,
                        precision=precision)
    probs = out.label_probs.reshape(samples, b, *out.label_probs.shape[1:]).mean(0)
    label = probs.argmax(1)
    depth = out.depth.reshape(samples, b, *out.depth.shape[1:])
    # sky samples carry depth 0: the median is over the samples that saw a surface
    depth = torch.nanmedian(torch.where(depth > 0, depth, torch.nan), 0).values.nan_to_num(0.0)
    depth = torch.where(label == SKY, torch.zeros_like(depth), depth)
    rgb = out.rgb.reshape(samples, b, *out.rgb.shape[1:]).median(0).values
    return FrameSample(rgb, depth, label, probs)


def snap_to_memory(sample: FrameSample, inputs: FrameInputs, tolerance: float) -> FrameSample:
    """Keep what memory already shows where the model agrees with it.

    A few sampling steps reproduce a warped memory pixel only approximately, and a walk that
    passes the same place many times would blur it a little more each time. Where a warped pixel
    landed and the sampled colour is within `tolerance` of it (max over channels, colour in
    [0, 1]), the memory's colour, label and (within the same relative tolerance) depth are kept
    exactly; where the model disagrees (a disocclusion, a surface leaking through a crack) its own
    prediction stands. A known photo colour (no depth) is kept the same way.
    """
    warp_rgb = ((inputs.warp[:, :3].float() + 1) / 2).permute(0, 2, 3, 1)
    landed = inputs.warp[:, 4] > 0.5
    agree = landed & ((sample.rgb - warp_rgb).abs().amax(-1) <= tolerance)
    rgb = torch.where(agree[..., None], warp_rgb, sample.rgb)
    has_depth = inputs.warp[:, 5] > 0.5
    warp_depth = depth_from_net(inputs.warp[:, 3].float())
    close = agree & has_depth & ((sample.depth - warp_depth).abs() <= tolerance * warp_depth)
    depth = torch.where(close, warp_depth, sample.depth)
    warp_label = inputs.warp_label.to(sample.label.device)
    label = torch.where(agree & has_depth & (warp_label >= 0), warp_label, sample.label)
    return FrameSample(rgb, depth, label, sample.label_probs)
