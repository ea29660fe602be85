"""Hashed voxel memory: the surface points of every frame shown, fused by 3D position.

A fixed-size table in the manner of Instant-NGP's spatial hash (and Engram's hashed lookup): a
point's voxel (floor(x / voxel_size), integer coordinates) hashes to one slot, so inserting a frame
and looking a position up cost O(1) per point, and the memory never grows past `slots` entries,
however long the walk. A slot keeps its voxel's coordinates and running sums of position, colour
and count, plus the latest label. When another voxel hashes to an occupied slot, the newer one
takes it over (a direct-mapped cache): what was seen last is kept.

`render(camera)` draws the stored voxels into a camera with a z-buffer, each voxel a square of
about its projected size, as a memory frame at that camera (`rtfm.rollout` gives it to the frame
model as a token-only memory frame; README, Spatial memory, has the ablation).

Shapes: positions are world metres (+Z up); colours rgb in [0, 1]; labels int (-1 = none).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch
from torch import Tensor

from renderer.camera import Camera
from renderer.errors import WorldgenError
from renderer.warp import MIN_DEPTH, unproject, zbuffer

from .inputs import MemoryFrame

PRIMES = (1, 2654435761, 805459861)  # Instant-NGP's hash primes
MAX_SPLAT_RADIUS = 2  # pixels either side of a voxel's centre (near voxels cover up to 5x5)


class VoxelMemoryError(WorldgenError):
    """A voxel memory that cannot be made or read: bad settings, a bad file."""


class VoxelMemory:
    def __init__(self, voxel_size: float = 0.03, table_bits: int = 18):
        """voxel_size: metres a side; table_bits: the table holds 2**table_bits voxels (8..24)."""
        if not (isinstance(voxel_size, (int, float)) and math.isfinite(voxel_size) and 1e-4 <= voxel_size <= 10):
            raise VoxelMemoryError(f"voxel size must be in [1e-4, 10] m, got {voxel_size!r}")
        if not (isinstance(table_bits, int) and 8 <= table_bits <= 24):
            raise VoxelMemoryError(f"table_bits must be an integer in 8..24, got {table_bits!r}")
        self.voxel_size, self.table_bits = float(voxel_size), table_bits
        n = 1 << table_bits
        self.voxel = torch.zeros(n, 3, dtype=torch.int64)  # the voxel each slot holds
        self.count = torch.zeros(n)  # points fused into the slot (0 = empty)
        self.position = torch.zeros(n, 3)  # running sums
        self.rgb = torch.zeros(n, 3)
        self.label = torch.full((n,), -1, dtype=torch.long)

    def __len__(self) -> int:
        """Occupied slots."""
        return int((self.count > 0).sum())

    def _slots(self, voxel: Tensor) -> Tensor:
        """voxel [P, 3] int64 -> slot [P] (the spatial hash)."""
        h = voxel[:, 0] * PRIMES[0]
        for axis in (1, 2):
            h = torch.bitwise_xor(h, voxel[:, axis] * PRIMES[axis])
        return h & ((1 << self.table_bits) - 1)

    def _voxels(self, points: Tensor) -> Tensor:
        return torch.floor(points / self.voxel_size).long()

    def add(self, frame: MemoryFrame, stride: int = 1) -> int:
        """Fuse a frame's pixels with depth (every `stride`-th) into the table. Returns how many
        points went in."""
        if frame.depth is None:
            raise VoxelMemoryError("a frame needs depth to be placed in the voxel memory")
        world, valid = unproject(frame.depth[None], [frame.camera], stride)
        valid = valid.reshape(-1)
        points = world.reshape(-1, 3)[valid]
        if not len(points):
            return 0
        rgb = frame.rgb[::stride, ::stride].reshape(-1, 3).float()[valid]
        label = (frame.label[::stride, ::stride].reshape(-1).long()[valid] if frame.label is not None
                 else torch.full((len(points),), -1, dtype=torch.long))
        voxel, inverse = torch.unique(self._voxels(points), dim=0, return_inverse=True)
        count = torch.zeros(len(voxel)).index_add_(0, inverse, torch.ones(len(points)))
        pos = torch.zeros(len(voxel), 3).index_add_(0, inverse, points)
        col = torch.zeros(len(voxel), 3).index_add_(0, inverse, rgb)
        last = torch.zeros(len(voxel), dtype=torch.long).scatter_reduce_(0, inverse, torch.arange(len(points)), "amax")
        lab = label[last]
        slot = self._slots(voxel)
        # New voxels that share a slot: the one with the most points takes it (ties: the first).
        best = torch.zeros(1 << self.table_bits).scatter_reduce_(0, slot, count, "amax", include_self=False)
        top = count >= best[slot]
        first = torch.full((1 << self.table_bits,), len(voxel), dtype=torch.long)
        first.scatter_reduce_(0, slot[top], torch.arange(len(voxel))[top], "amin")
        win = torch.nonzero(first[slot] == torch.arange(len(voxel))).squeeze(1)
        voxel, slot, count, pos, col, lab = voxel[win], slot[win], count[win], pos[win], col[win], lab[win]
        same = (self.count[slot] > 0) & (self.voxel[slot] == voxel).all(-1)
        keep = same.float()  # the same voxel accumulates; another voxel's slot is taken over
        self.voxel[slot] = voxel
        self.count[slot] = self.count[slot] * keep + count
        self.position[slot] = self.position[slot] * keep[:, None] + pos
        self.rgb[slot] = self.rgb[slot] * keep[:, None] + col
        self.label[slot] = lab
        return len(points)

    def lookup(self, points: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """points [P, 3] -> (rgb [P, 3], label [P], found [P] bool): what the memory holds at each
        position's voxel, O(1) per point."""
        voxel = self._voxels(points)
        slot = self._slots(voxel)
        found = (self.count[slot] > 0) & (self.voxel[slot] == voxel).all(-1)
        rgb = torch.where(found[:, None], self.rgb[slot] / self.count[slot].clamp(min=1)[:, None], torch.zeros(1))
        return rgb, torch.where(found, self.label[slot], torch.full_like(self.label[slot], -1)), found

    def render(self, camera: Camera) -> MemoryFrame | None:
        """The stored voxels seen from `camera` (depth 0 where none lands), or None when none does."""
        occupied = torch.nonzero(self.count > 0).squeeze(1)
        if not len(occupied):
            return None
        n = self.count[occupied][:, None]
        centres, colours, labels = self.position[occupied] / n, self.rgb[occupied] / n, self.label[occupied]
        uv, z = camera.project(centres)
        ok = torch.isfinite(uv).all(-1) & (z > MIN_DEPTH)
        radius = torch.where(ok, 0.5 * self.voxel_size * camera.K[0, 0] / z.clamp(min=MIN_DEPTH), torch.zeros(1))
        radius = torch.ceil(radius - 0.5).clamp(0, MAX_SPLAT_RADIUS)
        u, v = torch.floor(uv[:, 0]), torch.floor(uv[:, 1])
        index, depth, keep, source = [], [], [], []
        for dy in range(-MAX_SPLAT_RADIUS, MAX_SPLAT_RADIUS + 1):  # a loop over offsets, not pixels
            for dx in range(-MAX_SPLAT_RADIUS, MAX_SPLAT_RADIUS + 1):
                uu, vv = u + dx, v + dy
                inside = ok & (radius >= max(abs(dx), abs(dy))) & (uu >= 0) & (uu < camera.width) & (vv >= 0) & (vv < camera.height)
                index.append(torch.where(inside, vv * camera.width + uu, torch.zeros(1)).long())
                depth.append(z)
                keep.append(inside)
                source.append(torch.arange(len(z)))
        mask, pick = zbuffer(torch.cat(index), torch.cat(depth), torch.cat(keep), camera.width * camera.height)
        if not mask.any():
            return None
        winner = torch.cat(source)[pick]
        hw = camera.width * camera.height
        rgb, out_depth, out_label = torch.zeros(hw, 3), torch.zeros(hw), torch.full((hw,), -1, dtype=torch.long)
        rgb[mask], out_depth[mask], out_label[mask] = colours[winner].clamp(0, 1), z[winner], labels[winner]
        shape = (camera.height, camera.width)
        return MemoryFrame(camera, rgb.reshape(*shape, 3), out_depth.reshape(shape), out_label.reshape(shape))

    # ---- persistence (safetensors + JSON) ----------------------------------------------------
    def save(self, folder: str | os.PathLike) -> None:
        from safetensors.torch import save_file

        from renderer.formats.base import atomic_write

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        used = torch.nonzero(self.count > 0).squeeze(1)
        tensors = {"slot": used, "voxel": self.voxel[used], "count": self.count[used], "position": self.position[used],
                   "rgb": self.rgb[used], "label": self.label[used]}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "voxels.safetensors.tmp"))
        os.replace(folder / "voxels.safetensors.tmp", folder / "voxels.safetensors")
        atomic_write(folder / "voxels.json", [json.dumps({"voxel_size": self.voxel_size, "table_bits": self.table_bits,
                                                          "occupied": len(used)}).encode()])

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "VoxelMemory":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)
        meta_path, data_path = folder / "voxels.json", folder / "voxels.safetensors"
        try:
            meta = json.loads(meta_path.read_text())
            memory = cls(meta["voxel_size"], meta["table_bits"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise VoxelMemoryError(f"{meta_path}: not a voxel memory's settings ({type(e).__name__}: {e})") from None
        try:
            t = load_file(str(data_path))
        except (OSError, SafetensorError) as e:
            raise VoxelMemoryError(f"{data_path}: not a voxel memory's tensors ({type(e).__name__}: {e})") from None
        slot = t.get("slot")
        n = 0 if slot is None else len(slot)
        shapes = {"slot": (n,), "voxel": (n, 3), "count": (n,), "position": (n, 3), "rgb": (n, 3), "label": (n,)}
        if slot is None or any(k not in t or tuple(t[k].shape) != s for k, s in shapes.items()):
            raise VoxelMemoryError(f"{data_path}: tensors missing or of the wrong shapes")
        if n and (slot.min() < 0 or slot.max() >= 1 << memory.table_bits or not all(
                torch.isfinite(t[k]).all() for k in ("count", "position", "rgb"))):
            raise VoxelMemoryError(f"{data_path}: slots out of range or non-finite values")
        slot = slot.long()
        memory.voxel[slot], memory.count[slot] = t["voxel"].long(), t["count"].float()
        memory.position[slot], memory.rgb[slot], memory.label[slot] = t["position"].float(), t["rgb"].float(), t["label"].long()
        return memory
