"""Prompt or layout -> world through the frame model (quality "full").

The layout (given, or read from the prompt) gives the camera orbit, the guide render at each
camera (labels, flat colour, depth) and the layout tokens; the prompt gives the text tokens. The
frame model walks the orbit with spatial memory, each frame retrieved from and written back to
it, and the frames are lifted as in the draft. The draft renders the same orbit by ray casting
the procedural assets instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from renderer.layout import Layout

from .frame_model import DEFAULT_FRAME_MODEL, DEFAULT_TEXT_ENCODER, text_states
from .frames import PosedFrames, write_transforms
from .pipeline import layout_step, lift_budget, lift_to_world, reported
from .world import WorldWriter


def model_frames(model, layout: Layout, text: torch.Tensor | None, frames: int, size: int, seed: int,
                 on_frame=None):
    """(PosedFrames at `size`, the SpatialMemory) of the frame model walking the layout's orbit;
    on_frame(index, total, rgb [H, W, 3]) sees each frame as it is made."""
    from renderer.guide import GuideRenderer
    from rtfm.inputs import Condition, layout_grid
    from rtfm.layers import resize_map
    from rtfm.memory import SpatialMemory
    from rtfm.rollout import rollout

    from .procgen.paths import camera_path

    res = model.cfg.resolution
    cams = camera_path(layout, "orbit", frames, width=res, height=res, seed=seed)
    condition = Condition(text=text, layout=layout_grid(layout, model.cfg.layout_grid))
    memory = SpatialMemory(capacity=32)
    made = reported(rollout(model, cams, condition, memory, GuideRenderer(layout).render, seed=seed), on_frame, len(cams))
    up = lambda t, mode: resize_map(t, size, size, mode)  # noqa: E731
    posed = PosedFrames([f.camera.scaled(size, size) for f in made],
                        np.stack([up(f.rgb, "bilinear").clamp(0, 1).numpy() for f in made]).astype(np.float32),
                        [f"{i:05d}" for i in range(len(made))],
                        np.stack([up(f.depth, "nearest").numpy() for f in made]).astype(np.float32),
                        np.stack([up(f.label, "nearest").numpy() for f in made]).astype(np.int32))
    return posed, memory


def generate_full(prompt: str | None, out: str | os.PathLike, *, layout: Layout | None = None, seed: int = 0,
                  frames: int = 40, resolution: int = 128, time_budget_s: float = 28.0, overwrite: bool = False,
                  progress: bool = True, engine: str = "auto", checkpoint: str | os.PathLike | None = None,
                  frame_model: str | os.PathLike = DEFAULT_FRAME_MODEL, device=None, lift_steps: int | None = None,
                  flythrough: bool = True, on_frame=None, complete: bool = True):
    """The "full" world for a prompt or a layout. Returns (world folder, ignored words, warnings)."""
    from rtfm.checkpoint import load_frame_model

    layout, layout_model, ignored, warnings = layout_step(prompt, layout, engine, seed, checkpoint, complete)
    model = load_frame_model(frame_model, device or "cpu")
    with WorldWriter(out, overwrite=overwrite) as writer:
        layout.save(writer.add("layout", "layout.json"))
        writer.manifest.update({"inputs": {"prompt": prompt}, "seed": seed, "caption": layout.caption, "quality": "full",
                                "models": {"layout": layout_model, "frames": f"rtfm ({Path(frame_model).name})"},
                                "ignored_words": ignored, "warnings": warnings})
        writer.timed("layout")
        text = text_states(DEFAULT_TEXT_ENCODER)(prompt) if prompt else None
        posed, memory = model_frames(model, layout, text, frames, resolution, seed, on_frame)
        write_transforms(writer.path("frames"), posed, extra={"caption": layout.caption, "source": "frame model"})
        writer.manifest["files"]["frames"] = "frames/transforms.json"
        memory.save(writer.path("memory"))
        writer.manifest["files"]["memory"] = "memory/memory.json"
        writer.timed("frames")
        lift_to_world(posed, out, config=lift_budget(time_budget_s, lift_steps, seed), writer=writer, progress=progress,
                      flythrough=flythrough)
        return writer.commit(), ignored, warnings
