"""Procedural training data: compose a world, render posed RGB-D + label sequences with guides.

`ProcgenStream` is an endless torch `IterableDataset`; each DataLoader worker gets its own
seed stream (base seed, worker id), so workers never repeat each other and a run is
reproducible. `render_sequence` is the one function that turns (layout, world, path) into
arrays; the CLI's dataset writer and the stream both use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from renderer.camera import Camera
from renderer.errors import ArgumentError
from renderer.guide import GuideRenderer
from renderer.layout import Layout
from renderer.raycast import MeshWorld, raycast

from .camera_effects import FOV_RANGE_DEG, CameraEffects
from .composers import compose
from .paths import PATH_KINDS, FreeSpace, PathError, camera_path
from .vocab import SCENE_TYPES
from .world import build_world


@dataclass
class Sequence:
    """One posed frame sequence: rgb [M, H, W, 3] float32, depth [M, H, W] float32 (metric z),
    label / instance [M, H, W] int32, K [M, 3, 3], c2w [M, 4, 4] (OpenCV), and the layout's guide
    render at the same cameras: guide_rgb, guide_depth, guide_label."""

    layout: Layout
    cameras: list[Camera]
    rgb: np.ndarray
    depth: np.ndarray
    label: np.ndarray
    instance: np.ndarray
    guide_rgb: np.ndarray
    guide_depth: np.ndarray
    guide_label: np.ndarray

    def to_tensors(self) -> dict:
        return {
            "caption": self.layout.caption,
            "layout": self.layout.to_json(indent=None),
            "rgb": torch.from_numpy(self.rgb), "depth": torch.from_numpy(self.depth),
            "label": torch.from_numpy(self.label).long(), "instance": torch.from_numpy(self.instance).long(),
            "K": torch.stack([c.K for c in self.cameras]), "c2w": torch.stack([c.c2w for c in self.cameras]),
            "guide_rgb": torch.from_numpy(self.guide_rgb), "guide_depth": torch.from_numpy(self.guide_depth),
            "guide_label": torch.from_numpy(self.guide_label).long(),
        }


def render_sequence(layout: Layout, world: MeshWorld, cameras: list[Camera], guide: GuideRenderer | None = None,
                    shadows: bool = True) -> Sequence:
    guide = guide or GuideRenderer(layout)
    frames = [raycast(world, c, shadows=shadows) for c in cameras]
    guides = [guide.render(c) for c in cameras]
    stack = lambda key, src: np.stack([f[key] for f in src])  # noqa: E731
    return Sequence(layout, cameras, stack("rgb", frames), stack("depth", frames), stack("label", frames),
                    stack("instance", frames), stack("rgb", guides), stack("depth", guides), stack("label", guides))


class ProcgenStream(IterableDataset):
    """Endless (layout, caption, posed RGB-D + label sequence, guides) samples.

    Each composed world yields `sequences_per_world` sequences along different paths, so the
    cost of building a world is shared. `threads` is the ray-casting thread count per worker
    (1 when there is one worker per core).
    """

    def __init__(self, resolution: int = 64, frames: int = 8, seed: int = 0, scene_types=None, path_kinds=PATH_KINDS,
                 sequences_per_world: int = 4, fov_y_deg: float = 70.0, shadows: bool = True, threads: int = 0,
                 sim_to_real: bool = False):
        if resolution < 8 or frames < 1:
            raise ArgumentError(f"resolution must be >= 8 and frames >= 1, got {resolution}, {frames}")
        self.scene_types = list(scene_types or SCENE_TYPES)
        unknown = set(self.scene_types) - set(SCENE_TYPES)
        if unknown:
            raise ArgumentError(f"unknown scene types {sorted(unknown)}; choose from {', '.join(SCENE_TYPES)}")
        self.resolution, self.frames, self.seed = resolution, frames, seed
        bad_paths = set(path_kinds or ()) - set(PATH_KINDS)
        if bad_paths or not path_kinds:
            raise ArgumentError(f"unknown path kinds {sorted(bad_paths)}; choose from {', '.join(PATH_KINDS)}")
        self.path_kinds, self.sequences_per_world = list(path_kinds), sequences_per_world
        self.fov, self.shadows, self.threads = fov_y_deg, shadows, threads
        # each sequence through its own camera (`CameraEffects`), at a field of view from FOV_RANGE_DEG
        self.sim_to_real = sim_to_real

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info is not None else 0
        rng = np.random.default_rng([self.seed, worker])
        while True:
            world_seed = int(rng.integers(2**31))
            layout, _ = compose(str(rng.choice(self.scene_types)), world_seed)
            world = build_world(layout, world_seed)
            world.threads = self.threads
            guide = GuideRenderer(layout)
            guide.world.threads = self.threads
            free = FreeSpace(layout)
            for _ in range(self.sequences_per_world):
                kind = str(rng.choice(self.path_kinds))
                fov = float(rng.uniform(*FOV_RANGE_DEG)) if self.sim_to_real else self.fov
                try:
                    cams = camera_path(layout, kind, self.frames, width=self.resolution, height=self.resolution,
                                       fov_y_deg=fov, seed=int(rng.integers(2**31)), free=free)
                except PathError:
                    continue  # a cramped layout: try another path (or the next world)
                seq = render_sequence(layout, world, cams, guide, shadows=self.shadows)
                if self.sim_to_real:
                    effects = CameraEffects.draw(rng)
                    seq.rgb = np.stack([effects.apply(frame, rng) for frame in seq.rgb])
                sample = seq.to_tensors()
                sample["path"], sample["seed"] = kind, world_seed
                yield sample


def write_dataset(out, worlds: int, frames: int, resolution: int, seed: int = 0, scene_types=None,
                  path_kinds=PATH_KINDS, log=None) -> list:
    """`worldgen procgen`: `worlds` folders OUT/world_00000/... of the training stream's own samples
    (one sequence per world): layout.json and a transforms.json folder of RGB, depth and labels."""
    import json
    from pathlib import Path

    from ..frames import PosedFrames, write_transforms

    stream = ProcgenStream(resolution, frames, seed, scene_types, path_kinds or PATH_KINDS, sequences_per_world=1)
    folders = []
    for i, sample in zip(range(worlds), stream):
        layout = Layout.from_dict(json.loads(sample["layout"]), "stream layout")
        cams = [Camera(K, c2w, resolution, resolution) for K, c2w in zip(sample["K"], sample["c2w"])]
        folder = Path(out) / f"world_{i:05d}"
        layout.save(folder / "layout.json")
        write_transforms(folder, PosedFrames(cams, sample["rgb"].numpy(), [], sample["depth"].numpy(),
                                             sample["label"].numpy().astype(np.int32)),
                         extra={"caption": layout.caption, "seed": sample["seed"], "path": sample["path"]})
        folders.append(folder)
        if log:
            log(f"{folder}: {layout.caption}")
    return folders
