"""Spatial memory: a bounded store of posed RGB-D (+ label) frames, retrieved by view overlap.

Retrieval ranks the stored frames by the fraction of the target view each one covers once warped
into it (`renderer.warp.view_overlap`, on a stride-2 grid of points, each frame's points lifted to
the world once when it is stored), not by recency, so a place seen long ago comes back when the
camera returns to it. The store keeps `overlap[s, t]` for every
pair of stored frames, updated as frames come in; when it is full, the frame whose view the others
cover best (1 - prod(1 - overlap)) is dropped, so eviction keeps coverage. Work per added frame
grows with the capacity, never with the length of the walk.

Generated frames are keyframed: one is stored only when the stored frames cover less than
`keyframe_coverage` of its view (the same 1 - prod(1 - overlap) estimate). Storing every generated
frame closes a feedback loop on a long walk: each frame is sampled from the previous one and
replaces it, so content is resampled every frame and colour and blotches drift (measured in
README, Spatial memory). Given frames (photos, video, a layout's renders) are always stored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor

from renderer.camera import Camera
from renderer.errors import WorldgenError
from renderer.warp import by_view_proximity, cover_fraction, unproject

from .inputs import MemoryFrame

OVERLAP_STRIDE = 2
COVERAGE_TIE = 0.02
KEYFRAME_COVERAGE = 0.9


class SpatialMemoryError(WorldgenError):
    """A memory that cannot be used or read: frames without depth, a bad file."""


class SpatialMemory:
    def __init__(self, capacity: int = 32, keyframe_coverage: float | None = KEYFRAME_COVERAGE):
        """keyframe_coverage: a generated frame is stored only when memory covers less than this
        fraction of its view, in (0, 1]; None stores every frame."""
        if capacity < 1:
            raise SpatialMemoryError(f"memory capacity must be at least 1, got {capacity}")
        if keyframe_coverage is not None and not 0 < keyframe_coverage <= 1:
            raise SpatialMemoryError(f"keyframe coverage must be in (0, 1] or None, got {keyframe_coverage}")
        self.capacity = capacity
        self.keyframe_coverage = keyframe_coverage
        self._cover_cache: tuple[Camera, int, Tensor] | None = None
        self._points: dict[int, tuple[MemoryFrame, Tensor, Tensor]] = {}  # id(frame) -> its lifted points
        self._version = 0  # bumped on every change to `frames`, so cached coverage is never stale
        self.frames: list[MemoryFrame] = []
        self.overlap = torch.zeros(0, 0)  # [N, N]: overlap[s, t] = fraction of frame t covered by frame s
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.frames)

    def _lifted(self, frame: MemoryFrame) -> tuple[Tensor, Tensor]:
        """The frame's stride-grid points in the world, [P, 3], and their validity [P]: lifted
        once per frame and kept while it is stored, so retrieval only projects them."""
        hit = self._points.get(id(frame))
        if hit is None or hit[0] is not frame:  # a new frame, or one replaced in `frames`
            world, valid = unproject(frame.depth[None], [frame.camera], OVERLAP_STRIDE)
            hit = (frame, world.reshape(-1, 3), valid.reshape(-1))
            self._points[id(frame)] = hit
        return hit[1], hit[2]

    def _coverage_of(self, target: Camera) -> Tensor:
        """[N]: the fraction of `target`'s pixels each stored frame covers (cached for the last
        target: rollout retrieves for a camera and then adds the frame made there)."""
        if not self.frames:
            return torch.zeros(0)
        if self._cover_cache is not None and self._cover_cache[0] is target and self._cover_cache[1] == self._version:
            return self._cover_cache[2]
        self._points = {id(f): self._points[id(f)] for f in self.frames if id(f) in self._points}
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, f in enumerate(self.frames):
            by_size.setdefault((f.camera.width, f.camera.height), []).append(i)
        out = torch.zeros(len(self.frames))
        for idx in by_size.values():
            lifted = [self._lifted(self.frames[i]) for i in idx]
            points, valid = torch.stack([p for p, _ in lifted]), torch.stack([v for _, v in lifted])
            out[idx] = cover_fraction(points, valid, target, stride=OVERLAP_STRIDE)
        self._cover_cache = (target, self._version, out)
        return out

    def covered(self, target: Camera) -> float:
        """How much of `target`'s view the stored frames cover together: 1 - prod(1 - coverage)."""
        return float(1 - torch.prod(1 - self._coverage_of(target).clamp(0, 1)))

    def add(self, frame: MemoryFrame, generated: bool = False) -> bool:
        """Store a frame (it must have depth); evict the best-covered frame when over capacity.

        generated: the frame model made it; it is then stored only as a keyframe (see the module
        docstring). Returns whether the frame was stored."""
        if frame.depth is None:
            raise SpatialMemoryError("a memory frame needs depth to be placed (predict it first: rtfm.photo)")
        into_new = self._coverage_of(frame.camera)  # stored frames -> the new one
        if generated and self.keyframe_coverage is not None and self.covered(frame.camera) >= self.keyframe_coverage:
            return False
        points, valid = self._lifted(frame)
        from_new = cover_fraction(points[None], valid[None], [f.camera for f in self.frames],
                                  stride=OVERLAP_STRIDE)[0]  # the new frame -> every stored one
        n = len(self.frames)
        grown = torch.zeros(n + 1, n + 1)
        grown[:n, :n] = self.overlap
        grown[:n, n] = into_new
        grown[n, :n] = from_new
        self.frames.append(frame)
        self.overlap = grown
        self._version += 1
        if len(self.frames) > self.capacity:
            self._evict()
        return True

    def replace(self, index: int, frame: MemoryFrame) -> None:
        """Put `frame` (with depth) in place of stored frame `index`, for example the same view with a
        region cut out of its depth, and update its overlaps with the others."""
        if frame.depth is None:
            raise SpatialMemoryError("a memory frame needs depth to be placed (predict it first: rtfm.photo)")
        self.frames[index] = frame
        self._version += 1
        points, valid = self._lifted(frame)
        self.overlap[index] = cover_fraction(points[None], valid[None], [f.camera for f in self.frames],
                                             stride=OVERLAP_STRIDE)[0]
        self.overlap[:, index] = self._coverage_of(frame.camera)
        self.overlap[index, index] = 0.0

    def _evict(self) -> None:
        ov = self.overlap.clone()
        ov.fill_diagonal_(0.0)
        covered = 1 - torch.prod(1 - ov.clamp(0, 1), dim=0)  # how well the others cover each frame
        drop = int(torch.argmax(covered))
        keep = [i for i in range(len(self.frames)) if i != drop]
        self.frames = [self.frames[i] for i in keep]
        self.overlap = self.overlap[keep][:, keep]
        self.evicted += 1
        self._version += 1

    def retrieve(self, target: Camera, k: int) -> list[MemoryFrame]:
        """The up to k stored frames that overlap `target` most (fewer when fewer overlap at all)."""
        if k < 0:
            raise SpatialMemoryError(f"k must be >= 0, got {k}")
        if k == 0 or not self.frames:
            return []
        cover = self._coverage_of(target)
        # Coverage within COVERAGE_TIE of each other is a tie, broken by the nearer view: many frames
        # cover a target fully, and the one taken at (nearly) its pose warps into it best.
        near = {i: r for r, i in enumerate(by_view_proximity([f.camera for f in self.frames], target))}
        order = sorted(range(len(cover)), key=lambda i: (-round(float(cover[i]) / COVERAGE_TIE), near[i]))
        return [self.frames[i] for i in order[:k] if cover[i] > 0]

    # ---- persistence (safetensors + JSON, written atomically) -------------------------------
    def save(self, folder: str | os.PathLike) -> None:
        from safetensors.torch import save

        from renderer.formats.base import atomic_write

        folder = Path(folder)
        tensors = {}
        for i, f in enumerate(self.frames):
            tensors[f"{i}.rgb"] = f.rgb.float().contiguous()
            tensors[f"{i}.depth"] = f.depth.float().contiguous()
            if f.label is not None:
                tensors[f"{i}.label"] = f.label.to(torch.int32).contiguous()
        tensors["overlap"] = self.overlap.contiguous()
        atomic_write(folder / "memory.safetensors", [save(tensors)])
        meta = {"version": 1, "capacity": self.capacity, "keyframe_coverage": self.keyframe_coverage,
                "evicted": self.evicted,
                "cameras": [f.camera.to_dict() for f in self.frames]}
        atomic_write(folder / "memory.json", [json.dumps(meta).encode()])

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "SpatialMemory":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from renderer.formats.base import read_json

        folder = Path(folder)
        meta = read_json(folder / "memory.json", SpatialMemoryError)
        try:
            tensors = load_file(str(folder / "memory.safetensors"))
            mem = cls(int(meta["capacity"]), meta.get("keyframe_coverage", KEYFRAME_COVERAGE))
            cams = [Camera.from_dict(c) for c in meta["cameras"]]
            mem.frames = [MemoryFrame(c, tensors[f"{i}.rgb"], tensors[f"{i}.depth"],
                                      tensors[f"{i}.label"].long() if f"{i}.label" in tensors else None)
                          for i, c in enumerate(cams)]
            mem.overlap = tensors["overlap"]
            mem.evicted = int(meta.get("evicted", 0))
        except (OSError, SafetensorError) as e:
            raise SpatialMemoryError(f"{folder / 'memory.safetensors'}: cannot read: {e}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise SpatialMemoryError(f"{folder}: memory files do not match: {e}") from None
        if mem.overlap.shape != (len(mem.frames), len(mem.frames)):
            raise SpatialMemoryError(f"{folder}: overlap matrix does not match {len(mem.frames)} frames")
        return mem
