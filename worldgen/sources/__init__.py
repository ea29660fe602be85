"""Frame sources: one module per kind of input, one registration line each.

`source_for(inputs, prompt, config)` picks the registered source that reads the input given
(`FrameSource.input`, and `claims` where several read one input) and makes it, which reads and
validates the input before any world folder exists; `worldgen.build.build_world` does the rest.
"""

from __future__ import annotations

from ..config import GenerateConfig
from .base import BuildContext, FrameSource, SourceError, SourceFrames
from .capture import PhotoSetSource, PosedCaptureSource, VideoSource
from .layout_model import LayoutModelSource
from .pano import PanoSource
from .photo import PhotoSource
from .procedural import ProceduralSource

SOURCES: dict[str, type[FrameSource]] = {}


def register(cls: type[FrameSource]) -> type[FrameSource]:
    if cls.kind in SOURCES:
        raise ValueError(f"a frame source named {cls.kind!r} is registered already")
    SOURCES[cls.kind] = cls
    return cls


register(ProceduralSource)
register(LayoutModelSource)
register(PhotoSource)
register(PhotoSetSource)
register(VideoSource)
register(PosedCaptureSource)
register(PanoSource)


def inputs_of() -> list[str]:
    """The `generate` arguments some source reads, in registration order."""
    return list(dict.fromkeys(cls.input for cls in SOURCES.values()))


def source_for(inputs: dict, prompt: str | None, config: GenerateConfig) -> FrameSource:
    """The source for the one input given (a prompt alone is a layout source's input)."""
    unknown = sorted(set(inputs) - set(inputs_of()))
    if unknown:
        raise SourceError(f"no frame source reads {', '.join(unknown)}; inputs: {', '.join(inputs_of())}")
    given = {k: v for k, v in inputs.items() if v is not None}
    if len(given) > 1:
        raise SourceError(f"give one input of {', '.join(inputs_of())}, not {' and '.join(given)}")
    if not given and prompt is None:
        raise SourceError(f"a world needs a prompt or one input of {', '.join(inputs_of())}")
    key, value = next(iter(given.items())) if given else ("layout", None)
    for cls in SOURCES.values():
        if cls.input == key and cls.claims(value, config):
            return cls(value, prompt, config)
    raise SourceError(f"no frame source reads this {key} with frames_from={config.frames_from!r}")


__all__ = ["SOURCES", "BuildContext", "FrameSource", "SourceError", "SourceFrames", "register", "source_for", "inputs_of"]
