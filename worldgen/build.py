"""One pipeline for every input: `build_world(source, out, config)`.

The source was made (its input read and validated) before this runs; here the world folder is
opened, the source's frames are made, written (frames/, memory/, layout.json), lifted into splats
with mesh, collider, flythrough and metrics (`worldgen.pipeline.lift_to_world`), and world.json is
written as a `WorldManifest` with the same keys for every source. Nothing is in place until the
last step: a failure leaves no world folder behind.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from renderer.lift import LiftConfig

from .config import GenerateConfig
from .frames import write_transforms
from .manifest import WorldManifest
from .pipeline import lift_budget, lift_to_world
from .sources.base import BuildContext, FrameCallback, FrameSource
from .world import WorldWriter

log = logging.getLogger(__name__)


def build_world(source: FrameSource, out: str | os.PathLike, config: GenerateConfig | None = None, *,
                on_frame: FrameCallback | None = None, progress: bool = True, overwrite: bool = False,
                lift: LiftConfig | None = None) -> Path:
    """Make the world of `source` in the folder `out` and return its path. config: the source's own
    when None. on_frame(index, total, rgb [H, W, 3]) sees each frame as it is made or read. lift: the
    whole lift schedule (benchmarks' references), instead of the one the config's time budget or
    lift_steps make."""
    config = config or source.config
    with WorldWriter(out, overwrite=overwrite) as writer:
        writer.manifest["timings_s"].update(source.timings_s)
        context = BuildContext(config, writer.timed, on_frame)
        made = source.frames(context)
        writer.timed("frames")
        models = {"layout": None, "frames": None, "poses": None, **made.models,
                  "text_encoder": None if context.text_encoder is None else context.text_encoder.name}
        manifest = WorldManifest(source=source.kind, inputs=source.inputs(), seed=config.seed, config=config.to_dict(),
                                 models=models, caption=made.caption,
                                 source_info=made.section, warnings=made.warnings, ignored_words=made.ignored_words)
        writer.manifest.update(manifest.sections())
        if made.layout is not None:
            made.layout.save(writer.add("layout", "layout.json"))
        extra = {"source": source.kind, **({"caption": made.caption} if made.caption else {})}
        write_transforms(writer.path("frames"), made.frames, extra=extra)
        writer.add("frames", "frames/transforms.json")
        if made.memory is not None:
            made.memory.save(writer.path("memory"))
            writer.add("memory", "memory/memory.json")
        for warning in made.warnings:
            log.warning("%s: %s", out, warning)
        lift = lift or lift_budget(config.value("time_budget_s"), config.lift_steps, config.seed,
                                   refine_poses=made.refine_poses, max_gaussians=config.value("max_gaussians"))
        lift_to_world(made.frames, out, config=lift, writer=writer, progress=progress, flythrough=config.flythrough,
                      init_points=made.init_points, flythrough_size=config.value("flythrough_size"))
        return writer.commit()

