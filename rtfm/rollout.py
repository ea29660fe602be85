"""Rollout: frames along a camera path, one by one, each retrieved from and written back to memory.

`rollout` is a generator, so a caller (the editor, a live session) shows each frame as it comes.
For every camera it retrieves the K stored frames that overlap it most, samples the frame (the
context keys/values computed once and reused across the sampling steps), and adds the new frame
to the memory as a keyframe when memory does not already cover its view (`SpatialMemory.add`):
a revisited place is warped from what was already shown, and is not resampled frame after frame.
The memory is bounded, so the work per frame does not grow with the path. With a hashed voxel
memory (`rtfm.voxel_memory`), its render at the camera joins the retrieved frames as a token-only
memory frame, and every keyframe is fused into it (README, Spatial memory, has the ablation).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import torch

from renderer.camera import Camera
from renderer.errors import ArgumentError

from .frame_model import FrameModel
from .inputs import Condition, MemoryFrame, build_inputs
from .memory import SpatialMemory
from .voxel_memory import VoxelMemory
from .sampler import DEFAULT_STEPS, sample_frames

GuideFn = Callable[[Camera], dict]
SNAP_TOLERANCE = 0.1


def _voxel_view(voxels: VoxelMemory, cam: Camera) -> MemoryFrame | None:
    """The voxel memory's render at `cam` as a token-only memory frame (no depth, so it is not
    warped: the frame model attends to it as it does to a memory frame whose depth is unknown);
    None when no voxel is in view."""
    seen = voxels.render(cam)
    return None if seen is None else MemoryFrame(cam, seen.rgb)


@torch.no_grad()
def rollout(model: FrameModel, cameras: Iterable[Camera], condition: Condition | None = None,
            memory: SpatialMemory | None = None, guide: GuideFn | None = None, k: int = 4,
            steps: int = DEFAULT_STEPS, guidance: float = 1.0, seed: int = 0,
            snap: float | None = SNAP_TOLERANCE, voxels: VoxelMemory | None = None) -> Iterator[MemoryFrame]:
    """Yield one generated MemoryFrame (rgb, metric depth, labels) per camera, in order.

    guide: camera -> the layout's guide render there (`renderer.guide.GuideRenderer.render`), or None.
    memory: frames given or generated earlier (a new bounded one when None); it is updated in place.
    snap: keep memory's pixels where the sample agrees with them within this colour tolerance
      (`rtfm.sampler.snap_to_memory`), so a revisited place does not blur; None samples freely.
    voxels: a hashed voxel memory (updated in place): its render at each camera takes one of the
      k memory slots as a token-only frame; keyframes go into it too.
    """
    if not 0 <= k <= model.cfg.max_memory:
        raise ArgumentError(f"k must be in 0..{model.cfg.max_memory} for this model, got {k}")
    memory = memory if memory is not None else SpatialMemory()
    device = next(model.parameters()).device
    for i, cam in enumerate(cameras):
        fused = _voxel_view(voxels, cam) if voxels is not None and k > 0 else None
        retrieved = memory.retrieve(cam, k - (fused is not None)) + ([fused] if fused is not None else [])
        inputs = build_inputs(cam, retrieved, guide(cam) if guide is not None else None, condition,
                              image_size=model.cfg.image_size, warp_supersample=model.cfg.warp_supersample).to(device)
        out = sample_frames(model, inputs, steps=steps, guidance=guidance,
                            generator=torch.Generator().manual_seed(seed * 1_000_003 + i), snap=snap)
        frame = MemoryFrame(cam, out.rgb[0].cpu(), out.depth[0].cpu(), out.label[0].cpu())
        if memory.add(frame, generated=True) and voxels is not None:
            voxels.add(frame)
        yield frame
