"""Prompt or layout -> frames ray cast from the procedural engine's assets along an orbit."""

from __future__ import annotations

import numpy as np

from ..frames import PosedFrames
from .base import BuildContext, SourceFrames
from .layout import LayoutSource

SAMPLES_PER_PIXEL = 2  # anti-aliasing: 2 x 2 rays a pixel, as a sensor integrates (aliased frames disagree between views)


class ProceduralSource(LayoutSource):
    kind = "procedural"
    frames_from = "procedural"

    def __init__(self, layout, prompt, config, samples_per_pixel: int = SAMPLES_PER_PIXEL):
        super().__init__(layout, prompt, config)
        self.samples_per_pixel = samples_per_pixel  # 1: aliased frames (bench/lift.py's reference)

    def frames(self, context: BuildContext) -> SourceFrames:
        from renderer.raycast import raycast

        from ..procgen.paths import camera_path
        from ..procgen.world import build_world

        cfg = context.config
        size = cfg.value("resolution")
        cams = camera_path(self.layout, "orbit", cfg.value("frames"), width=size, height=size, seed=cfg.seed)
        world, shots = build_world(self.layout, cfg.seed), []
        for i, cam in enumerate(cams):
            shots.append(raycast(world, cam, samples_per_pixel=self.samples_per_pixel))
            if context.on_frame is not None:
                context.on_frame(i, len(cams), shots[-1]["rgb"])
        stack = lambda key: np.stack([s[key] for s in shots])  # noqa: E731
        posed = PosedFrames(cams, stack("rgb"), [f"{i:05d}" for i in range(len(cams))], stack("depth"), stack("label"))
        spp = self.samples_per_pixel
        return self._result(posed, f"procedural ray casting ({spp}x{spp} rays per pixel)")
