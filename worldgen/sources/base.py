"""What every frame source is and gives (one module per input, as nerfstudio has one dataparser per
capture format): `FrameSource` reads and validates its input when it is made, before any world
folder exists; `frames(context)` then gives `SourceFrames`, which `worldgen.build.build_world`
lifts and writes."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from renderer.errors import ArgumentError
from renderer.layout import Layout

from ..config import GenerateConfig
from ..frames import PosedFrames

FrameCallback = Callable[[int, int, np.ndarray], None]  # (index, total, rgb [H, W, 3] float32)
# settings every source uses
COMMON_OPTIONS = frozenset({"effort", "seed", "resolution", "time_budget_s", "lift_steps", "flythrough",
                            "flythrough_size", "max_gaussians", "device"})
MODEL_OPTIONS = frozenset({"frame_model"})  # sources that run the frame model
CAPTURE_OPTIONS = MODEL_OPTIONS | {"fov_y_deg", "generated"}  # photos, videos, panoramas


class SourceError(ArgumentError):
    """An input or a setting a frame source cannot use; the message names it."""


@dataclass
class SourceFrames:
    """What a source hands the lift: posed frames at their lift size, and what else the world keeps."""

    frames: PosedFrames
    memory: Any = None  # rtfm.memory.SpatialMemory the frame model filled (saved as memory/), or None
    init_points: tuple[np.ndarray, np.ndarray] | None = None  # (xyz [N, 3], rgb [N, 3]) to start the lift from
    refine_poses: bool = False  # estimated poses, refined with the splats
    layout: Layout | None = None  # saved as layout.json
    caption: str | None = None
    section: dict = field(default_factory=dict)  # the source's own part of world.json ("source")
    models: dict = field(default_factory=dict)  # component -> what made it ("layout", "frames", "poses", ...)
    warnings: list[str] = field(default_factory=list)
    ignored_words: list[str] = field(default_factory=list)


@dataclass
class BuildContext:
    """What a source may use while it makes frames: the settings, a stage clock, a per-frame callback."""

    config: GenerateConfig
    timed: Callable[[str], None]
    on_frame: FrameCallback | None = None
    text_encoder: Path | None = None  # the text encoder `text_states` read a prompt with, for world.json

    def frame_model(self):
        from ..models import frame_model

        return frame_model(self.config.frame_model, self.config.resolved_device())

    def text_states(self, prompt: str | None) -> torch.Tensor | None:
        """The prompt as the frame model's text encoder reads it (the one its checkpoint names)."""
        from ..models import text_encoder_of, text_states

        if not prompt:
            return None
        self.text_encoder = text_encoder_of(self.config.frame_model)
        return text_states(self.text_encoder)(prompt)

    def report(self, frames, total: int, start: int = 0) -> list:
        """The frames of a generator, collected, each shown to on_frame(start + i, total, rgb) as it comes."""
        made = []
        for frame in frames:
            made.append(frame)
            if self.on_frame is not None:
                self.on_frame(start + len(made) - 1, total, frame.rgb.cpu().numpy())
        return made


class FrameSource(ABC):
    """One kind of input. Subclasses set:
    kind: the registry name, recorded in world.json as source.kind;
    input: the `worldgen.generate` argument it reads ("layout" sources also read a prompt alone);
    options: the GenerateConfig fields it uses beyond COMMON_OPTIONS (any other set by hand is refused).
    `__init__(value, prompt, config)` reads and validates everything before a folder exists."""

    kind: ClassVar[str]
    input: ClassVar[str]
    options: ClassVar[frozenset] = frozenset()

    def __init__(self, value, prompt: str | None, config: GenerateConfig):
        unused = sorted(config.explicit - COMMON_OPTIONS - self.options)
        if unused:
            raise SourceError(f"{self.describe(value)}: {', '.join(unused)} cannot be used with a {self.kind} world")
        self.prompt, self.config = prompt, config
        self.timings_s: dict[str, float] = {}  # stages run before the world folder exists (reading, posing)

    @classmethod
    def claims(cls, value, config: GenerateConfig) -> bool:
        """Whether this source reads `value` given for its input (several sources share an input)."""
        return True

    @classmethod
    def describe(cls, value) -> str:
        return str(value) if isinstance(value, (str, os.PathLike)) else f"the {cls.input}"

    @abstractmethod
    def inputs(self) -> dict:
        """world.json's "inputs": what the user gave, as paths and text."""

    @abstractmethod
    def frames(self, context: BuildContext) -> SourceFrames:
        """Make or read the posed frames."""
