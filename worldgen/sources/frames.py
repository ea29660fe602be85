"""Frame-model output as lift input: memory frames resized into `PosedFrames`."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..frames import PosedFrames


def resized_rgb(rgb: torch.Tensor, width: int, height: int) -> np.ndarray:
    """rgb [H, W, 3] at another size: area-averaged down, bilinear up, in [0, 1]."""
    from rtfm.layers import resize_map

    mode = "area" if width <= rgb.shape[1] else "bilinear"
    return resize_map(rgb.float(), width, height, mode).clamp(0, 1).numpy()


def resized_map(t: torch.Tensor | None, width: int, height: int) -> np.ndarray | None:
    """A depth or label map [H, W] at another size, nearest (never blended across an edge)."""
    from rtfm.layers import resize_map

    return None if t is None else resize_map(t.float(), width, height, "nearest").numpy()


def square_crop(camera, *maps):
    """The middle square of a view: (its camera, each map [H, W, ...] cropped). The principal point
    moves with the crop; the pose and focal length stay."""
    from renderer import Camera

    w, h = camera.width, camera.height
    side = min(w, h)
    x0, y0 = (w - side) // 2, (h - side) // 2
    K = camera.K.clone()
    K[0, 2] -= x0
    K[1, 2] -= y0
    return (Camera(K, camera.c2w, side, side), *(None if m is None else m[y0:y0 + side, x0:x0 + side] for m in maps))


def model_frames_at(made: Sequence, width: int, height: int, rgb: Sequence[np.ndarray | None] | None = None,
                    names: Sequence[str] | None = None) -> PosedFrames:
    """Memory frames (`rtfm.inputs.MemoryFrame`: camera, rgb, depth, label) as PosedFrames at width x
    height. rgb: per frame, a colour image to use instead of the frame's own (a photo's full-size
    pixels); depth 0 and label -1 where a frame has none."""
    images, depths, labels = [], [], []
    for i, f in enumerate(made):
        own = None if rgb is None else rgb[i]
        images.append(resized_rgb(torch.from_numpy(own) if own is not None else f.rgb, width, height))
        depth, label = resized_map(f.depth, width, height), resized_map(f.label, width, height)
        depths.append(np.zeros((height, width), np.float32) if depth is None else depth)
        labels.append(np.full((height, width), -1, np.int32) if label is None else label)
    return PosedFrames([f.camera.scaled(width, height) for f in made], np.stack(images).astype(np.float32),
                       list(names) if names is not None else [f"{i:05d}" for i in range(len(made))],
                       np.stack(depths).astype(np.float32), np.stack(labels).astype(np.int32))
