"""`GenerateConfig`: how a world is made, validated once and passed whole to the API, the CLI,
batch jobs and the editor.

Two separate choices: where a prompt's or a layout's frames come from (`frames_from`: the
procedural engine's ray casting, or the frame model with its spatial memory; photos, videos and
panoramas always use the frame model) and how much effort goes into the world (`effort`: draft,
standard, high). Each effort names its frame count, lift size, lift time and flythrough size, and
what it costs on 2 CPU cores (`Effort.cost`, measured by bench/generate.py). Any field set by
hand overrides its effort's value; `explicit` records which were, so a source can refuse a setting
it cannot use instead of dropping it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from renderer.errors import ArgumentError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_FRAME_MODEL = ASSETS / "rtfm-tiny"
DEFAULT_TEXT_ENCODER = ASSETS / "lm-tiny"
FRAMES_FROM = ("procedural", "model")
ENGINES = ("auto", "lm", "rules")


class ConfigError(ArgumentError):
    """A generation setting that cannot be used (its name and value are in the message)."""


@dataclass(frozen=True)
class Effort:
    """One effort level: the numbers it sets, and what it costs and gives (README, bench/generate.py)."""

    frames: int  # frames lifted: made by the source (rendered, generated, or a capture's, sampled)
    resolution: int  # pixels: procedural frames' side; the lift's short side for every other source
    time_budget_s: float  # seconds of splat optimisation
    flythrough_size: int  # flythrough.mp4's longer side, pixels
    max_gaussians: int  # the splat cap densification stops at (`LiftConfig.max_gaussians`)
    generated: int  # views the frame model adds to a video, photo set or panorama
    cost: str  # what it takes on 2 CPU cores and what it gives


EFFORTS: dict[str, Effort] = {
    "draft": Effort(frames=40, resolution=256, time_budget_s=22.0, flythrough_size=512, max_gaussians=200_000, generated=8,
                    cost="a prompt world in 50 s on 2 CPU cores (53 s through the frame model), 1.1 GB; "
                         "held-out PSNR 32.6 dB (bench/generate.py)"),
    "standard": Effort(frames=64, resolution=320, time_budget_s=90.0, flythrough_size=640, max_gaussians=500_000,
                       generated=16,
                       cost="a prompt world in 141 s on 2 CPU cores, 1.6 GB; held-out PSNR 32.9 dB"),
    "high": Effort(frames=96, resolution=384, time_budget_s=300.0, flythrough_size=768, max_gaussians=2_000_000,
                   generated=24,
                   cost="a prompt world in 448 s on 2 CPU cores, 3.0 GB; held-out PSNR 35.5 dB"),
}


@dataclass(frozen=True)
class GenerateConfig:
    """How to make a world. `GenerateConfig.preset("standard", seed=3)` or `GenerateConfig(effort=...)`;
    fields left None take the effort's value (`value`)."""

    effort: str = "draft"
    frames_from: str = "procedural"  # prompt / layout frames: "procedural" or "model"
    seed: int = 0
    frames: int | None = None
    resolution: int | None = None
    time_budget_s: float | None = None
    lift_steps: int | None = None  # lift exactly this many steps (the same world on any machine) instead of a budget
    flythrough: bool = True
    flythrough_size: int | None = None
    max_gaussians: int | None = None
    generated: int | None = None
    device: str | None = None  # the frame model's; None: CUDA when there is one
    frame_model: Path = DEFAULT_FRAME_MODEL
    engine: str = "auto"  # text -> layout: lm, rules or auto
    complete: bool = True  # add what a prompt's scene type plausibly holds
    fov_y_deg: float | None = None  # a photo's or video's vertical field of view (default: EXIF, else 60)
    explicit: frozenset = field(default=frozenset(), compare=False)  # fields set by hand (`with_options`)

    def __post_init__(self):
        if self.effort not in EFFORTS:
            raise ConfigError(f"effort must be one of {', '.join(EFFORTS)}, got {self.effort!r}")
        if self.frames_from not in FRAMES_FROM:
            raise ConfigError(f"frames_from must be one of {', '.join(FRAMES_FROM)}, got {self.frames_from!r}")
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        _integer("seed", self.seed, 0, 2**32 - 1)
        for name, lo, hi in (("frames", 2, 2000), ("resolution", 8, 4096), ("lift_steps", 1, 10**6),
                             ("flythrough_size", 16, 4096), ("generated", 0, 1000), ("max_gaussians", 1000, 50_000_000)):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), lo, hi)
        for name, lo, hi in (("time_budget_s", 0.1, 10**6), ("fov_y_deg", 1.0, 179.0)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or not lo <= value <= hi):
                raise ConfigError(f"{name} must be a number in {lo}..{hi}, got {value!r}")
        for name in ("flythrough", "complete"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.device is not None and not isinstance(self.device, str):
            raise ConfigError(f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}")
        if not isinstance(self.frame_model, (str, os.PathLike)):
            raise ConfigError(f"frame_model must be a checkpoint folder, got {self.frame_model!r}")
        object.__setattr__(self, "frame_model", Path(self.frame_model))

    @classmethod
    def preset(cls, effort: str = "draft", **options) -> "GenerateConfig":
        return cls(effort=effort).with_options(**options)

    def with_options(self, **options) -> "GenerateConfig":
        """A copy with `options` (field names) set, each recorded as explicit; None leaves a field as it
        is. An unknown name is refused, never dropped."""
        names = {f.name for f in dataclasses.fields(self)} - {"explicit"}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ConfigError(f"unknown generation option(s) {', '.join(map(repr, unknown))}; "
                              f"known: {', '.join(sorted(names))}")
        given = {k: v for k, v in options.items() if v is not None}
        return dataclasses.replace(self, **given, explicit=self.explicit | (set(given) - {"effort"}))

    @property
    def level(self) -> Effort:
        return EFFORTS[self.effort]

    def value(self, name: str):
        """A numeric setting: the one set by hand, else the effort's."""
        own = getattr(self, name)
        return own if own is not None else getattr(self.level, name)

    def resolved_device(self) -> str:
        if self.device is not None:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def to_dict(self) -> dict:
        """What world.json records: every setting with its effective value."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "explicit"}
        for name in ("frames", "resolution", "time_budget_s", "flythrough_size", "max_gaussians", "generated"):
            out[name] = self.value(name)
        out["frame_model"] = str(self.frame_model)
        out["explicit"] = sorted(self.explicit)
        return out


def _integer(name: str, value, lo: int, hi: int) -> None:
    if type(value) is not int or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
