"""`worldgen eval consistency`: how well rollouts with spatial memory hold a held-out world together.

Every measure runs on held-out procedural worlds (seeds from 2**31, never trained on), with the
layout's guide render at each camera and the caption and layout as condition, as a world made
from a prompt is; each is also run with memory switched off (k = 0). See `rtfm.consistency` for
the definitions. Image -> world: the ground-truth frame of the world at a camera is the photo
(RGB only); the world lifted from it and the views generated around it is rendered at held-out
cameras turned 10-30 degrees from the photo's, against ground truth, beside the baseline of
lifting the photo alone with its predicted depth (the same lift budget).
"""

from __future__ import annotations

import os
import time

import torch

from renderer.camera import Camera
from renderer.errors import ArgumentError
from renderer.lift import LiftConfig, lift
from renderer.raster import render
from rtfm.rollout import SNAP_TOLERANCE

from .frame_training import DEFAULT_FRAME_MODEL, DEFAULT_TEXT_ENCODER, held_out_worlds, text_states

HELDOUT_TURNS_DEG = (-30.0, -20.0, -10.0, 10.0, 20.0, 30.0)


class HeldOutWorld:
    """One held-out world: ground truth and guide at any camera, and its condition."""

    def __init__(self, seed, layout, mesh_world, guide, text):
        from rtfm.inputs import Condition, layout_grid

        self.seed, self.layout, self.mesh_world, self.guide_renderer = seed, layout, mesh_world, guide
        caption = layout.caption
        self.condition = Condition(text=text(caption) if text is not None and caption else None,
                                   layout=layout_grid(layout, (16, 16, 8)))

    def truth(self, cameras):
        from renderer.raycast import raycast
        from rtfm.inputs import MemoryFrame

        out = []
        for cam in cameras:
            r = raycast(self.mesh_world, cam)
            out.append(MemoryFrame(cam, torch.from_numpy(r["rgb"]).float(), torch.from_numpy(r["depth"]).float(),
                                   torch.from_numpy(r["label"]).long()))
        return out

    def guide(self, camera):
        return self.guide_renderer.render(camera)

    def path(self, kind: str, n: int, size: int):
        from .procgen.paths import camera_path

        return camera_path(self.layout, kind, n, width=size, height=size, fov_y_deg=70.0, seed=self.seed)


def held_out_cases(n: int, text, size: int, lengths: dict[str, tuple[str, int]]):
    from .procgen.paths import PathError

    worlds = []
    for seed, layout, mesh_world, guide in held_out_worlds(n):
        w = HeldOutWorld(seed, layout, mesh_world, guide, text)
        try:  # every world must hold all the paths the protocol walks
            w.paths = {name: w.path(kind, frames, size) for name, (kind, frames) in lengths.items()}
        except PathError:
            continue
        worlds.append(w)
        if len(worlds) == n:
            return worlds


def _mean(values) -> float:
    v = [x for x in values if x == x]
    return round(sum(v) / len(v), 4) if v else float("nan")


def _turned(camera: Camera, deg: float) -> Camera:
    from rtfm.session import moved

    return moved(camera, "turn", deg)


def _lifted_psnr(frames, truth, budget_s: float, seed: int) -> float:
    from rtfm.evaluate import psnr

    result = lift(frames.cameras, torch.from_numpy(frames.images), torch.from_numpy(frames.depths),
                  torch.from_numpy(frames.labels), LiftConfig(iterations=100_000, time_budget_s=budget_s, seed=seed))
    with torch.no_grad():
        return _mean(psnr(render(result.scene, t.camera, with_labels=False).rgb[0], t.rgb) for t in truth)


def image_to_world_psnr(model, world: HeldOutWorld, photo_size: int, frames: int, budget_s: float, seed: int) -> dict:
    """Held-out PSNR of the world lifted from one ground-truth RGB frame, and of the photo alone."""
    from .config import GenerateConfig
    from .frames import PosedFrames
    from .sources.base import BuildContext
    from .sources.photo import photo_frames

    cam = world.paths["walk"][0].scaled(photo_size, photo_size)
    photo = world.truth([cam])[0]
    heldout = world.truth([_turned(cam, d) for d in HELDOUT_TURNS_DEG])
    context = BuildContext(GenerateConfig(seed=seed), timed=lambda stage: None)
    posed, _ = photo_frames(model, photo.rgb, cam, context, world.condition.text, frames, photo_size)
    alone = PosedFrames(posed.cameras[:1], posed.images[:1], posed.names[:1], posed.depths[:1], posed.labels[:1])
    return {"with_generated": _lifted_psnr(posed, heldout, budget_s, seed),
            "photo_alone": _lifted_psnr(alone, heldout, budget_s, seed)}


def evaluate_consistency(checkpoint: str | os.PathLike = DEFAULT_FRAME_MODEL, worlds: int = 4, drift_worlds: int = 2,
                         resolution: int = 64, loop_frames: int = 16, rollout_frames: int = 32, drift_frames: int = 200,
                         image_frames: int = 16, image_size: int = 128, lift_budget_s: float = 15.0, seed: int = 0,
                         snap: float | None = SNAP_TOLERANCE,
                         text_encoder: str | os.PathLike | None = DEFAULT_TEXT_ENCODER, log=None,
                         voxel_memory: bool = False) -> dict:
    """The JSON of `worldgen eval consistency` (keys as in the issue, each with its no-memory ablation;
    with `voxel_memory`, also each memory key with a hashed voxel memory beside the frames, suffix
    "_voxel_memory")."""
    from rtfm import consistency as C
    from rtfm.checkpoint import load_frame_model

    t0 = time.perf_counter()
    if drift_worlds > worlds:
        raise ArgumentError(f"drift_worlds ({drift_worlds}) cannot exceed worlds ({worlds})")
    model = load_frame_model(checkpoint, "cuda" if torch.cuda.is_available() else "cpu")
    lengths = {"loop": ("loop", loop_frames), "walk": ("walk", rollout_frames), "drift": ("walk", drift_frames)}
    cases = held_out_cases(worlds, text_states(text_encoder), resolution, lengths)
    r: dict[str, list] = {}
    variants = [(True, False, ""), (False, False, "_no_memory")] + ([(True, True, "_voxel_memory")] if voxel_memory else [])
    add = lambda key, value: r.setdefault(key, []).append(value)  # noqa: E731
    for i, w in enumerate(cases):
        start, truth_walk = w.truth(w.paths["loop"][:1])[0], w.truth(w.paths["walk"])
        truth_drift = w.truth(w.paths["drift"]) if i < drift_worlds else None
        for memory, voxels, suffix in variants:
            kw = dict(snap=snap, voxels=voxels)
            looped = C.walk_frames(model, w.paths["loop"], start if memory else None, w.condition, w.guide, memory, seed, **kw)
            add("revisit_psnr_db" + suffix, C.revisit_psnr(looped))
            walked = C.walk_frames(model, w.paths["walk"], truth_walk[0], w.condition, w.guide, memory, seed, **kw)
            add("rollout_psnr_db" + suffix, _mean(C.psnr_by_frame(walked[1:], truth_walk[1:])))
            add("reprojection_error_px" + suffix, C.mean_reprojection_error(walked[1:]))
            if truth_drift is not None:
                drifted = C.walk_frames(model, w.paths["drift"], truth_drift[0], w.condition, w.guide, memory, seed, **kw)
                add("drift" + suffix, C.psnr_by_frame(drifted[1:], truth_drift[1:]))
        add("reprojection_error_px_ground_truth", C.mean_reprojection_error(truth_walk[1:]))
        i2w = image_to_world_psnr(model, w, image_size, image_frames, lift_budget_s, seed)
        add("image_to_world_heldout_psnr_db", i2w["with_generated"])
        add("image_to_world_heldout_psnr_db_photo_alone", i2w["photo_alone"])
        if log:
            log(f"world {i + 1}/{len(cases)} ({w.layout.shell.kind}, seed {w.seed}): "
                f"revisit {r['revisit_psnr_db'][-1]:.2f} / {r['revisit_psnr_db_no_memory'][-1]:.2f} dB, "
                f"image->world {i2w['with_generated']:.2f} vs {i2w['photo_alone']:.2f} dB, "
                f"{time.perf_counter() - t0:.0f}s")
    out = {k: _mean(v) for k, v in r.items() if not k.startswith("drift")}
    for suffix in (v[2] for v in variants) if drift_worlds else ():
        curves = r["drift" + suffix]
        out["drift_psnr_db_by_frame" + suffix] = [_mean(c[j] for c in curves) for j in range(len(curves[0]))]
    out.update(worlds=len(cases), drift_worlds=drift_worlds, resolution=resolution, loop_frames=loop_frames,
               rollout_frames=rollout_frames, drift_frames=drift_frames, image_size=image_size,
               image_frames=image_frames, lift_budget_s=lift_budget_s, heldout_turns_deg=list(HELDOUT_TURNS_DEG),
               checkpoint=str(checkpoint), snap_tolerance=snap, voxel_memory=voxel_memory,
               conditions="layout guide, caption, layout tokens",
               seconds=round(time.perf_counter() - t0, 1))
    return out
