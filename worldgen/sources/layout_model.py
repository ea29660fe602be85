"""Prompt or layout -> frames from the frame model: it walks the layout's orbit with spatial memory,
each frame retrieved from and written back to it, guided by the layout's render at each camera
(labels, flat colour, depth) and conditioned on the prompt's text and the layout's tokens."""

from __future__ import annotations

from .base import MODEL_OPTIONS, BuildContext, SourceFrames
from .frames import model_frames_at
from .layout import LayoutSource


class LayoutModelSource(LayoutSource):
    kind = "layout-model"
    frames_from = "model"
    options = LayoutSource.options | MODEL_OPTIONS

    def frames(self, context: BuildContext) -> SourceFrames:
        from renderer.guide import GuideRenderer
        from rtfm.inputs import Condition, layout_grid
        from rtfm.memory import SpatialMemory
        from rtfm.rollout import rollout

        from ..procgen.paths import camera_path

        cfg, model = context.config, context.frame_model()
        res = model.cfg.resolution
        cams = camera_path(self.layout, "orbit", cfg.value("frames"), width=res, height=res, seed=cfg.seed)
        condition = Condition(text=context.text_states(self.prompt), layout=layout_grid(self.layout, model.cfg.layout_grid))
        memory = SpatialMemory(capacity=32)
        made = context.report(rollout(model, cams, condition, memory, GuideRenderer(self.layout).render, seed=cfg.seed),
                              len(cams))
        size = cfg.value("resolution")
        return self._result(model_frames_at(made, size, size), f"rtfm ({cfg.frame_model.name})", memory=memory)
