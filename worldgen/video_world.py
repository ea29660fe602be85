"""Video -> world: the frames of a walk-through, posed by structure from motion, become the spatial
memory of the frame model, which fills in views the video never saw; all of them are lifted.

1. Frames: `worldgen.video.read_video` (a file or a folder of frames), then `sample_by_motion`.
   A folder with a transforms.json or a COLMAP text model keeps its own poses instead.
2. Poses: `worldgen.sfm.estimate_poses` (pycolmap). Its world is turned upright (the cameras'
   mean up is +Z) and SCALED TO METRES by the frame model: each frame's depth is predicted
   (`rtfm.photo.photo_memory`) and the median ratio to the SfM points' depths is the scale
   (`sfm.metric_scale`, whose AbsRel is recorded in world.json). With given poses the world stays
   as it is and the predicted depth is scaled to the poses' units instead.
3. Memory: each video frame with its predicted depth, corrected per frame to agree with the
   sparse points it sees; the frame model rolls out views along `renderer.view.exploration_path`
   from a few of the video's cameras (turning left and right, stepping back).
4. Lift: the video frames (no depth; the cloud starts from the SfM points) and the generated
   frames (with their depth) through `worldgen.pipeline.lift_to_world`. Poses from structure
   from motion are refined with the splats there (`LiftConfig.refine_poses`), and the held-out
   frames' poses aligned to the scene before they are scored.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from renderer.errors import ArgumentError
from renderer.view import exploration_path

from .frame_model import DEFAULT_FRAME_MODEL, DEFAULT_TEXT_ENCODER, text_states
from .frames import PosedFrames, find_colmap_model, read_frames, undistort, write_transforms
from .pipeline import FrameCallback, lift_budget, lift_to_world, reported
from .sfm import Reconstruction, SfMError, estimate_poses, metric_scale, triangulate_reconstruction
from .video import Video, read_video, sample_by_motion
from .world import WorldWriter

CONDITION_FRAMES = 8  # video frames handed to the frame model's encoder as the condition
EXPLORE_FROM = 2  # video cameras the generated views start from (first and last, then between)

log = logging.getLogger(__name__)


def _posed_folder(folder: Path, size: int) -> PosedFrames | None:
    """A frame folder's own poses, when it has them (transforms.json or a COLMAP text model)."""
    if folder.is_dir() and ((folder / "transforms.json").is_file() or find_colmap_model(folder) is not None):
        return read_frames(folder, size=size)
    return None


def _resized(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    from rtfm.layers import resize_map

    mode = "area" if width <= rgb.shape[1] else "bilinear"
    return resize_map(torch.from_numpy(rgb), width, height, mode).clamp(0, 1).numpy()


def generate_from_video(video: str | os.PathLike, out: str | os.PathLike, *, prompt: str | None = None, seed: int = 0,
                        frames: int = 32, lift_size: int = 128, fov_y_deg: float | None = None,
                        time_budget_s: float = 60.0, checkpoint: str | os.PathLike = DEFAULT_FRAME_MODEL,
                        overwrite: bool = False, progress: bool = True, generated: int = 8,
                        max_duration_s: float = 120.0, keep_all: bool = False, inputs: dict | None = None,
                        lift_steps: int | None = None, flythrough: bool = True, on_frame: FrameCallback | None = None,
                        device: str | None = None) -> Path:
    """A video file or frame folder (and an optional prompt) -> a world folder. Returns its path.

    frames: video frames kept (by motion); lift_size: the short side of the lifted frames, pixels;
    generated: views the frame model adds; fov_y_deg: the video's vertical field of view when known
    (else structure from motion refines a 60 degree guess); keep_all: every frame of a folder is
    used (photos, not a video: nothing is sampled by motion); inputs: what world.json records as the
    input (default: the video and the prompt); lift_steps: lift for exactly that many steps instead
    of `time_budget_s`; on_frame(index, total, rgb [H, W, 3]): sees each video frame as its depth is
    predicted, then each generated view; device: the frame model's (default CPU)."""
    from rtfm.checkpoint import load_frame_model
    from rtfm.inputs import Condition, MemoryFrame
    from rtfm.layers import resize_map
    from rtfm.memory import SpatialMemory
    from rtfm.photo import photo_memory
    from rtfm.rollout import rollout

    import pycolmap

    video = Path(video)
    if generated < 0 or frames < 3 or lift_size < 8:
        raise ArgumentError(f"generate_from_video: need frames >= 3, generated >= 0 and lift_size >= 8, got frames={frames}, "
                            f"generated={generated}, lift_size={lift_size}")
    clock = [time.perf_counter()]

    def lap() -> float:  # seconds since the previous lap: the stages before the world folder exists
        now = time.perf_counter()
        seconds, clock[0] = round(now - clock[0], 3), now
        return seconds

    read_side = max(320, 2 * lift_size)  # SfM wants more pixels than the lift
    warnings: list[str] = []
    # Everything that can fail on the input runs before the world folder exists.
    posed = _posed_folder(video, read_side)
    if posed is not None:
        picks = sample_by_motion(posed.images, frames, source=str(video)) if len(posed) > frames else list(range(len(posed)))
        clip = Video(posed.images[picks], np.arange(len(picks), dtype=np.float64), [posed.names[i] for i in picks], None, video)
        stages = {"read": lap()}
        try:
            rec = triangulate_reconstruction([posed.cameras[i] for i in picks], clip.frames)
        except SfMError as e:
            warnings.append(f"no points triangulated from the given poses ({e}); the lift starts from random points")
            rec = Reconstruction([posed.cameras[i] for i in picks], np.zeros((0, 3), np.float32),
                                 np.zeros((0, 3), np.float32), np.zeros((0, 2), np.int64), float("nan"))
        poses_from = "transforms.json" if (video / "transforms.json").is_file() else "colmap"
        refine = False  # given poses are kept as they are
    else:
        full = read_video(video, size=read_side, max_duration_s=max_duration_s)
        clip = full if keep_all else full.subset(sample_by_motion(full.frames, frames, source=str(video)))
        stages = {"read": lap()}
        rec = estimate_poses(clip.frames, names=clip.names, fov_y_deg=fov_y_deg, seed=seed)
        refine = True  # estimated poses are refined with the splats (renderer.pose_refine)
        if any(rec.distortion):  # the cameras are the pinhole part of the lens: undistort the frames
            K = rec.cameras[rec.registered[0]].K.double().numpy()
            clip.frames[rec.registered] = np.stack([undistort(clip.frames[i], K, rec.distortion) for i in rec.registered])
        rec = rec.upright()
        poses_from = f"structure from motion (pycolmap {pycolmap.__version__})"
    stages["poses"] = lap()
    keep = rec.registered
    model = load_frame_model(checkpoint, device or "cpu")
    with WorldWriter(out, overwrite=overwrite) as writer:
        writer.manifest["timings_s"].update(stages)
        writer.manifest.update({"inputs": inputs or {"video": str(video), "prompt": prompt}, "seed": seed,
                                "models": {"frames": f"rtfm ({Path(checkpoint).name})", "poses": poses_from},
                                "video": {"fps": clip.fps, "truncated": clip.truncated, "sampled": len(clip),
                                          "registered": len(keep), "names": [clip.names[i] for i in keep]}})
        # The frame model's depth of each video frame, at its working size (short side = its resolution).
        total = len(keep) + generated
        shown = []
        for i in keep:
            shown.append(photo_memory(model, torch.from_numpy(clip.frames[i]), rec.cameras[i], seed=seed)[0])
            if on_frame is not None:
                on_frame(len(shown) - 1, total, clip.frames[i])
        writer.timed("depth")
        depth_of: list[np.ndarray | None] = [None] * len(rec.cameras)
        for i, f in zip(keep, shown):
            depth_of[i] = f.depth.numpy()
        fit = None
        if len(rec.points):
            try:
                fit = metric_scale(rec, depth_of)
            except SfMError as e:
                warnings.append(f"the frame model's depth could not fix the scale ({e}); the world keeps the SfM units")
        to_world = 1.0  # world units per metre of predicted depth
        if fit is not None and posed is None:
            rec = rec.scaled(fit.scale)  # SfM units -> metres: the predicted depth is then in world units
        elif fit is not None:
            to_world = 1.0 / fit.scale  # given poses keep their units: the depth follows them
        writer.manifest["sfm"] = {
            "points": len(rec.points),
            "reprojection_error_px": round(rec.reprojection_error_px, 4) if np.isfinite(rec.reprojection_error_px) else None,
            "scale": None if fit is None else {"metres_per_unit": round(fit.scale, 6), "applied_to": "poses" if posed is None else "depth",
                                               "depth_absrel": round(fit.absrel, 4), "depth_delta1": round(fit.delta1, 4),
                                               "points_compared": fit.points}}
        memory = SpatialMemory(capacity=32)
        working = {}
        for i, f in zip(keep, shown):
            working[i] = rec.cameras[i].scaled(f.camera.width, f.camera.height)
            # Per frame, the predicted depth is corrected to agree with the sparse points it sees (median ratio).
            ratio = fit.per_frame.get(i, 1.0) if fit is not None else 1.0
            memory.add(MemoryFrame(working[i], f.rgb, f.depth * (to_world / ratio), f.label.long()))
        text = text_states(DEFAULT_TEXT_ENCODER) if prompt else None
        pick = [keep[j] for j in np.linspace(0, len(keep) - 1, min(CONDITION_FRAMES, len(keep))).round().astype(int)]
        condition = Condition(text=text(prompt) if text else None, video=torch.from_numpy(clip.frames[pick]),
                              video_time=torch.from_numpy(clip.times[pick]).float())
        anchors = [keep[j] for j in np.linspace(0, len(keep) - 1, min(EXPLORE_FROM, len(keep))).round().astype(int)]
        counts = [generated // len(anchors) + (1 if a < generated % len(anchors) else 0) for a in range(len(anchors))]
        path = [cam for a, n in zip(anchors, counts) if n > 0
                for cam in exploration_path(working[a], n, step_back_m=0.5 * to_world)]
        new = reported(rollout(model, path, condition, memory, seed=seed), on_frame, total, start=len(keep)) if path else []
        writer.timed("frames")
        h0, w0 = clip.frames.shape[1:3]
        k = lift_size / min(w0, h0)
        lw, lh = max(8, round(w0 * k)), max(8, round(h0 * k))
        near = lambda t: resize_map(t.float(), lw, lh, "nearest").numpy()  # noqa: E731 - depth and labels are not blended
        cams = [rec.cameras[i].scaled(lw, lh) for i in keep] + [f.camera.scaled(lw, lh) for f in new]
        images = np.stack([_resized(clip.frames[i], lw, lh) for i in keep] +
                          [resize_map(f.rgb, lw, lh, "bilinear").clamp(0, 1).numpy() for f in new]).astype(np.float32)
        # Video frames carry no depth (0 = unknown): the SfM points start the cloud there.
        depths = np.stack([np.zeros((lh, lw), np.float32) for _ in keep] + [near(f.depth) for f in new]).astype(np.float32)
        labels = np.stack([near(f.label) for f in shown] + [near(f.label) for f in new]).astype(np.int32)
        names = [clip.names[i] for i in keep] + [f"generated {j:05d}" for j in range(len(new))]
        frames_out = PosedFrames(cams, images, names, depths, labels)
        write_transforms(writer.path("frames"), frames_out, extra={"source": "video", "video_frames": len(keep),
                                                                    "generated": len(new)})
        writer.manifest["files"]["frames"] = "frames/transforms.json"
        memory.save(writer.path("memory"))
        writer.manifest["files"]["memory"] = "memory/memory.json"
        if warnings:
            writer.manifest["warnings"] = warnings
            for w in warnings:
                log.warning("%s: %s", video, w)
        lift_to_world(frames_out, out, config=lift_budget(time_budget_s, lift_steps, seed, refine_poses=refine),
                      writer=writer, progress=progress, flythrough=flythrough,
                      init_points=(rec.points, rec.colors) if len(rec.points) else None)
        return writer.commit()


def generate_from_images(images: list[str | os.PathLike], out: str | os.PathLike, **kwargs) -> Path:
    """Several photos of one place (one size, any order) -> a world: each is placed by structure from
    motion (exhaustive matching), then they are completed and lifted as a video's frames are.
    `kwargs` as for `generate_from_video`."""
    import shutil
    import tempfile

    paths = [Path(p) for p in images]
    if len(paths) < 3:
        raise ArgumentError(f"{len(paths)} images: structure from motion needs at least 3 overlapping photos "
                            "(one photo alone: pass a single image)")
    for p in paths:
        if not p.is_file():
            raise ArgumentError(f"{p}: no such image file")
    with tempfile.TemporaryDirectory(prefix="worldgen-images-") as tmp:
        for i, p in enumerate(paths):  # numbered copies: the folder reader keeps this order
            shutil.copyfile(p, Path(tmp) / f"{i:05d}{p.suffix.lower()}")
        return generate_from_video(tmp, out, frames=max(len(paths), 3), keep_all=True,
                                   inputs={"images": [str(p) for p in paths], "prompt": kwargs.get("prompt")}, **kwargs)
