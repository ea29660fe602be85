"""Image -> world: a photo becomes frame 0 of the spatial memory (its depth predicted by the frame
model), the frame model generates the views around it along an exploration path, and all of the
frames are lifted into splats with mesh, collider and flythrough, as for text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from renderer import Camera
from renderer.view import exploration_path

from .frame_model import DEFAULT_FRAME_MODEL, DEFAULT_TEXT_ENCODER, text_states
from .frames import PosedFrames, write_transforms
from .images import DEFAULT_FOV_Y_DEG, read_image
from .pipeline import FrameCallback, lift_budget, lift_to_world, reported
from .world import WorldWriter

EYE = (0.0, 0.0, 1.5)  # the photo's camera: 1.5 m above the origin, looking along +X (level)


def photo_camera(width: int, height: int, fov_y_deg: float) -> Camera:
    return Camera.look_at(EYE, (EYE[0] + 1.0, EYE[1], EYE[2]), width=width, height=height, fov_y_deg=fov_y_deg)


def photo_frames(model, photo: torch.Tensor, camera: Camera, text: torch.Tensor | None = None, frames: int = 24,
                 lift_size: int = 128, seed: int = 0, timed: Callable[[str], None] | None = None,
                 on_frame: FrameCallback | None = None):
    """A photo [H, W, 3] in [0, 1] seen by `camera` -> (PosedFrames at the lift size: the photo, then
    `frames` - 1 generated views around it; the SpatialMemory that made them).

    The photo's depth is predicted (`rtfm.photo.photo_memory`); the frame model walks an exploration
    path from it with memory. Frames are lifted at `lift_size` on the short side: the photo keeps
    its own detail, generated frames are upsampled. `timed(stage)` is called as each stage ends;
    `on_frame(index, total, rgb [H, W, 3])` sees the photo and then each generated frame as it is made."""
    from rtfm.inputs import Condition
    from rtfm.layers import resize_map
    from rtfm.memory import SpatialMemory
    from rtfm.photo import photo_memory
    from rtfm.rollout import rollout

    frame0, _ = photo_memory(model, photo, camera, seed=seed)
    if timed:
        timed("photo depth")
    memory = SpatialMemory(capacity=32)
    memory.add(frame0)
    condition = Condition(text=text, images=frame0.rgb[None])
    if on_frame is not None:
        on_frame(0, frames, photo.numpy())
    path = exploration_path(frame0.camera, frames - 1)
    generated = [frame0] + reported(rollout(model, path, condition, memory, seed=seed), on_frame, frames, start=1)
    if timed:
        timed("frames")
    k = lift_size / min(frame0.camera.width, frame0.camera.height)
    lw, lh = round(frame0.camera.width * k), round(frame0.camera.height * k)
    cams = [f.camera.scaled(lw, lh) for f in generated]
    images = np.stack([resize_map(photo, lw, lh, "area").numpy()] +
                      [resize_map(f.rgb, lw, lh, "bilinear").clamp(0, 1).numpy() for f in generated[1:]])
    depths = np.stack([resize_map(f.depth, lw, lh, "nearest").numpy() for f in generated])
    labels = np.stack([resize_map(f.label, lw, lh, "nearest").numpy().astype(np.int32) for f in generated])
    posed = PosedFrames(cams, images.astype(np.float32), [f"{i:05d}" for i in range(len(cams))],
                        depths.astype(np.float32), labels)
    return posed, memory


def generate_from_image(image: str | os.PathLike, out: str | os.PathLike, *, prompt: str | None = None, seed: int = 0,
                        frames: int = 24, lift_size: int = 128, fov_y_deg: float | None = None,
                        time_budget_s: float = 40.0, checkpoint: str | os.PathLike = DEFAULT_FRAME_MODEL,
                        overwrite: bool = False, progress: bool = True, lift_steps: int | None = None,
                        flythrough: bool = True, on_frame: FrameCallback | None = None, device: str | None = None) -> Path:
    """One photo (and an optional prompt) -> a world folder. Returns its path. lift_steps: lift for
    exactly that many steps instead of `time_budget_s` (reproducible bit for bit); on_frame: see
    `photo_frames`; device: the frame model's (default CPU)."""
    from rtfm.checkpoint import load_frame_model

    rgb, _, exif_fov = read_image(image, max_side=1024)  # before the folder: a bad file leaves nothing
    model = load_frame_model(checkpoint, device or "cpu")
    fov = fov_y_deg or exif_fov or DEFAULT_FOV_Y_DEG
    with WorldWriter(out, overwrite=overwrite) as writer:
        writer.manifest.update({"inputs": {"image": str(image), "prompt": prompt}, "seed": seed,
                                "models": {"frames": f"rtfm ({Path(checkpoint).name})"},
                                "camera": {"fov_y_deg": round(fov, 3), "fov_from": "argument" if fov_y_deg else
                                           ("exif" if exif_fov else "default")}})
        h, w = rgb.shape[:2]
        text = text_states(DEFAULT_TEXT_ENCODER)(prompt) if prompt else None
        posed, memory = photo_frames(model, torch.from_numpy(rgb), photo_camera(w, h, fov), text, frames, lift_size, seed,
                                     writer.timed, on_frame)
        write_transforms(writer.path("frames"), posed, extra={"source": "image", "generated_from": 1})
        writer.manifest["files"]["frames"] = "frames/transforms.json"
        memory.save(writer.path("memory"))
        writer.manifest["files"]["memory"] = "memory/memory.json"
        lift_to_world(posed, out, config=lift_budget(time_budget_s, lift_steps, seed), writer=writer, progress=progress,
                      flythrough=flythrough)
        return writer.commit()
