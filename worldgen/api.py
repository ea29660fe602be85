"""The Python generation API: `worldgen.generate(...)` -> a `World`; `worldgen.load_world(dir)`.

    import worldgen
    world = worldgen.generate("a bedroom with a blue bed", seed=0)
    world.save("worlds/bedroom")
    rgb = world.render(world.cameras[0])                 # [H, W, 3] float32 in [0, 1]
    world.export("ply", "bedroom.ply", axes="opengl")

A generated world lives in a temporary folder until it is saved (removed when the object goes);
`save` copies it into place atomically. Models (the frame model, its text encoder, the language
model) are loaded once per process and cached (`worldgen.models`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from renderer.layout import Layout

from .config import GenerateConfig
from .world import World, load_world

class GeneratedWorld(World):
    """A World in a temporary folder (deleted with the object) until `save` puts it somewhere."""

    def __init__(self, path: Path, manifest: dict, scratch: Path):
        super().__init__(path, manifest)
        self._cleanup = weakref.finalize(self, shutil.rmtree, scratch, True)


def _layout_of(layout) -> Layout | None:
    """A Layout, a layout file (box .json or voxel .npy) or an inline box layout object (a batch job's)."""
    from renderer.layout import load_layout_file

    if layout is None or isinstance(layout, Layout):
        return layout
    return Layout.from_dict(layout, source="inline layout") if isinstance(layout, dict) else load_layout_file(layout)


def generate(prompt: str | None = None, images: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
             video: str | os.PathLike | None = None, layout: Layout | str | os.PathLike | None = None, *,
             pano: str | os.PathLike | None = None, config: GenerateConfig | None = None, progress: bool = True,
             on_frame: Callable[[int, int, np.ndarray], None] | None = None, **options) -> World:
    """Make a world from a prompt, a layout (a Layout, box JSON or voxel .npy), photo(s), a video (or a
    posed frame folder) or an equirectangular panorama; a prompt also conditions the other inputs.

    config: a `GenerateConfig` (default: the draft effort); options: any of its fields, set on top
      of it (`generate("a kitchen", effort="standard", frames_from="model", seed=3)`):
      effort: draft | standard | high (frames, resolution, lift time, flythrough size; README);
      frames_from: "procedural" (ray cast the layout's assets) or "model" (the frame model with
        spatial memory) for a prompt or layout; photos, videos and panoramas always use the model;
      seed, frames, resolution, time_budget_s, lift_steps (lift exactly this many steps: the same
        world bit for bit on any machine), flythrough, flythrough_size, generated, device,
        frame_model, engine, complete, fov_y_deg.
      A setting the chosen input cannot use is refused (a SourceError naming it), never dropped.
    on_frame: called as on_frame(index, total, rgb [H, W, 3] float32) for each frame as it is made
      (an editor shows them while the lift runs).
    Raises a WorldgenError subclass naming the input for every bad argument or file.
    """
    from .build import build_world
    from .sources import source_for

    config = (config or GenerateConfig()).with_options(**options)
    source = source_for({"images": images, "video": video, "layout": _layout_of(layout), "pano": pano}, prompt, config)
    scratch = Path(tempfile.mkdtemp(prefix="worldgen-"))
    out = scratch / "world"
    try:
        build_world(source, out, config, on_frame=on_frame, progress=progress)
        world = load_world(out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return GeneratedWorld(world.path, world.manifest, scratch)
