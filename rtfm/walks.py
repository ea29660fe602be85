"""Posed walks as the frame model's training and evaluation data.

A `Walk` is one posed RGB-D + label sequence of a world with its guide renders, caption states,
layout grid and the overlap of every frame with every other (`overlap[s, t]`: the fraction of
frame t's pixels that frame s covers after warping). `memory_for` is the one retrieval rule that
training and evaluation share: the K frames that overlap the target most, the target and its
`exclude` neighbours on each side left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from renderer.camera import Camera
from renderer.layout import Layout
from renderer.warp import top_k_by_overlap, view_overlap

from .inputs import LayoutGrid, MemoryFrame, depth_to_net, layout_grid


@dataclass
class Walk:
    frames: list[MemoryFrame]
    guides: list[dict]
    overlap: Tensor  # [M, M]
    caption: str
    text: Tensor | None  # [T, D] TextEncoder states of the caption
    layout: Layout
    grid: LayoutGrid

    def __len__(self) -> int:
        return len(self.frames)

    def target(self, t: int) -> tuple[Tensor, Tensor, Tensor]:
        """Frame t as training targets: x0 [4, H, W] (rgb in [-1, 1], depth_to_net), label [H, W]
        (-1 = none), depth [H, W] (metric, 0 = none)."""
        f = self.frames[t]
        x0 = torch.cat([f.rgb.permute(2, 0, 1) * 2 - 1, depth_to_net(f.depth)[None]])
        return x0, f.label, f.depth

    def resized(self, width: int, height: int) -> "Walk":
        """The same walk seen at another size (`MemoryFrame.resized`; guides: area colour, nearest depth
        and labels). Overlaps are kept, so retrieval picks the same memory frames."""
        from .layers import resize_map

        def guide(g: dict) -> dict:
            return {"rgb": resize_map(g["rgb"], width, height, "area"), "depth": resize_map(g["depth"], width, height, "nearest"),
                    "label": resize_map(g["label"], width, height, "nearest").long()}

        return Walk([f.resized(width, height) for f in self.frames], [guide(g) for g in self.guides], self.overlap,
                    self.caption, self.text, self.layout, self.grid)

    def memory_for(self, t: int, k: int, exclude: int = 2) -> list[int]:
        near = [i for i in range(len(self)) if abs(i - t) <= exclude]
        return top_k_by_overlap(self.overlap[:, t], k, exclude=near)


TextFn = Callable[[str], Tensor]


def walk_from_sample(sample: dict, text: TextFn | None = None, grid_shape=(16, 16, 8)) -> Walk:
    """A procedural sample (`worldgen.procgen.dataset.Sequence.to_tensors()`) -> a Walk."""
    m = sample["rgb"].shape[0]
    h, w = sample["rgb"].shape[1:3]
    cams = [Camera(sample["K"][i], sample["c2w"][i], w, h) for i in range(m)]
    frames = [MemoryFrame(cams[i], sample["rgb"][i].float(), sample["depth"][i].float(), sample["label"][i].long())
              for i in range(m)]
    guides = [{"rgb": sample["guide_rgb"][i], "depth": sample["guide_depth"][i], "label": sample["guide_label"][i]}
              for i in range(m)]
    depth = sample["depth"].float()
    overlap = view_overlap(depth, cams, cams)  # [source, target]
    layout = Layout.from_dict(json.loads(sample["layout"]), "walk layout")
    caption = sample.get("caption", "") or layout.caption
    return Walk(frames, guides, overlap, caption, text(caption) if text is not None and caption else None, layout,
                layout_grid(layout, grid_shape))
