"""Live walking in a world folder, and "expand": lifting what the walk generated into the world.

`open_session` turns a world on disk into a `rtfm.session.WorldSession`: its spatial memory is the
world's saved memory (image and video worlds) or its posed frames with depth (text worlds); its
condition is the world's prompt and layout, its guide the layout's render; steps stay inside the
layout's bounds (or the scene's). `expand_world` lifts the session's generated frames into the
world's splats, starting from the splats it has (so the old world stays and the new views add to
it), and rewrites the world atomically: scene.ply, frames/ (old and new), memory/, world.json.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch

from renderer import Camera, save_scene
from renderer.lift import LiftConfig, lift
from renderer.view import robust_bounds

from .config import DEFAULT_FRAME_MODEL
from .models import frame_model, text_encoder_of, text_states
from .frames import PosedFrames, read_transforms, write_transforms
from .world import World, WorldError, WorldWriter, load_world

BOUNDS_MARGIN_M = 0.2  # how close to a wall a walk may go


def world_memory(world: World, size: tuple[int, int], capacity: int):
    """The spatial memory of a world folder: its saved memory, else its posed frames with depth."""
    from rtfm.inputs import MemoryFrame
    from rtfm.memory import SpatialMemory

    if world.file("memory") is not None:
        memory = SpatialMemory.load(world.file("memory").parent)
        memory.capacity = max(memory.capacity, capacity)
        return memory
    if world.file("frames") is None:
        raise WorldError(f"{world.path}: the world keeps neither a memory nor frames to walk from")
    frames = read_transforms(world.file("frames").parent)
    if frames.depths is None:
        raise WorldError(f"{world.path}: its frames have no depth, so they cannot be a spatial memory")
    memory = SpatialMemory(capacity)
    for i, cam in enumerate(frames.cameras):
        label = None if frames.labels is None else torch.from_numpy(frames.labels[i]).long()
        memory.add(MemoryFrame(cam, torch.from_numpy(frames.images[i]), torch.from_numpy(frames.depths[i]), label)
                   .resized(*size))
    return memory


def _bounds(world: World) -> tuple[torch.Tensor, torch.Tensor]:
    layout = world.layout
    if layout is not None:
        lo, hi = (torch.as_tensor(np.asarray(b), dtype=torch.float64) for b in layout.bounds())
    else:
        lo, hi = (b.double() for b in robust_bounds(world.scene))
    return lo + BOUNDS_MARGIN_M, hi - BOUNDS_MARGIN_M


def open_session(world_dir: str | os.PathLike, checkpoint: str | os.PathLike = DEFAULT_FRAME_MODEL,
                 start: Camera | None = None, capacity: int = 32, seed: int = 0):
    """A WorldSession walking the world in `world_dir`, from `start` or the world's first camera."""
    from renderer.guide import GuideRenderer
    from rtfm.inputs import Condition, layout_grid
    from rtfm.session import WorldSession

    world = load_world(world_dir)
    model = frame_model(checkpoint)
    size = (model.cfg.resolution, model.cfg.resolution)
    if start is None:
        cams = world.manifest.get("cameras") or []
        if not cams:
            raise WorldError(f"{world.path / 'world.json'}: no cameras to start a walk from (pass start=)")
        first = Camera.from_dict(cams[0])
        short = min(first.width, first.height)
        start = first.scaled(round(first.width * size[0] / short), round(first.height * size[1] / short))
    memory = world_memory(world, (start.width, start.height), capacity)
    layout = world.layout
    prompt = (world.manifest.get("inputs") or {}).get("prompt")
    text = text_states(text_encoder_of(checkpoint))(prompt) if prompt else None
    condition = Condition(text=text, layout=None if layout is None else layout_grid(layout, model.cfg.layout_grid))
    guide = None if layout is None else GuideRenderer(layout).render
    return WorldSession(model, start, condition, memory, guide, seed=seed, bounds=_bounds(world))


def expand_world(world_dir: str | os.PathLike, session, time_budget_s: float = 20.0, seed: int = 0) -> Path:
    """Lift `session.generated()` frames into the world in `world_dir` (rewritten in place, atomically).

    The new frames join the world's posed frames (at their size, or 128 px when it has none); the
    lift starts from the world's splats and fits old and new frames together, so what was there
    stays and the walk's new views are added."""
    from rtfm.layers import resize_map

    world = load_world(world_dir)
    new = session.generated()
    if not new:
        raise WorldError(f"{world.path}: the walk added no new views to memory (each frame it made was "
                         "already covered by the world), so there is nothing to add")
    old = read_transforms(world.file("frames").parent) if world.file("frames") is not None else None
    if old is not None and old.depths is None:
        old = None  # a capture without depth: its frames stay, the lift fits the new frames
    lh, lw = old.images.shape[1:3] if old is not None else (128, 128)
    cams = [f.camera.scaled(lw, lh) for f in new]
    added = PosedFrames(cams, torch.stack([resize_map(f.rgb, lw, lh, "bilinear").clamp(0, 1) for f in new]).numpy(),
                        [f"walk_{session.made:06d}_{i:03d}" for i in range(len(new))],
                        torch.stack([resize_map(f.depth, lw, lh, "nearest") for f in new]).numpy(),
                        torch.stack([resize_map(f.label, lw, lh, "nearest") for f in new]).numpy().astype(np.int32))
    frames = added if old is None else _concat(old, added)
    result = lift(frames.cameras, torch.from_numpy(frames.images), torch.from_numpy(frames.depths),
                  None if frames.labels is None else torch.from_numpy(frames.labels),
                  LiftConfig(iterations=100_000, time_budget_s=time_budget_s, seed=seed, densify=False),
                  init=world.scene)
    with WorldWriter.update(world) as writer:
        save_scene(result.scene, writer.add("scene", world.manifest["files"]["scene"]))
        writer.scene_changed()
        if old is not None or world.file("frames") is None:
            shutil.rmtree(writer.path("frames"), ignore_errors=True)
            write_transforms(writer.path("frames"), frames, extra={"expanded_frames": len(added)})
            writer.manifest["files"]["frames"] = "frames/transforms.json"
        session.memory.save(writer.path("memory"))
        writer.manifest["files"]["memory"] = "memory/memory.json"
        writer.manifest.setdefault("expansions", []).append(
            {"frames": len(new), "lift_steps": result.steps, "seconds": round(result.seconds, 2),
             "gaussians": len(result.scene)})
        writer.manifest["cameras"] = list(writer.manifest.get("cameras") or []) + [c.to_dict() for c in cams]
        return writer.commit()


def _concat(a: PosedFrames, b: PosedFrames) -> PosedFrames:
    cat = lambda x, y: None if x is None or y is None else np.concatenate([x, y])  # noqa: E731
    return PosedFrames(a.cameras + b.cameras, np.concatenate([a.images, b.images]), a.names + b.names,
                       cat(a.depths, b.depths), cat(a.labels, b.labels))
