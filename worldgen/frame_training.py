"""The procedural engine wired into the frame model: training walks, training, evaluation walks.

Training worlds come from `ProcgenStream` (world seeds drawn below 2**31); evaluation worlds use
seeds from 2**31 up, so no held-out world can ever have been a training world.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset

from renderer.errors import ArgumentError
from rtfm.walks import Walk, walk_from_sample

from .config import DEFAULT_FRAME_MODEL, DEFAULT_TEXT_ENCODER  # noqa: F401  (re-exported)
from .models import text_states, write_model_index
from .procgen.dataset import ProcgenStream

HELD_OUT_SEED_BASE = 2**31
WALK_FRAMES = 16


class WalkStream(IterableDataset):
    """Endless training Walks: procedural sequences with their overlaps and caption states,
    prepared in the DataLoader worker (the text encoder is loaded there, once)."""

    def __init__(self, resolution: int, frames: int, seed: int, text_encoder: str | os.PathLike | None,
                 sim_to_real: bool = False):
        self.stream = ProcgenStream(resolution=resolution, frames=frames, seed=seed, threads=1, sim_to_real=sim_to_real)
        self.text_encoder = text_encoder

    def __iter__(self) -> Iterator[Walk]:
        torch.set_num_threads(1)
        text = text_states(self.text_encoder)
        for sample in self.stream:
            yield walk_from_sample(sample, text)


def training_walks(resolution: int = 64, frames: int = WALK_FRAMES, seed: int = 0, workers: int = 1,
                   text_encoder: str | os.PathLike | None = DEFAULT_TEXT_ENCODER, sim_to_real: bool = False) -> Iterator[Walk]:
    stream = WalkStream(resolution, frames, seed, text_encoder, sim_to_real)
    if workers == 0:
        return iter(stream)
    return iter(DataLoader(stream, batch_size=None, num_workers=workers, prefetch_factor=4,
                           persistent_workers=True))


def held_out_worlds(n: int, attempts: int = 20):
    """(seed, layout, MeshWorld, GuideRenderer) of held-out worlds (seeds 2**31 + i), scene types in turn,
    lazily: a caller that cannot use a world (no room for its path) takes the next one."""
    from renderer.guide import GuideRenderer

    from .procgen.composers import compose
    from .procgen.vocab import SCENE_TYPES
    from .procgen.world import build_world

    scene_types = list(SCENE_TYPES)
    for i in range(attempts * n):
        seed = HELD_OUT_SEED_BASE + i
        layout, _ = compose(scene_types[(i + 1) % len(scene_types)], seed)
        yield seed, layout, build_world(layout, seed), GuideRenderer(layout)
    raise RuntimeError(f"could not make {n} held-out worlds in {attempts * n} attempts")


def held_out_walks(n: int, resolution: int = 64, frames: int = WALK_FRAMES,
                   text_encoder: str | os.PathLike | None = DEFAULT_TEXT_ENCODER, path_kind: str = "walk") -> list[Walk]:
    """`n` walks of held-out worlds (seeds 2**31 + i), one per world, scene types in turn."""
    from .procgen.dataset import render_sequence
    from .procgen.paths import PathError, camera_path

    text = text_states(text_encoder)
    walks = []
    for seed, layout, world, guide in held_out_worlds(n):
        try:
            cams = camera_path(layout, path_kind, frames, width=resolution, height=resolution, fov_y_deg=70.0,
                               seed=seed)
        except PathError:
            continue
        seq = render_sequence(layout, world, cams, guide)
        walks.append(walk_from_sample(seq.to_tensors(), text))
        if len(walks) == n:
            return walks


def train_frame_model(out: str | os.PathLike, preset: str = "tiny", init: str | os.PathLike | None = None,
                      cfg=None, resolution: int | None = None, workers: int = 1,
                      text_encoder: str | os.PathLike | None = DEFAULT_TEXT_ENCODER, log=print,
                      warp_supersample: int | None = None, sim_to_real: bool = False) -> list[dict]:
    """`worldgen train rtfm`: train (or continue) a frame model on the procedural stream into `out`.
    warp_supersample: train on this memory warp (default: the checkpoint's or the preset's);
    sim_to_real: each walk through a drawn camera (`procgen.camera_effects`) at 20-90 degrees."""
    from renderer.layout import LABELS
    from rtfm.checkpoint import grow_resolution, load_frame_model, widen_labels, with_warp_supersample
    from rtfm.frame_model import FrameModel
    from rtfm.train_frames import FrameTrainConfig, stream_seed, train_frames

    cfg = cfg or FrameTrainConfig()
    model = load_frame_model(init) if init is not None else FrameModel.from_preset(preset)
    if model.cfg.num_labels < len(LABELS):  # a checkpoint from before the vocabulary grew learns the new kinds
        log(f"widening the label head from {model.cfg.num_labels} to {len(LABELS)} labels")
        model = widen_labels(model, len(LABELS))
    if resolution is not None and resolution != model.cfg.resolution:
        log(f"growing the frame model from {model.cfg.resolution}x{model.cfg.resolution} to {resolution}x{resolution} "
            f"(patches {model.cfg.patch} -> {model.cfg.patch * resolution // model.cfg.resolution} px)")
        model = grow_resolution(model, resolution)
    if warp_supersample is not None and warp_supersample != model.cfg.warp_supersample:
        log(f"memory warp: {model.cfg.warp_supersample} -> {warp_supersample} sub-pixels per pixel")
        model = with_warp_supersample(model, warp_supersample)
    res = model.cfg.resolution
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()

    def walks(rank: int, start: int) -> Iterator[Walk]:
        return training_walks(res, WALK_FRAMES, stream_seed(cfg.seed, rank, start), workers, text_encoder, sim_to_real)

    record = {"preset": preset if init is None else None, "init": None if init is None else str(init),
              "init_training": _training_record(init), "resolution": res, "walk_frames": WALK_FRAMES, "text_encoder": None if text_encoder is None else str(text_encoder),
              "parameters": sum(p.numel() for p in model.parameters()), "warp_supersample": model.cfg.warp_supersample,
              "sim_to_real": sim_to_real}
    if text_encoder is not None:  # the checkpoint names the text encoder it learns to read
        Path(out).mkdir(parents=True, exist_ok=True)
        write_model_index(out, text_encoder)
    return train_frames(model, walks, cfg, out, log=log, record=record)


def _training_record(init) -> dict | None:
    """The training record of the checkpoint a run starts from, kept inside the new one's."""
    from renderer.formats.base import read_json
    from rtfm.language.checkpoint import CheckpointError

    path = None if init is None else Path(init) / "training.json"
    return read_json(path, CheckpointError) if path is not None and path.exists() else None


def evaluate_frame_model(checkpoint: str | os.PathLike = DEFAULT_FRAME_MODEL, worlds: int = 24, resolution: int = 64,
                         per_walk: int = 4, steps: int = 4, guidance: float = 1.0, seed: int = 0,
                         text_encoder: str | os.PathLike | None = DEFAULT_TEXT_ENCODER, precision: str = "auto",
                         reference: str | os.PathLike | None = None) -> dict:
    """`worldgen eval rtfm`: the held-out protocol of `rtfm.evaluate` on `worlds` held-out worlds.
    reference: a smaller checkpoint sampled at its resolution and upsampled on the same targets
    (default: the shipped 64x64 model when `resolution` is larger than 64)."""
    from rtfm.checkpoint import load_frame_model
    from rtfm.evaluate import evaluate
    from rtfm.sampler import autocast_dtype

    device = "cuda" if torch.cuda.is_available() else "cpu"
    autocast_dtype(torch.device(device), precision)  # an unknown name fails before the walks are rendered
    model = load_frame_model(checkpoint, device)
    if reference is None and resolution > 64:
        reference = DEFAULT_FRAME_MODEL
    small = load_frame_model(reference, device) if reference is not None else None
    if small is not None and (resolution % small.cfg.resolution or small.cfg.resolution >= resolution):
        raise ArgumentError(f"{reference}: a {small.cfg.resolution}x{small.cfg.resolution} reference cannot be "
                            f"upsampled to {resolution}x{resolution} by a whole factor")
    walks = held_out_walks(worlds, resolution, WALK_FRAMES, text_encoder)
    result = evaluate(model, walks, per_walk=per_walk, steps=steps, guidance=guidance, seed=seed, precision=precision,
                      reference=small)
    return {**result, "checkpoint": str(checkpoint), "worlds": worlds, "model_resolution": model.cfg.resolution,
            "reference": None if reference is None else str(reference)}


def depth_from_image(path: str | os.PathLike, checkpoint: str | os.PathLike = DEFAULT_FRAME_MODEL,
                     fov_y_deg: float | None = None, max_side: int = 1024, seed: int = 0):
    """A photo -> (rgb [H, W, 3], metric depth [H, W] (0 = sky), its Camera at the origin looking
    along +X). The field of view is `fov_y_deg`, else EXIF's, else images.DEFAULT_FOV_Y_DEG."""
    from renderer.camera import Camera
    from rtfm.checkpoint import load_frame_model
    from rtfm.photo import photo_memory

    from .images import DEFAULT_FOV_Y_DEG, read_image

    rgb, _, exif_fov = read_image(path, max_side)
    h, w = rgb.shape[:2]
    camera = Camera.look_at([0.0, 0.0, 1.5], [1.0, 0.0, 1.5], width=w, height=h,
                            fov_y_deg=fov_y_deg or exif_fov or DEFAULT_FOV_Y_DEG)
    model = load_frame_model(checkpoint)
    _, depth = photo_memory(model, torch.from_numpy(rgb), camera, seed=seed)
    return rgb, depth.numpy(), camera
