"""world.json as a typed, versioned `WorldManifest`: the same keys for every source.

Version 2 (this one) writes every key for every world, None or empty where a source has nothing
to say. Version 1 folders (written before the frame sources) load: their missing keys take their
defaults, their source-specific sections ("camera", "video", "sfm") move under "source_info", and
`upgrade` says what it filled in (logged as a warning by `worldgen.load_world`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

WORLD_VERSION = 2
READABLE_VERSIONS = (1, 2)
# what follows the scene: marked stale by whatever rewrites the scene (`WorldWriter.scene_changed`),
# rebuilt from it by `worldgen.pipeline.refresh_derived`
DERIVED = ("mesh", "collider", "flythrough", "metrics")
# version 1's per-source top-level sections, gathered under source_info
V1_SOURCE_SECTIONS = ("camera", "video", "sfm", "quality")


@dataclass
class WorldManifest:
    """Everything world.json says. The build writes the first group; the lift, edits and exploring
    the rest (`files`, `metrics`, `lift`, `mesh`, `sky`, `cameras`, `stale`, `edits`, `expansions`)."""

    source: str | None = None  # the frame source's registry name (worldgen.sources.SOURCES)
    inputs: dict = field(default_factory=dict)  # what the user gave: prompt, image(s), video, pano, layout
    seed: int = 0
    config: dict = field(default_factory=dict)  # GenerateConfig.to_dict(): every setting's effective value
    models: dict = field(default_factory=dict)  # layout, frames, poses, text_encoder: what made each
    caption: str | None = None
    source_info: dict = field(default_factory=dict)  # the source's own section (camera, capture, SfM, ring)
    warnings: list = field(default_factory=list)
    ignored_words: list = field(default_factory=list)
    files: dict = field(default_factory=dict)  # key -> file name inside the world folder
    timings_s: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    lift: dict | None = None
    mesh: dict | None = None
    sky: dict | None = None
    cameras: list = field(default_factory=list)
    stale: list = field(default_factory=list)  # derived files (mesh, collider, flythrough, metrics) older than the scene
    edits: dict | None = None
    expansions: list = field(default_factory=list)
    version: int = WORLD_VERSION
    created: str | None = None

    def sections(self) -> dict:
        """The keys a build sets (files, timings and what the lift writes are the writer's)."""
        own = ("source", "inputs", "seed", "config", "models", "caption", "source_info", "warnings", "ignored_words")
        return {k: getattr(self, k) for k in own}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "WorldManifest":
        """A checked manifest (`upgrade` first for an older version) as a WorldManifest; unknown keys are dropped."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


def upgrade(raw: dict) -> tuple[dict, list[str]]:
    """A manifest of any readable version as this version's keys, and what had to be filled in."""
    out, filled = dict(raw), []
    if raw.get("version") == 1:
        info = {k: out.pop(k) for k in V1_SOURCE_SECTIONS if k in out}
        out["source_info"] = info
        out["source"] = _v1_source(raw)
        out["version"] = WORLD_VERSION
        filled.append(f"version 1 manifest: source {out['source']!r} inferred, {', '.join(info) or 'no'} section(s) "
                      "moved under source_info")
    defaults = WorldManifest().to_dict()
    missing = sorted(k for k in defaults if k not in out)
    for key in missing:
        out[key] = defaults[key]
    if missing:
        filled.append(f"missing keys filled with defaults: {', '.join(missing)}")
    return out, filled


def _v1_source(raw: dict) -> str | None:
    inputs = raw.get("inputs") if isinstance(raw.get("inputs"), dict) else {}
    if "video" in inputs:
        return "video"
    if "images" in inputs:
        return "photos"
    if "image" in inputs:
        return "photo"
    if raw.get("quality") == "full":
        return "layout-model"
    return "procedural" if "prompt" in inputs or "layout" in (raw.get("files") or {}) else None
