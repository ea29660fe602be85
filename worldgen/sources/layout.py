"""Prompt or layout sources: the layout (given, or read from the prompt by the language model or the
rules, `worldgen.lm.layout_for_prompt`) is made when the source is, before the world folder exists.
Its frames come from the procedural engine (`procedural.py`) or from the frame model
(`layout_model.py`)."""

from __future__ import annotations

import time
from pathlib import Path

from renderer.layout import Layout, LayoutError

from ..config import GenerateConfig
from .base import FrameSource, SourceFrames


class LayoutSource(FrameSource):
    input = "layout"
    options = frozenset({"frames", "frames_from", "engine", "complete"})
    frames_from: str  # the GenerateConfig.frames_from this source serves

    def __init__(self, layout: Layout | None, prompt: str | None, config: GenerateConfig):
        super().__init__(layout, prompt, config)
        from ..lm import DEFAULT_CHECKPOINT, layout_for_prompt

        start = time.perf_counter()

        if layout is not None:
            self.layout, self.layout_model, self.ignored, self.warnings = layout, "given", [], []
            return
        if not prompt or not prompt.strip():
            raise LayoutError("a world needs a prompt or a layout")
        made = layout_for_prompt(prompt, config.engine, seed=config.seed, complete=config.complete)
        self.layout, self.ignored, self.warnings = made.layout, made.ignored, made.warnings
        self.layout_model = "rules" if made.engine == "rules" else f"lm ({Path(DEFAULT_CHECKPOINT).name})"
        self.timings_s["layout"] = round(time.perf_counter() - start, 3)

    @classmethod
    def claims(cls, value, config: GenerateConfig) -> bool:
        return config.frames_from == cls.frames_from

    def inputs(self) -> dict:
        return {"prompt": self.prompt, "layout": "given" if self.layout_model == "given" else None}

    def _result(self, frames, frames_model: str, **extra) -> SourceFrames:
        return SourceFrames(frames, layout=self.layout, caption=self.layout.caption, ignored_words=self.ignored,
                            warnings=list(self.warnings), models={"layout": self.layout_model, "frames": frames_model},
                            **extra)
