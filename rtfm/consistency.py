"""Consistency of rollouts with spatial memory: the measures of `worldgen eval consistency`.

Each measure takes the frame model, a camera path, the world's guide renderer and condition, and
the ground-truth frames where it compares against them; `memory=False` is the ablation in which
every frame is sampled from the guide and condition alone (k = 0, nothing retrieved).

- revisit: an A -> B -> A loop (frame M-1-i at frame i's pose); PSNR between the outgoing and the
  returning frame at each shared pose. The walk starts from the ground-truth frame at A. PSNR of
  identical frames counts as PSNR_CAP_DB.
- rollout: a walk started from one ground-truth frame; per-frame PSNR against ground truth (the
  same function gives the short rollout score and the long drift curve).
- reprojection: consecutive frames through their predicted depth. A pixel of frame a is lifted by
  a's depth, projected into b, lifted again by b's depth there, and projected back into a; the
  error is how far (pixels) it lands from where it started. Median per pair (occlusions make the
  tail meaningless), mean over pairs. The same on the ground-truth depth is the floor.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from renderer.camera import Camera
from renderer.errors import ArgumentError
from renderer.warp import unproject

from .evaluate import psnr
from .frame_model import FrameModel
from .inputs import Condition, MemoryFrame
from .memory import SpatialMemory
from .rollout import SNAP_TOLERANCE, GuideFn, rollout
from .voxel_memory import VoxelMemory

Truth = Callable[[Sequence[Camera]], list[MemoryFrame]]
# Identical frames would be infinite dB and swamp a mean; they count as this (an 8-bit image's
# quantisation noise alone is ~59 dB).
PSNR_CAP_DB = 50.0


def _psnr(a: Tensor, b: Tensor) -> float:
    return min(psnr(a, b), PSNR_CAP_DB)


def walk_frames(model: FrameModel, cameras: Sequence[Camera], start: MemoryFrame | None, condition: Condition | None,
                guide: GuideFn | None, memory: bool = True, seed: int = 0, capacity: int = 32,
                snap: float | None = SNAP_TOLERANCE, voxels: bool = False) -> list[MemoryFrame]:
    """One frame per camera: `start` (a given frame at cameras[0]) then generated frames, or every
    frame generated when `start` is None. `memory=False`: nothing is retrieved (k = 0); `voxels`:
    a hashed voxel memory joins the frame memory (`rtfm.voxel_memory`)."""
    store = SpatialMemory(capacity)
    fused = VoxelMemory() if voxels else None
    if start is not None:
        store.add(start)
        if fused is not None:
            fused.add(start)
    k = model.cfg.max_memory if memory else 0
    first = [] if start is None else [start]
    return first + list(rollout(model, cameras[len(first):], condition, store, guide, k=k, seed=seed, snap=snap,
                                voxels=fused))


def revisit_psnr(frames: Sequence[MemoryFrame]) -> float:
    """Mean PSNR between frame i and frame M-1-i of a loop's frames, for the poses visited twice."""
    m = len(frames)
    pairs = [(i, m - 1 - i) for i in range(m // 2) if m - 1 - i != i]
    if not pairs:
        raise ArgumentError(f"a loop of {m} frames revisits no pose")
    return sum(_psnr(frames[j].rgb, frames[i].rgb) for i, j in pairs) / len(pairs)


def psnr_by_frame(frames: Sequence[MemoryFrame], truth: Sequence[MemoryFrame]) -> list[float]:
    if len(frames) != len(truth):
        raise ArgumentError(f"{len(frames)} frames against {len(truth)} ground-truth frames")
    return [_psnr(f.rgb, t.rgb) for f, t in zip(frames, truth)]


def _pixel_of(points: Tensor, camera: Camera) -> tuple[Tensor, Tensor]:
    uv, z = camera.project(points)
    inside = (z > 1e-3) & (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
    return uv, inside & torch.isfinite(uv).all(-1)


def reprojection_error(a: MemoryFrame, b: MemoryFrame) -> float:
    """Median forward-backward reprojection error (pixels of a) through a's and b's depth; NaN when
    no pixel of a lands on a pixel of b that has depth."""
    pts_a, valid_a = unproject(a.depth[None].float(), [a.camera])
    pts_a = pts_a[0][valid_a[0]]  # [P, 3]
    start, _ = _pixel_of(pts_a, a.camera)
    uv_b, ok = _pixel_of(pts_a, b.camera)
    pts_b, valid_b = unproject(b.depth[None].float(), [b.camera])
    u, v = uv_b[:, 0].floor().long().clamp(0, b.camera.width - 1), uv_b[:, 1].floor().long().clamp(0, b.camera.height - 1)
    ok &= valid_b[0, v, u]
    if not ok.any():
        return float("nan")
    back, ok_back = _pixel_of(pts_b[0, v[ok], u[ok]], a.camera)
    err = (back - start[ok]).norm(dim=-1)
    err = torch.where(ok_back, err, torch.full_like(err, float(max(a.camera.width, a.camera.height))))
    return float(err.median())


def mean_reprojection_error(frames: Sequence[MemoryFrame]) -> float:
    errors = [e for e in (reprojection_error(a, b) for a, b in zip(frames, frames[1:])) if e == e]
    return sum(errors) / len(errors) if errors else float("nan")
