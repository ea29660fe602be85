"""A known frame without depth (a user's photo) put into memory: the frame model predicts its depth.

The photo fills the warp channels as known colour with no depth (`build_inputs(known_rgb=...)`),
with no memory, guide or condition; the median of a few sampled depth channels is its metric
depth. The model runs at a working size whose short side is its training resolution (both sides
multiples of its memory patch); the depth is resized back to the photo's size.
"""

from __future__ import annotations

import torch
from torch import Tensor

from renderer.camera import Camera
from renderer.errors import ArgumentError

from .frame_model import FrameModel
from .inputs import MemoryFrame, build_inputs
from .layers import resize_map
from .sampler import DEFAULT_STEPS, DEPTH_SAMPLES, sample_ensemble


def working_size(width: int, height: int, short_side: int, multiple: int) -> tuple[int, int]:
    k = short_side / min(width, height)
    snap = lambda v: max(multiple, round(v * k / multiple) * multiple)  # noqa: E731
    return snap(width), snap(height)


@torch.no_grad()
def photo_memory(model: FrameModel, rgb: Tensor, camera: Camera, steps: int = DEFAULT_STEPS,
                 seed: int = 0, samples: int = DEPTH_SAMPLES) -> tuple[MemoryFrame, Tensor]:
    """rgb [H, W, 3] in [0, 1] seen by `camera` (H x W) -> (the photo as a memory frame at the working
    size, with predicted depth and labels; depth [H, W] metric z at the photo's size, 0 = sky).
    The depth is the median of `samples` sampled depths (`rtfm.sampler.sample_ensemble`)."""
    h, w = rgb.shape[:2]
    if (camera.width, camera.height) != (w, h):
        raise ArgumentError(f"camera is {camera.width}x{camera.height} but the image is {w}x{h}")
    ww, wh = working_size(w, h, model.cfg.resolution, model.cfg.memory_patch)
    small = resize_map(rgb, ww, wh, "area")
    cam = camera.scaled(ww, wh)
    device = next(model.parameters()).device
    inputs = build_inputs(cam, known_rgb=small.clamp(0, 1), image_size=model.cfg.image_size).to(device)
    out = sample_ensemble(model, inputs, samples, steps, generator=torch.Generator().manual_seed(seed))
    depth_small, label = out.depth[0].cpu(), out.label[0].cpu()
    frame = MemoryFrame(cam, small.clamp(0, 1), depth_small, label)
    sky = resize_map((depth_small == 0).float(), w, h, "nearest") > 0.5
    depth = resize_map(depth_small, w, h, "bilinear")
    return frame, torch.where(sky, torch.zeros_like(depth), depth)
