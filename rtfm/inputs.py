"""What the frame model reads for one target camera, built from posed frames, a guide and conditions.

`build_inputs` turns a target `Camera`, its retrieved memory (`MemoryFrame`s), the layout's guide
render at that camera and the `Condition` (text states, images, video, layout) into one
`FrameInputs`; `FrameInputs.collate` batches them, padding memory and condition tokens with masks.
Pixel-aligned tensors are CHW at the target's size; RGB is mapped to [-1, 1] and depth to
`depth_to_net`. Rays are Plücker coordinates in the target camera's own frame, so the model sees
every pose relative to the frame it makes (WorldMem's best setting).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from renderer.camera import Camera
from renderer.errors import WorldgenError
from renderer.layout import LABEL_IDS, Layout
from renderer.warp import by_view_proximity, forward_warp

from .layers import resize_map

WARP_CHANNELS = 6  # rgb (3), depth, rgb-valid, depth-valid
# Warped memory points within 5% of a pixel's nearest depth are one surface, the nearest view winning;
# other frames' points in the space that view sees through are dropped (renderer.warp.forward_warp).
WARP_DEPTH_TOLERANCE = 0.05
GUIDE_CHANNELS = 5  # rgb (3), depth, present
RAY_CHANNELS = 6  # Plücker (direction, moment) in the target frame
MEMORY_CHANNELS = 5 + RAY_CHANNELS  # rgb (3), depth, depth-valid, rays
POSE_SCALE = 1.0 / 3.0  # metres -> Plücker moment units: rooms span a few metres


class FrameInputError(WorldgenError):
    """Inputs the frame model cannot take: mismatched sizes, too many memory frames, bad values."""


DEPTH_LOG_SCALE = 1.5  # natural-log units of depth per unit of the network's depth channel
DEPTH_MID = 2.5  # metres: where the network's depth channel is 0
FAR_DEPTH = 100.0  # metres: the far end of the depth channel, where missing depth (sky) goes
FAR_NET = math.log(FAR_DEPTH / DEPTH_MID) / DEPTH_LOG_SCALE  # the channel's value there


def depth_to_net(depth: Tensor) -> Tensor:
    """Metric z (m) -> the network's depth channel: log depth around 2.5 m, about [-1.7, 2.5] for
    0.2-100 m. Missing depth (0, e.g. sky) maps to the far end."""
    d = torch.where(depth > 0, depth, torch.full_like(depth, FAR_DEPTH))
    return torch.log(d.clamp(0.2, FAR_DEPTH) / DEPTH_MID) / DEPTH_LOG_SCALE


def depth_from_net(x: Tensor) -> Tensor:
    return DEPTH_MID * torch.exp(x.clamp(-1.8, 2.5) * DEPTH_LOG_SCALE)


@dataclass
class MemoryFrame:
    """A posed frame: rgb [H, W, 3] in [0, 1]; depth [H, W] metric z (None when unknown, 0 = no
    depth); label [H, W] ids (None when unknown)."""

    camera: Camera
    rgb: Tensor
    depth: Tensor | None = None
    label: Tensor | None = None

    def __post_init__(self):
        h, w = self.camera.height, self.camera.width
        if tuple(self.rgb.shape) != (h, w, 3):
            raise FrameInputError(f"memory frame rgb must be [{h}, {w}, 3] for its {w}x{h} camera, got {tuple(self.rgb.shape)}")
        if not torch.isfinite(self.rgb).all():
            raise FrameInputError("memory frame rgb has NaN or infinite values")
        for name in ("depth", "label"):
            t = getattr(self, name)
            if t is not None and tuple(t.shape) != (h, w):
                raise FrameInputError(f"memory frame {name} must be [{h}, {w}], got {tuple(t.shape)}")

    def resized(self, width: int, height: int) -> "MemoryFrame":
        """The same view at another size: area-averaged colour, nearest depth and labels, scaled K."""
        if (self.camera.width, self.camera.height) == (width, height):
            return self
        near = lambda t: None if t is None else resize_map(t, width, height, "nearest")  # noqa: E731
        label = near(self.label)
        return MemoryFrame(self.camera.scaled(width, height), resize_map(self.rgb, width, height, "area"),
                           near(self.depth), None if label is None else label.long())


@dataclass
class LayoutGrid:
    """A layout as a fixed-shape voxel grid over its bounds: label [X, Y, Z] (-1 empty), rgb
    [3, X, Y, Z], centres [X, Y, Z, 3] (world, m)."""

    label: Tensor
    rgb: Tensor
    centres: Tensor


def layout_grid(layout: Layout, shape: Sequence[int] = (16, 16, 8)) -> LayoutGrid:
    lo, hi = layout.bounds()
    axes = [lo[k] + (np.arange(n) + 0.5) * (hi[k] - lo[k]) / n for k, n in enumerate(shape)]
    X, Y, Z = np.meshgrid(*axes, indexing="ij")
    label = np.full(tuple(shape), -1, np.int64)
    rgb = np.zeros((3, *shape), np.float32)
    for o in layout.objects:
        c, s = math.cos(math.radians(o.yaw)), math.sin(math.radians(o.yaw))
        dx, dy = X - o.center[0], Y - o.center[1]
        u, v = c * dx + s * dy, -s * dx + c * dy
        z0, z1 = o.z_range
        inside = (np.abs(u) <= o.size[0] / 2) & (np.abs(v) <= o.size[1] / 2) & (Z >= z0) & (Z <= z1)
        label[inside] = LABEL_IDS[o.label]
        rgb[:, inside] = np.asarray(o.rgb, np.float32)[:, None]
    return LayoutGrid(torch.from_numpy(label), torch.from_numpy(rgb),
                      torch.from_numpy(np.stack([X, Y, Z], -1).astype(np.float32)))


@dataclass
class Condition:
    """Condition inputs for one world, any subset: text states [T, text_dim] (from
    `rtfm.language.TextEncoder`), images [I, S, S, 3] and video frames [F, S, S, 3] in [0, 1] (any
    S; resized to the model's image size), video_time [F] in seconds, a layout grid."""

    text: Tensor | None = None
    images: Tensor | None = None
    video: Tensor | None = None
    video_time: Tensor | None = None
    layout: LayoutGrid | None = None


@dataclass
class FrameInputs:
    """A batch of B targets. Pixel-aligned: rays [B, 6, H, W], warp [B, 6, H, W], warp_label [B, H, W],
    guide [B, 5, H, W], guide_label [B, H, W]. Memory tokens: memory [B, K, 11, H, W], memory_mask
    [B, K]. Conditions (None when absent from the whole batch): text [B, T, Dt] / text_mask [B, T],
    images [B, I, 3, S, S] / image_mask [B, I], video [B, F, 3, S, S] / video_time [B, F] /
    video_mask [B, F], layout_label [B, X, Y, Z] / layout_rgb and layout_pos [B, 3, X, Y, Z] /
    layout_mask [B]."""

    rays: Tensor
    warp: Tensor
    warp_label: Tensor
    guide: Tensor
    guide_label: Tensor
    memory: Tensor
    memory_mask: Tensor
    text: Tensor | None = None
    text_mask: Tensor | None = None
    images: Tensor | None = None
    image_mask: Tensor | None = None
    video: Tensor | None = None
    video_time: Tensor | None = None
    video_mask: Tensor | None = None
    layout_label: Tensor | None = None
    layout_rgb: Tensor | None = None
    layout_pos: Tensor | None = None
    layout_mask: Tensor | None = None

    CONDITION_FIELDS = ("text", "text_mask", "images", "image_mask", "video", "video_time", "video_mask",
                        "layout_label", "layout_rgb", "layout_pos", "layout_mask")

    def _map(self, fn) -> "FrameInputs":
        return FrameInputs(**{f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
                              for f in dataclasses.fields(self)})

    def to(self, device=None, dtype=None) -> "FrameInputs":
        """Move to a device; floating tensors also to `dtype` (masks and labels keep theirs)."""
        return self._map(lambda t: t.to(device=device, dtype=dtype if dtype is not None and t.is_floating_point() else None))

    @property
    def has_condition(self) -> bool:
        return any(getattr(self, name) is not None for name in self.CONDITION_FIELDS)

    def without_condition(self) -> "FrameInputs":
        """The same frame with no condition tokens (the unconditional branch of guidance)."""
        return dataclasses.replace(self, **{name: None for name in self.CONDITION_FIELDS})

    @property
    def batch_size(self) -> int:
        return self.rays.shape[0]

    @staticmethod
    def collate(items: Sequence["FrameInputs"]) -> "FrameInputs":
        """Concatenate along the batch, padding memory frames and condition tokens (masks False)."""
        if not items:
            raise FrameInputError("collate needs at least one FrameInputs")
        out = {}
        for name in ("rays", "warp", "warp_label", "guide", "guide_label"):
            out[name] = torch.cat([getattr(i, name) for i in items])
        out["memory"], out["memory_mask"] = _pad_cat([(i.memory, i.memory_mask) for i in items])
        for data, mask, extra in (("text", "text_mask", ()), ("images", "image_mask", ()),
                                  ("video", "video_mask", ("video_time",))):
            present = [i for i in items if getattr(i, data) is not None]
            if not present:
                continue
            like = present[0]
            rows = []
            for i in items:
                names = [data, mask, *extra]
                if getattr(i, data) is None:  # no tokens of this kind: an empty row
                    rows.append([getattr(like, n).new_zeros((i.batch_size, 0, *getattr(like, n).shape[2:])) for n in names])
                else:
                    rows.append([getattr(i, n) for n in names])
            padded = _pad_cat(rows)
            out[data], out[mask] = padded[0], padded[1]
            for e, t in zip(extra, padded[2:]):
                out[e] = t
        present = [i for i in items if i.layout_label is not None]
        if present:
            like = present[0]
            for name in ("layout_label", "layout_rgb", "layout_pos"):
                t = getattr(like, name)
                out[name] = torch.cat([getattr(i, name) if i.layout_label is not None
                                       else t[:1].expand(i.batch_size, *t.shape[1:]) for i in items])
            out["layout_mask"] = torch.cat([i.layout_mask if i.layout_label is not None
                                            else torch.zeros(i.batch_size, dtype=torch.bool) for i in items])
        return FrameInputs(**out)


def _pad_cat(rows: list[list[Tensor]]) -> list[Tensor]:
    """Rows of tensors [B_i, N_i, ...] (one row per item, same N_i within a row) -> each padded
    with zeros to max N along dim 1 and concatenated along the batch."""
    n = max(r[0].shape[1] for r in rows)
    out = []
    for col in range(len(rows[0])):
        parts = []
        for r in rows:
            t = r[col]
            pad = [0, 0] * (t.dim() - 2) + [0, n - t.shape[1]]
            parts.append(F.pad(t, pad))
        out.append(torch.cat(parts))
    return out


def plucker_in(target: Camera, camera: Camera) -> Tensor:
    """Plücker rays [6, H, W] of `camera`'s pixels, expressed in `target`'s camera frame."""
    o, d = camera.rays()  # world, [H, W, 3]
    w2c = target.w2c
    d_t = d @ w2c[:3, :3].T
    o_t = (o @ w2c[:3, :3].T + w2c[:3, 3]) * POSE_SCALE
    return torch.cat([d_t, torch.cross(o_t, d_t, dim=-1)], -1).permute(2, 0, 1)


def _rgb(t: Tensor) -> Tensor:
    return t.float().permute(2, 0, 1) * 2 - 1  # [H, W, 3] in [0, 1] -> [3, H, W] in [-1, 1]


def _images(images: Tensor, size: int) -> Tensor:
    x = images.float().permute(0, 3, 1, 2)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="area" if x.shape[-1] > size else "bilinear", align_corners=None)
    return x.clamp(0, 1)


def build_inputs(target: Camera, memory: Sequence[MemoryFrame] = (), guide: dict | None = None,
                 condition: Condition | None = None, known_rgb: Tensor | None = None, *, image_size: int = 64,
                 warp_noise: float = 0.0, generator: torch.Generator | None = None,
                 warp_supersample: int = 1) -> FrameInputs:
    """One target's inputs (batch of 1).

    memory: posed frames (any size; resized to the target's for tokens). Frames with depth are
      warped into the target together (z-buffer); frames without depth appear as tokens only.
    guide: the layout's guide render at `target` (`renderer.guide`): rgb [H, W, 3], depth, label.
    known_rgb: [H, W, 3], the target's own colour when it is given (a user's photo): it fills the
      warp channels with no depth, so the model keeps the colour and predicts the depth.
    warp_noise: training augmentation: Gaussian noise of up to this std on warped colour and depth,
      and up to this fraction of warped pixels dropped.
    warp_supersample: the memory warp's sub-pixel factor (`forward_warp(supersample=...)`); pass the
      model's `cfg.warp_supersample`, the warp it was trained on.
    """
    w, h = target.width, target.height
    rays = plucker_in(target, target)
    warp = torch.zeros(WARP_CHANNELS, h, w)
    warp_label = torch.full((h, w), -1, dtype=torch.long)
    with_depth = [m for m in memory if m.depth is not None]
    if known_rgb is not None:
        if tuple(known_rgb.shape) != (h, w, 3):
            raise FrameInputError(f"known_rgb must be [{h}, {w}, 3] to match the target camera, got {tuple(known_rgb.shape)}")
        warp[:3], warp[4] = _rgb(known_rgb), 1.0
    elif with_depth:
        with_depth = [with_depth[i] for i in by_view_proximity([m.camera for m in with_depth], target)]
        rgb = torch.stack([m.rgb.float() for m in with_depth]) if len({m.rgb.shape for m in with_depth}) == 1 else None
        if rgb is None:  # sources of several sizes: warp each size group, nearest wins
            with_depth = [m.resized(w, h) for m in with_depth]
            rgb = torch.stack([m.rgb.float() for m in with_depth])
        depth = torch.stack([m.depth.float() for m in with_depth])
        labels = None
        if all(m.label is not None for m in with_depth):
            labels = torch.stack([m.label for m in with_depth])
        res = forward_warp(rgb, depth, [m.camera for m in with_depth], target, labels,
                           depth_tolerance=WARP_DEPTH_TOLERANCE, supersample=warp_supersample)
        mask = res.mask
        wrgb, wdepth = res.rgb, res.depth
        if warp_noise > 0:
            s = float(torch.rand((), generator=generator)) * warp_noise
            wrgb = (wrgb + s * torch.randn(wrgb.shape, generator=generator)).clamp(0, 1)
            wdepth = wdepth * torch.exp(0.5 * s * torch.randn(wdepth.shape, generator=generator))
            mask = mask & (torch.rand(mask.shape, generator=generator) >= s)
        m = mask.float()
        warp[:3] = _rgb(wrgb) * m
        warp[3] = depth_to_net(wdepth) * m
        warp[4], warp[5] = m, m
        warp_label = torch.where(mask, res.label, warp_label)
    mem_frames = [m.resized(w, h) for m in memory]
    if mem_frames:
        toks = []
        for m in mem_frames:
            has_depth = m.depth is not None
            depth = m.depth.float() if has_depth else torch.zeros(h, w)
            valid = ((depth > 0) & torch.isfinite(depth)).float() if has_depth else torch.zeros(h, w)
            toks.append(torch.cat([_rgb(m.rgb), (depth_to_net(depth) * valid)[None], valid[None],
                                   plucker_in(target, m.camera)]))
        mem = torch.stack(toks)[None]
    else:
        mem = torch.zeros(1, 0, MEMORY_CHANNELS, h, w)
    g = torch.zeros(GUIDE_CHANNELS, h, w)
    g_label = torch.full((h, w), -1, dtype=torch.long)
    if guide is not None:
        gl = torch.as_tensor(np.asarray(guide["label"])).long()
        if tuple(gl.shape) != (h, w):
            raise FrameInputError(f"guide render is {tuple(gl.shape)}, the target camera {h}x{w}")
        present = (gl >= 0).float()
        g[:3] = _rgb(torch.as_tensor(np.asarray(guide["rgb"]))) * present
        g[3] = depth_to_net(torch.as_tensor(np.asarray(guide["depth"])).float()) * present
        g[4] = present
        g_label = gl
    out = FrameInputs(rays[None], warp[None], warp_label[None], g[None], g_label[None], mem,
                      torch.ones(1, mem.shape[1], dtype=torch.bool))
    return _with_condition(out, condition, target, image_size) if condition is not None else out


def _with_condition(out: FrameInputs, c: Condition, target: Camera, image_size: int) -> FrameInputs:
    fields = {}
    if c.text is not None and len(c.text):
        fields.update(text=c.text.float()[None], text_mask=torch.ones(1, len(c.text), dtype=torch.bool))
    if c.images is not None and len(c.images):
        fields.update(images=_images(c.images, image_size)[None], image_mask=torch.ones(1, len(c.images), dtype=torch.bool))
    if c.video is not None and len(c.video):
        times = c.video_time if c.video_time is not None else torch.arange(len(c.video), dtype=torch.float32)
        fields.update(video=_images(c.video, image_size)[None], video_time=times.float()[None],
                      video_mask=torch.ones(1, len(c.video), dtype=torch.bool))
    if c.layout is not None:
        w2c = target.w2c
        pos = (c.layout.centres @ w2c[:3, :3].T + w2c[:3, 3]).permute(3, 0, 1, 2)
        fields.update(layout_label=c.layout.label[None], layout_rgb=c.layout.rgb[None], layout_pos=pos[None],
                      layout_mask=torch.ones(1, dtype=torch.bool))
    return dataclasses.replace(out, **fields)
