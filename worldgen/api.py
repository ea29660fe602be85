"""The Python generation API: `worldgen.generate(...)` -> a `World`; `worldgen.load_world(dir)`.

    import worldgen
    world = worldgen.generate("a bedroom with a blue bed", seed=0)
    world.save("worlds/bedroom")
    rgb = world.render(world.cameras[0])                 # [H, W, 3] float32 in [0, 1]
    world.export("ply", "bedroom.ply", axes="opengl")

A generated world lives in a temporary folder until it is saved (removed when the object goes);
`save` copies it into place atomically. Models (the frame model, the language model) are loaded
once per process and cached by the loaders.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np

from renderer.errors import ArgumentError
from renderer.layout import Layout

from .world import World, load_world

QUALITIES = ("draft", "full")
DEFAULTS = {"draft": {"frames": 40, "resolution": 256, "time_budget_s": 22.0},  # flythrough 512x512 (bench/lift.py)
            "full": {"frames": 24, "resolution": 128, "time_budget_s": 40.0}}


class GenerateError(ArgumentError):
    """Arguments to `generate` that cannot make a world."""


class GeneratedWorld(World):
    """A World in a temporary folder (deleted with the object) until `save` puts it somewhere."""

    def __init__(self, path: Path, manifest: dict, scratch: Path):
        super().__init__(path, manifest)
        self._cleanup = weakref.finalize(self, shutil.rmtree, scratch, True)


def _layout_of(layout) -> Layout | None:
    from renderer.layout import load_layout_file

    return layout if layout is None or isinstance(layout, Layout) else load_layout_file(layout)


def generate(prompt: str | None = None, images: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
             video: str | os.PathLike | None = None, layout: Layout | str | os.PathLike | None = None, *,
             seed: int = 0, quality: Literal["draft", "full"] = "draft", frames: int | None = None,
             resolution: int | None = None, time_budget_s: float | None = None, lift_steps: int | None = None,
             device: str | None = None, progress: bool = True, engine: str = "auto", flythrough: bool = True,
             fov_y_deg: float | None = None, frame_model: str | os.PathLike | None = None,
             on_frame: Callable[[int, int, np.ndarray], None] | None = None, complete: bool = True) -> World:
    """Make a world from a prompt, a layout (a Layout, box JSON or voxel .npy), photo(s) or a video.

    quality: "draft" renders the layout's procedural frames and lifts them; "full" makes the frames
      with the frame model and its spatial memory. Photos and videos always go through the frame model.
    frames / resolution / time_budget_s: frames made, their size in pixels, seconds of lifting
      (defaults per quality in DEFAULTS).
    lift_steps: lift for exactly this many steps instead of a time budget: the same inputs and
      seed then give the same world bit for bit on any machine (a time budget stops wherever the
      machine got to; everything before the lift is reproducible either way).
    fov_y_deg: the photos' / video's vertical field of view (default: EXIF, else 60 degrees).
    frame_model: a frame model checkpoint folder (default: assets/rtfm-tiny).
    flythrough: also render flythrough.mp4 (a large share of a small world's time).
    device: the frame model's device ("cpu", "cuda"); None picks CUDA when there is one.
    on_frame: called as on_frame(index, total, rgb [H, W, 3] float32) for each frame as it is made
      (a photo or video frame first, then the generated views; an editor shows them while the lift runs).
    complete: after the objects a prompt names, add what its scene type plausibly holds (marked
      "source": "completion" in layout.json); prompts saying "only" or "empty" are never completed.
    Raises a WorldgenError subclass naming the input for every bad argument or file.
    """
    if quality not in QUALITIES:
        raise GenerateError(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
    if prompt is None and images is None and video is None and layout is None:
        raise GenerateError("generate needs a prompt, image(s), a video or a layout")
    if images is not None and video is not None:
        raise GenerateError("give images or a video, not both")
    opts = dict(DEFAULTS["full" if images is not None or video is not None else quality])
    for key, value in (("frames", frames), ("resolution", resolution), ("time_budget_s", time_budget_s),
                       ("lift_steps", lift_steps)):
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise GenerateError(f"{key} must be a positive number, got {value!r}")
            opts[key] = value
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    scratch = Path(tempfile.mkdtemp(prefix="worldgen-"))
    out = scratch / "world"
    try:
        from .frame_model import DEFAULT_FRAME_MODEL

        opts.update(flythrough=flythrough, fov_y_deg=fov_y_deg, frame_model=frame_model or DEFAULT_FRAME_MODEL,
                    on_frame=on_frame, complete=complete)
        _make(out, prompt, images, video, _layout_of(layout), seed, quality, opts, device, progress, engine)
        world = load_world(out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return GeneratedWorld(world.path, world.manifest, scratch)


def _make(out, prompt, images, video, layout, seed, quality, opts, device, progress, engine) -> None:
    frames, size, budget = int(opts["frames"]), int(opts["resolution"]), float(opts["time_budget_s"])
    steps = int(opts["lift_steps"]) if opts.get("lift_steps") else None
    model, fov, flythrough = opts["frame_model"], opts["fov_y_deg"], opts["flythrough"]
    media = dict(time_budget_s=budget, lift_steps=steps, checkpoint=model, progress=progress, flythrough=flythrough,
                 on_frame=opts["on_frame"], device=device)  # what photo and video worlds share
    if video is not None:
        from .video_world import generate_from_video

        generate_from_video(video, out, prompt=prompt, seed=seed, lift_size=size, fov_y_deg=fov, **media)
    elif images is not None:
        from .image_world import generate_from_image
        from .video_world import generate_from_images

        paths = [images] if isinstance(images, (str, os.PathLike)) else list(images)
        if len(paths) == 1:
            generate_from_image(paths[0], out, prompt=prompt, seed=seed, frames=frames, lift_size=size, fov_y_deg=fov,
                                **media)
        else:  # placed by structure from motion, then completed as a video's frames are
            generate_from_images(paths, out, prompt=prompt, seed=seed, lift_size=size, fov_y_deg=fov, **media)
    elif quality == "full":
        from .layout_world import generate_full

        generate_full(prompt, out, layout=layout, seed=seed, frames=frames, resolution=size, time_budget_s=budget,
                      progress=progress, engine=engine, device=device, lift_steps=steps, flythrough=flythrough,
                      frame_model=model, on_frame=opts["on_frame"], complete=opts["complete"])
    else:
        from .pipeline import generate_draft

        generate_draft(prompt, out, layout=layout, seed=seed, frames=frames, resolution=size, time_budget_s=budget,
                       progress=progress, engine=engine, lift_steps=steps, flythrough=flythrough,
                       on_frame=opts["on_frame"], complete=opts["complete"])
