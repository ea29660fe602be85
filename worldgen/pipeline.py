"""The back half of every world: posed frames -> world files (lift, mesh, flythrough, metrics), and
rebuilding what follows the scene after it changes. Each stage's seconds go into world.json. The front half is a frame source
(`worldgen.sources`), joined to this by `worldgen.build.build_world`."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from renderer import Camera, GaussianScene, render, save_scene
from renderer.lift import LiftConfig, camera_spread, evaluate, lift
from renderer.mesh import save_glb, simplify, tsdf_mesh
from renderer.pose_refine import refine_pose
from renderer.sky import save_sky_png, shell_mask
from .frames import PosedFrames
from .manifest import DERIVED
from .flythrough import flythrough_frames, write_video
from .world import World, WorldWriter

HOLDOUT_EVERY = 8
TRIANGULATE_EXHAUSTIVE_UP_TO = 150  # posed captures need not be in order: match all pairs up to this many frames

log = logging.getLogger(__name__)


def split_holdout(n: int, every: int = HOLDOUT_EVERY) -> tuple[list[int], list[int]]:
    """Every `every`-th frame (starting at every // 2) is held out for metrics."""
    test = list(range(every // 2, n, every)) if n >= every else []
    train = [i for i in range(n) if i not in set(test)]
    return train, test


def initial_points(frames: PosedFrames, train: list[int]) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
    """Points to start a lift from when the frames have no depth: triangulated by pycolmap from the
    training frames with their given poses (as 3DGS starts from COLMAP's points). -> ((xyz [N, 3],
    rgb [N, 3]) or None, how the lift starts). Falls back to random points with a logged warning."""
    from .sfm import SfMError, triangulate

    if frames.depths is not None and bool((np.isfinite(frames.depths) & (frames.depths > 0)).any()):
        return None, "depth"
    if len(train) < 3:
        return None, "random (fewer than 3 training frames to triangulate)"
    try:
        xyz, rgb = triangulate([frames.cameras[i] for i in train], frames.images[train],
                               sequential=len(train) > TRIANGULATE_EXHAUSTIVE_UP_TO)
    except SfMError as e:
        log.warning("lifting from random points: %s", e)
        return None, f"random (triangulation failed: {e})"
    return (xyz, rgb), f"triangulated ({len(xyz)} points)"


def lift_to_world(frames: PosedFrames, out: str | os.PathLike, *, config: LiftConfig, writer: WorldWriter | None = None,
                  overwrite: bool = False, progress: bool = True, mesh_voxel: float | None = None,
                  flythrough: bool = True, init_points: tuple[np.ndarray, np.ndarray] | None = None,
                  flythrough_size: int = 160) -> Path:
    """Lift posed frames into a world folder: scene.ply, mesh.glb, collider.glb, flythrough, metrics.
    With a `writer` (a larger pipeline's), the files join its world and the caller commits.
    init_points (xyz [N, 3], rgb [N, 3]): points to start from where frames have no depth; when
    no frame has depth and none are given, they are triangulated from the training frames."""
    own = writer is None
    writer = writer or WorldWriter(out, overwrite=overwrite)
    with writer if own else contextlib.nullcontext():  # its own writer is aborted on any failure
        train, test = split_holdout(len(frames))
        images = torch.from_numpy(frames.images)
        depths = None if frames.depths is None else torch.from_numpy(frames.depths)
        labels = None if frames.labels is None else torch.from_numpy(frames.labels)
        cams = frames.cameras
        if init_points is not None:
            start = f"given points ({len(init_points[0])})"
        else:
            init_points, start = initial_points(frames, train)
            if start.startswith(("triangulated", "random (triangulation")):
                writer.timed("triangulate")
        points = None if init_points is None else tuple(torch.as_tensor(a, dtype=torch.float32) for a in init_points)
        result = lift([cams[i] for i in train], images[train], None if depths is None else depths[train],
                      None if labels is None else labels[train], config, progress=progress, init_points=points)
        scene = result.scene
        if result.cameras is not None:  # refined with the splats: the world keeps the refined poses
            cams = list(cams)
            for k, i in enumerate(train):
                cams[i] = result.cameras[k]
        writer.timed("lift")
        save_scene(scene, writer.add("scene", "scene.ply"))
        body = scene  # the scene without its sky shell: what the mesh and its voxel size are made of
        if result.sky is not None:  # the fitted sky itself, for viewers that take an environment map
            save_sky_png(result.sky, writer.add("sky", "sky.png"))
            shell = shell_mask(scene)
            body = scene.subset(~shell)
            writer.manifest["sky"] = {"file": "sky.png", "projection": "equirectangular (row 0 = zenith, column 0 = "
                                      "azimuth -180 degrees about +Z)", "shell_gaussians": int(shell.sum())}
        if test:
            if config.refine_poses:  # held-out poses come from the same estimate: align them too
                spread = camera_spread([cams[i] for i in train])
                for i in test:
                    cams[i] = refine_pose(scene, cams[i], images[i], translation_scale=spread)
            write_metrics(writer, scene, cams, frames.images, test)
            if config.refine_poses:
                writer.manifest["metrics"]["heldout_poses"] = "aligned to the scene (renderer.pose_refine.refine_pose)"
        writer.manifest["lift"] = {"steps": result.steps, "seconds": round(result.seconds, 2), "stopped_by": result.stopped_by,
                                   "gaussians": len(scene), "init": start, "config": asdict(config)}
        writer.timed("metrics")
        write_mesh(writer, body, cams, frames.images, frames.depths, mesh_voxel)
        writer.timed("mesh")
        if flythrough:
            write_flythrough(writer, scene, cams, flythrough_size)
            writer.timed("flythrough")
        writer.manifest["cameras"] = [c.to_dict() for c in cams]
        return writer.commit() if own else writer.out


def write_mesh(writer: WorldWriter, body: GaussianScene, cams: list[Camera], images: np.ndarray | None = None,
               depths: np.ndarray | None = None, voxel: float | None = None) -> None:
    """mesh.glb and collider.glb: a TSDF of the given depth in frames that have some (images [M, H, W, 3],
    depths [M, H, W]), else of the depth and colour rendered from the splats `body` (a scene without its
    sky shell) at `cams`."""
    shape = (len(cams), cams[0].height, cams[0].width)
    d = np.zeros(shape, np.float32)
    c = images.copy() if images is not None else np.zeros((*shape, 3), np.float32)
    with torch.no_grad():
        for i, cam in enumerate(cams):
            if depths is not None and bool((depths[i] > 0).any()):
                d[i] = depths[i]
                continue
            o = render(body, cam, with_labels=False)
            d[i] = np.where(o.alpha[0].numpy() > 0.5, o.depth[0].numpy(), 0)
            c[i] = o.rgb[0].clamp(0, 1).numpy()
    lo, hi = np.percentile(body.means.numpy(), [1, 99], axis=0)
    voxel = voxel or float(np.clip(np.linalg.norm(hi - lo) / 160, 0.01, 0.2))
    mesh = tsdf_mesh(cams, d, c, voxel_size=voxel)
    for key in ("mesh", "collider"):
        writer.manifest["files"].pop(key, None)
    if len(mesh.faces):
        save_glb(mesh, writer.add("mesh", "mesh.glb"))
        save_glb(simplify(mesh), writer.add("collider", "collider.glb"))
    writer.manifest["mesh"] = {"voxel_size_m": voxel, "triangles": int(len(mesh.faces))}


def write_flythrough(writer: WorldWriter, scene: GaussianScene, cams: list[Camera], size: int) -> None:
    video = write_video(flythrough_frames(scene, cams, size=size), writer.path("flythrough.mp4"))
    writer.add("flythrough", video.name)


def write_metrics(writer: WorldWriter, scene: GaussianScene, cams: list[Camera], images: np.ndarray,
                  test: list[int]) -> None:
    metrics = evaluate(scene, [cams[i] for i in test], torch.from_numpy(images[test]))
    writer.manifest["metrics"] = {"psnr_heldout": round(metrics["psnr"], 3), "ssim_heldout": round(metrics["ssim"], 4),
                                  "heldout_frames": len(test)}


def refresh_derived(world: World, out: str | os.PathLike | None = None, keys=DERIVED) -> Path:
    """Rebuild what world.json lists as stale (after an edit, an expansion or a regenerated region),
    of `keys`, from the current scene, atomically: the mesh and collider from depth rendered from the
    splats at the world's cameras, the flythrough at its configured size, the held-out metrics against
    the world's own held-out frames. Returns the world's folder."""
    from .frames import read_transforms

    stale = set(world.manifest.get("stale") or []) & set(keys)
    with WorldWriter.update(world, out) as writer:
        cams, scene = world.cameras, world.scene
        body = scene.subset(~shell_mask(scene)) if world.file("sky") is not None else scene
        if stale & {"mesh", "collider"} and cams:
            write_mesh(writer, body, cams)
        if "flythrough" in stale and world.file("flythrough") is not None:
            size = (world.manifest.get("config") or {}).get("flythrough_size") or 512
            writer.path(world.manifest["files"]["flythrough"]).unlink(missing_ok=True)
            write_flythrough(writer, scene, cams, int(size))
        if "metrics" in stale and world.file("frames") is not None:
            frames = read_transforms(world.file("frames").parent)
            _, test = split_holdout(len(frames))
            if test and len(frames) == len(cams):
                write_metrics(writer, scene, cams, frames.images, test)
        writer.manifest["stale"] = sorted(set(world.manifest.get("stale") or []) - stale)
        return writer.commit()


def lift_budget(time_budget_s: float | None, lift_steps: int | None, seed: int, **options) -> LiftConfig:
    """A lift of exactly `lift_steps` steps (reproducible), else of `time_budget_s` seconds;
    `options` set other LiftConfig fields."""
    if lift_steps is not None:
        return LiftConfig(iterations=lift_steps, seed=seed, **options)
    return LiftConfig(iterations=100_000, time_budget_s=time_budget_s, seed=seed, **options)
