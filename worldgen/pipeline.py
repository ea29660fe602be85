"""Thin orchestration: frames -> world (lift, mesh, flythrough, metrics), prompt -> world (draft),
and exports. Each stage's seconds go into world.json."""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from renderer import Camera, GaussianScene, render, save_scene
from renderer.axes import world_to_axes
from renderer.errors import ArgumentError
from renderer.layout import Layout, LayoutError
from renderer.lift import LiftConfig, camera_spread, evaluate, lift
from renderer.mesh import save_glb, simplify, tsdf_mesh
from renderer.pose_refine import refine_pose
from renderer.sky import save_sky_png, shell_mask
from renderer.view import frame_orbit_camera
from .frames import PosedFrames, write_transforms
from .world import World, WorldWriter

HOLDOUT_EVERY = 8
TRIANGULATE_EXHAUSTIVE_UP_TO = 150  # posed captures need not be in order: match all pairs up to this many frames

log = logging.getLogger(__name__)
FrameCallback = Callable[[int, int, np.ndarray], None]  # (index, total, rgb [H, W, 3] float32)


def reported(frames: Iterable, on_frame: FrameCallback | None, total: int, start: int = 0) -> list:
    """The memory frames of a generator, collected, each shown to on_frame(start + i, total, rgb)
    as it comes (an editor streams them while the rest are made)."""
    made = []
    for frame in frames:
        made.append(frame)
        if on_frame is not None:
            on_frame(start + len(made) - 1, total, frame.rgb.cpu().numpy())
    return made


def split_holdout(n: int, every: int = HOLDOUT_EVERY) -> tuple[list[int], list[int]]:
    """Every `every`-th frame (starting at every // 2) is held out for metrics."""
    test = list(range(every // 2, n, every)) if n >= every else []
    train = [i for i in range(n) if i not in set(test)]
    return train, test


def smooth_path(cameras: list[Camera], n_frames: int, size: int) -> list[Camera]:
    """n_frames cameras gliding through the given poses in order (positions interpolated,
    rotations slerped), at `size` pixels on the longer side."""
    from scipy.spatial.transform import Rotation, Slerp

    c2w = np.stack([c.c2w.double().numpy() for c in cameras])
    t_key = np.linspace(0, 1, len(cameras))
    t = np.linspace(0, 1, n_frames)
    pos = np.stack([np.interp(t, t_key, c2w[:, k, 3]) for k in range(3)], 1)
    rots = Slerp(t_key, Rotation.from_matrix(c2w[:, :3, :3]))(t).as_matrix() if len(cameras) > 1 else np.repeat(c2w[:1, :3, :3], n_frames, 0)
    ref = cameras[0]
    scale = size / max(ref.width, ref.height)
    # even sides: H.264 in yuv420p refuses odd ones (a portrait photo's 91x160 fell back to GIF)
    w, h = (max(2, 2 * round(side * scale / 2)) for side in (ref.width, ref.height))
    K = ref.scaled(w, h).K
    out = []
    for p, r in zip(pos, rots):
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = r, p
        out.append(Camera(K, torch.from_numpy(m).float(), w, h))
    return out


def flythrough_frames(scene: GaussianScene, cameras: list[Camera] | None = None, n_frames: int = 36, size: int = 160,
                      background=(0.0, 0.0, 0.0)) -> np.ndarray:
    """The splats rendered along the capture's own camera path (smoothed), or an orbit around the
    scene when there is none: uint8 [T, H, W, 3]."""
    if cameras:
        path = smooth_path(cameras, n_frames, size)
    else:
        path = [frame_orbit_camera(scene, 360.0 * t / n_frames, 25.0 + 10.0 * math.sin(2 * math.pi * t / n_frames), size, size)
                for t in range(n_frames)]
    with torch.no_grad():
        frames = [(render(scene, cam, background=background, with_labels=False).rgb[0].clamp(0, 1) * 255).byte().numpy()
                  for cam in path]
    return np.stack(frames)


def video_bytes(frames: np.ndarray, fmt: str = "mp4", fps: int = 24) -> bytes:
    """Encode uint8 frames [T, H, W, 3] as mp4 (imageio-ffmpeg, H.264) or GIF."""
    import imageio.v3 as iio

    if fmt == "mp4":
        return iio.imwrite("<bytes>", frames, extension=".mp4", fps=fps, codec="libx264", macro_block_size=1)
    return iio.imwrite("<bytes>", frames, extension=".gif", duration=1000 / fps, loop=0)


def write_video(frames: np.ndarray, path: str | os.PathLike, fps: int = 24) -> Path:
    """mp4 when ffmpeg works, else a GIF beside it; returns the path written."""
    from renderer.formats.base import atomic_write

    path = Path(path)
    try:
        atomic_write(path, [video_bytes(frames, "mp4", fps)])
        return path
    except Exception:  # noqa: BLE001 - no ffmpeg binary or codec here: fall back to GIF
        gif = path.with_suffix(".gif")
        atomic_write(gif, [video_bytes(frames, "gif", fps)])
        return gif


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
            metrics = evaluate(scene, [cams[i] for i in test], images[test])
            writer.manifest["metrics"] = {"psnr_heldout": round(metrics["psnr"], 3), "ssim_heldout": round(metrics["ssim"], 4),
                                          "heldout_frames": len(test)}
            if config.refine_poses:
                writer.manifest["metrics"]["heldout_poses"] = "aligned to the scene (renderer.pose_refine.refine_pose)"
        writer.manifest["lift"] = {"steps": result.steps, "seconds": round(result.seconds, 2), "stopped_by": result.stopped_by,
                                   "gaussians": len(scene), "init": start, "config": asdict(config)}
        writer.timed("metrics")
        # The mesh: TSDF of the given depth in frames that have some, else of depth rendered from the splats.
        given = [depths is not None and bool((frames.depths[i] > 0).any()) for i in range(len(cams))]
        d, c = np.zeros(frames.images.shape[:3], np.float32), frames.images.copy()
        with torch.no_grad():
            for i, cam in enumerate(cams):
                if given[i]:
                    d[i] = frames.depths[i]
                    continue
                o = render(body, cam, with_labels=False)
                d[i] = np.where(o.alpha[0].numpy() > 0.5, o.depth[0].numpy(), 0)
                c[i] = o.rgb[0].clamp(0, 1).numpy()
        lo, hi = np.percentile(body.means.numpy(), [1, 99], axis=0)
        voxel = mesh_voxel or float(np.clip(np.linalg.norm(hi - lo) / 160, 0.01, 0.2))
        mesh = tsdf_mesh(cams, d, c, voxel_size=voxel)
        if len(mesh.faces):
            save_glb(mesh, writer.add("mesh", "mesh.glb"))
            save_glb(simplify(mesh), writer.add("collider", "collider.glb"))
        writer.manifest["mesh"] = {"voxel_size_m": voxel, "triangles": int(len(mesh.faces))}
        writer.timed("mesh")
        if flythrough:
            video = write_video(flythrough_frames(scene, cams, size=flythrough_size), writer.path("flythrough.mp4"))
            writer.add("flythrough", video.name)
            writer.timed("flythrough")
        writer.manifest["cameras"] = [c.to_dict() for c in cams]
        return writer.commit() if own else writer.out


def lift_budget(time_budget_s: float | None, lift_steps: int | None, seed: int, **options) -> LiftConfig:
    """A lift of exactly `lift_steps` steps (reproducible), else of `time_budget_s` seconds;
    `options` set other LiftConfig fields."""
    if lift_steps is not None:
        return LiftConfig(iterations=lift_steps, seed=seed, **options)
    return LiftConfig(iterations=100_000, time_budget_s=time_budget_s, seed=seed, **options)


def layout_step(prompt: str | None, layout: Layout | None, engine: str, seed: int,
                checkpoint: str | os.PathLike | None, complete: bool = True):
    """(layout, layout model name, ignored words, warnings): the given layout, or the prompt's."""
    from .lm import DEFAULT_CHECKPOINT, layout_for_prompt

    if layout is not None:
        return layout, "given", [], []
    if not prompt or not prompt.strip():
        raise LayoutError("a world needs a prompt or a layout")
    made = layout_for_prompt(prompt, engine, seed=seed, checkpoint=checkpoint, complete=complete)
    name = "rules" if made.engine == "rules" else f"lm ({Path(checkpoint or DEFAULT_CHECKPOINT).name})"
    return made.layout, name, made.ignored, made.warnings


def generate_draft(prompt: str | None, out: str | os.PathLike, *, layout: Layout | None = None, seed: int = 0,
                   frames: int = 40, resolution: int = 256, time_budget_s: float = 22.0, overwrite: bool = False,
                   progress: bool = True, engine: str = "auto", checkpoint: str | os.PathLike | None = None,
                   lift_steps: int | None = None, flythrough: bool = True,
                   on_frame: FrameCallback | None = None, complete: bool = True, flythrough_size: int = 512,
                   lift_options: dict | None = None, samples_per_pixel: int = 2) -> tuple[Path, list[str], list[str]]:
    """The draft world for a prompt or a layout: the layout (given, or from the language model or
    rules, worldgen.lm.layout_for_prompt), procedural frames along an orbit, lifted for
    `time_budget_s`, or for exactly `lift_steps` steps (then the world is reproducible bit for bit,
    whatever the machine's speed). Frames are anti-aliased with samples_per_pixel² rays per pixel,
    as a camera's sensor integrates: aliased frames disagree between views, which costs the lift.
    on_frame(index, total, rgb [H, W, 3]) sees each frame as it is ray cast. flythrough_size: the
    flythrough's pixels a side. lift_options: other LiftConfig fields (benchmarks lift references
    this way). Returns (world folder, ignored words, warnings)."""
    from renderer.raycast import raycast

    from .procgen.paths import camera_path
    from .procgen.world import build_world

    layout, layout_model, ignored, warnings = layout_step(prompt, layout, engine, seed, checkpoint, complete)  # before the folder
    frames_model = f"procedural ray casting (draft, {samples_per_pixel}x{samples_per_pixel} rays per pixel)"
    with WorldWriter(out, overwrite=overwrite) as writer:
        layout.save(writer.add("layout", "layout.json"))
        writer.manifest.update({"inputs": {"prompt": prompt}, "seed": seed, "caption": layout.caption, "quality": "draft",
                                "models": {"layout": layout_model, "frames": frames_model},
                                "ignored_words": ignored, "warnings": warnings})
        writer.timed("layout")
        cams = camera_path(layout, "orbit", frames, width=resolution, height=resolution, seed=seed)
        mesh_world, shots = build_world(layout, seed), []
        for i, cam in enumerate(cams):
            shots.append(raycast(mesh_world, cam, samples_per_pixel=samples_per_pixel))
            if on_frame is not None:
                on_frame(i, len(cams), shots[-1]["rgb"])
        stack = lambda key: np.stack([s[key] for s in shots])  # noqa: E731
        posed = PosedFrames(cams, stack("rgb"), [f"{i:05d}" for i in range(frames)], stack("depth"), stack("label"))
        write_transforms(writer.path("frames"), posed, extra={"caption": layout.caption})
        writer.manifest["files"]["frames"] = "frames/transforms.json"
        writer.timed("frames")
        lift_to_world(posed, out, config=lift_budget(time_budget_s, lift_steps, seed, **(lift_options or {})), writer=writer,
                      progress=progress, flythrough=flythrough, flythrough_size=flythrough_size)
        return writer.commit(), ignored, warnings


def export_world(world: World, fmt: str, out: str | os.PathLike, axes: str = "opengl") -> Path:
    """ply | splat | spz (the splats), glb (the mesh), mp4 (a flythrough), in the chosen axis convention.

    spz readers (Spark, Marble, nianticlabs/spz) assume RUB, which is axes="opengl", the default."""

    out = Path(out)
    rot = torch.from_numpy(world_to_axes(axes)).float()
    if fmt in ("ply", "splat", "spz"):
        scene = world.scene.transform(rot)
        out = out.with_suffix(f".{fmt}") if out.suffix != f".{fmt}" else out
        save_scene(scene, out)
        return out
    if fmt == "glb":
        import trimesh

        src = world.file("mesh")
        if src is None:
            raise ArgumentError(f"{world.path}: this world has no mesh")
        mesh = trimesh.load(src, force="mesh")  # stored in the OpenGL convention (+Y up)
        mesh.apply_transform(np.linalg.inv(world_to_axes("opengl")))
        save_glb(mesh, out, axes=axes)
        return out
    if fmt == "mp4":
        cams = [Camera.from_dict(c) for c in world.manifest.get("cameras", [])]
        return write_video(flythrough_frames(world.scene, cams), out)
    raise ArgumentError(f"unknown export format {fmt!r}; choose from ply, splat, spz, glb, mp4")
