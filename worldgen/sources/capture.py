"""Captures -> frames: a video, a set of photos, or a posed frame folder. Their frames are posed (by
structure from motion, or from the folder's own transforms.json / COLMAP model), become the
spatial memory of the frame model (each with its predicted depth), and the frame model fills in
views the capture never saw; all of them are lifted.

1. Frames and poses are read when the source is made (before any world folder): a video is
   sampled by motion and posed by `worldgen.sfm.estimate_poses` (pycolmap), turned upright (the
   cameras' mean up is +Z); a posed folder keeps its poses and has points triangulated.
2. Scale: each frame's depth is predicted (`rtfm.photo.photo_memory`) and the median ratio to the
   sparse points' depths fixes the metric scale (`sfm.metric_scale`): estimated poses are scaled
   to metres, given poses keep their units and the depth follows them.
3. Memory: each frame with its depth corrected per frame to agree with the points it sees; the
   frame model rolls out views along `renderer.view.exploration_path` from a few capture cameras.
4. Lift: capture frames without depth (the cloud starts from the points) and generated frames with
   theirs. Estimated poses are refined with the splats (`LiftConfig.refine_poses`).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from renderer.view import exploration_path

from ..config import GenerateConfig
from ..frames import PosedFrames, find_colmap_model, read_frames, undistort
from ..images import read_image
from ..sfm import Reconstruction, SfMError, estimate_poses, metric_scale, triangulate_reconstruction
from ..video import Video, read_video, sample_by_motion
from .base import CAPTURE_OPTIONS, BuildContext, FrameSource, SourceError, SourceFrames
from .frames import model_frames_at, resized_map, resized_rgb, square_crop
from .photo import lift_size

CONDITION_FRAMES = 8  # capture frames handed to the frame model's encoder as the condition
EXPLORE_FROM = 2  # capture cameras the generated views start from (first and last, then between)
MAX_DURATION_S = 120.0  # a longer video is read to this point (recorded as truncated)
MAX_PHOTOS = 300  # a larger photo set is thinned evenly to this many (with a warning)

log = logging.getLogger(__name__)


@dataclass
class Capture:
    """Posed capture frames: the clip, its reconstruction (cameras, points) and where the poses came from."""

    clip: Video
    rec: Reconstruction
    refine: bool  # estimated poses: refined with the splats
    poses_from: str
    given_poses: bool
    timings_s: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_side(short_side: int) -> int:
    return max(320, 2 * short_side)  # structure from motion wants more pixels than the lift


def posed_folder(folder: Path) -> bool:
    return folder.is_dir() and ((folder / "transforms.json").is_file() or find_colmap_model(folder) is not None)


def _lap(clock: list[float]) -> float:
    now = time.perf_counter()
    seconds, clock[0] = round(now - clock[0], 3), now
    return seconds


def read_posed_capture(folder: Path, config: GenerateConfig) -> Capture:
    """A transforms.json or COLMAP folder: its own poses, points triangulated from them."""
    clock = [time.perf_counter()]
    posed: PosedFrames = read_frames(folder, size=read_side(config.value("resolution")))
    frames = config.value("frames")
    picks = sample_by_motion(posed.images, frames, source=str(folder)) if len(posed) > frames else list(range(len(posed)))
    clip = Video(posed.images[picks], np.arange(len(picks), dtype=np.float64), [posed.names[i] for i in picks], None, folder)
    read_s, warnings = _lap(clock), []
    try:
        rec = triangulate_reconstruction([posed.cameras[i] for i in picks], clip.frames)
    except SfMError as e:
        warnings.append(f"no points triangulated from the given poses ({e}); the lift starts from random points")
        rec = Reconstruction([posed.cameras[i] for i in picks], np.zeros((0, 3), np.float32),
                             np.zeros((0, 3), np.float32), np.zeros((0, 2), np.int64), float("nan"))
    poses_from = "transforms.json" if (folder / "transforms.json").is_file() else "colmap"
    return Capture(clip, rec, False, poses_from, True, {"read": read_s, "poses": _lap(clock)}, warnings)


def estimate_capture(clip: Video, config: GenerateConfig, clock: list[float]) -> Capture:
    """Frames without poses (a video's, sampled; a photo set's, all): posed by structure from motion,
    undistorted, turned upright. clock: when reading began (`_lap`)."""
    import pycolmap

    read_s = _lap(clock)
    rec = estimate_poses(clip.frames, names=clip.names, fov_y_deg=config.fov_y_deg, seed=config.seed)
    if any(rec.distortion):  # the cameras are the pinhole part of the lens: undistort the frames
        for i in rec.registered:
            clip.frames[i] = undistort(clip.frames[i], rec.cameras[i].K.double().numpy(), rec.distortion)
    return Capture(clip, rec.upright(), True, f"structure from motion (pycolmap {pycolmap.__version__})", False,
                   {"read": read_s, "poses": _lap(clock)})


class CaptureSource(FrameSource):
    """Shared by the video, photo-set and posed-folder sources: `self.capture` is read in __init__."""

    options = CAPTURE_OPTIONS
    capture: Capture

    def _keep(self, capture: Capture) -> None:
        self.capture = capture
        self.timings_s.update(capture.timings_s)

    def frames(self, context: BuildContext) -> SourceFrames:
        return complete_capture(self.capture, context, self.prompt, self.describe_input())

    def describe_input(self) -> str:
        return str(self.capture.clip.source)


class _VideoInput(CaptureSource):
    """The sources of `generate(video=...)`: a video file or frame folder, with or without poses."""

    input = "video"

    def __init__(self, video, prompt: str | None, config: GenerateConfig):
        super().__init__(video, prompt, config)
        self.path = Path(video)

    def inputs(self) -> dict:
        return {"video": str(self.path), "prompt": self.prompt}


class VideoSource(_VideoInput):
    kind = "video"
    options = CAPTURE_OPTIONS | {"frames"}  # `frames`: the video frames kept (sampled by motion)

    @classmethod
    def claims(cls, value, config: GenerateConfig) -> bool:
        return not posed_folder(Path(value))

    def __init__(self, video, prompt: str | None, config: GenerateConfig):
        super().__init__(video, prompt, config)
        clock = [time.perf_counter()]
        full = read_video(self.path, size=read_side(config.value("resolution")), max_duration_s=MAX_DURATION_S)
        clip = full.subset(sample_by_motion(full.frames, config.value("frames"), source=str(self.path)))
        self._keep(estimate_capture(clip, config, clock))


class PosedCaptureSource(_VideoInput):
    kind = "posed-capture"
    options = (CAPTURE_OPTIONS - {"fov_y_deg"}) | {"frames"}  # the folder's intrinsics are used

    @classmethod
    def claims(cls, value, config: GenerateConfig) -> bool:
        return posed_folder(Path(value))

    def __init__(self, folder, prompt: str | None, config: GenerateConfig):
        super().__init__(folder, prompt, config)
        self._keep(read_posed_capture(self.path, config))


class PhotoSetSource(CaptureSource):
    """Several photos of one place, as a phone makes them (any order; EXIF orientation applied, so
    portrait and landscape photos mix, each size its own camera): each placed by structure from
    motion (exhaustive matching), every photo kept. Photos of several sizes are lifted as square
    crops of their middles (`square_crop`), since one lift takes frames of one size."""

    kind = "photos"
    input = "images"
    options = CAPTURE_OPTIONS  # every photo is used: no `frames`

    @classmethod
    def claims(cls, value, config: GenerateConfig) -> bool:
        return not isinstance(value, (str, os.PathLike)) and len(value) > 1

    def __init__(self, images, prompt: str | None, config: GenerateConfig):
        super().__init__(images, prompt, config)
        self.given = self.paths = [Path(p) for p in images]
        if len(self.paths) < 3:
            raise SourceError(f"{len(self.paths)} images: structure from motion needs at least 3 overlapping photos "
                              "(one photo alone: pass a single image)")
        clock = [time.perf_counter()]
        side, warnings = read_side(config.value("resolution")), []
        if len(self.paths) > MAX_PHOTOS:
            warnings.append(f"{len(self.paths)} photos: every {len(self.paths) / MAX_PHOTOS:.1f}th of them is used, "
                            f"{MAX_PHOTOS} in all")
            self.paths = [self.paths[i] for i in np.linspace(0, len(self.paths) - 1, MAX_PHOTOS).round().astype(int)]
        frames = [read_image(p, max_side=side)[0] for p in self.paths]  # errors name the photo
        if len({f.shape for f in frames}) == 1:
            frames = np.stack(frames)
        clip = Video(frames, np.arange(len(frames), dtype=np.float64), [p.name for p in self.paths], None,
                     self.paths[0].parent)
        self._keep(estimate_capture(clip, config, clock))
        self.capture.warnings += warnings

    def describe_input(self) -> str:
        return f"{len(self.paths)} photos ({self.paths[0].parent})"

    def inputs(self) -> dict:
        return {"images": [str(p) for p in self.given], "prompt": self.prompt}


def _predicted_depth(model, capture: Capture, context: BuildContext, total: int) -> list:
    """The frame model's view of each registered frame (rgb, depth, labels at its working size)."""
    from rtfm.photo import photo_memory

    shown = []
    for i in capture.rec.registered:
        shown.append(photo_memory(model, torch.from_numpy(capture.clip.frames[i]), capture.rec.cameras[i],
                                  seed=context.config.seed)[0])
        if context.on_frame is not None:
            context.on_frame(len(shown) - 1, total, capture.clip.frames[i])
    context.timed("depth")
    return shown


def _fix_scale(capture: Capture, shown: list, warnings: list[str]):
    """(the capture's reconstruction in world units, world units per metre of predicted depth, the fit)."""
    rec, fit = capture.rec, None
    depth_of: list[np.ndarray | None] = [None] * len(rec.cameras)
    for i, f in zip(rec.registered, shown):
        depth_of[i] = f.depth.numpy()
    if len(rec.points):
        try:
            fit = metric_scale(rec, depth_of)
        except SfMError as e:
            warnings.append(f"the frame model's depth could not fix the scale ({e}); the world keeps the SfM units")
    if fit is None:
        return rec, 1.0, None
    if capture.given_poses:  # given poses keep their units: the depth follows them
        return rec, 1.0 / fit.scale, fit
    return rec.scaled(fit.scale), 1.0, fit  # SfM units -> metres: the predicted depth is then in world units


def _spread(keep: list[int], n: int) -> list[int]:
    return [keep[j] for j in np.linspace(0, len(keep) - 1, min(n, len(keep))).round().astype(int)]


def complete_capture(capture: Capture, context: BuildContext, prompt: str | None, where: str) -> SourceFrames:
    """The capture's frames with their predicted depth as memory, the views the frame model adds,
    and all of them at the lift's size."""
    from rtfm.rollout import rollout

    cfg, model, warnings = context.config, context.frame_model(), list(capture.warnings)
    keep, clip, generated = capture.rec.registered, capture.clip, cfg.value("generated")
    shown = _predicted_depth(model, capture, context, len(keep) + generated)
    rec, to_world, fit = _fix_scale(capture, shown, warnings)
    memory, working = _memory(rec, keep, shown, to_world, fit)
    condition = _condition(clip, keep, context.text_states(prompt), model.cfg.image_size)
    anchors = _spread(keep, EXPLORE_FROM)
    counts = [generated // len(anchors) + (1 if a < generated % len(anchors) else 0) for a in range(len(anchors))]
    path = [cam for a, n in zip(anchors, counts) if n > 0 for cam in exploration_path(working[a], n, step_back_m=0.5 * to_world)]
    new = context.report(rollout(model, path, condition, memory, seed=cfg.seed), len(keep) + generated,
                         start=len(keep)) if path else []
    frames = _lift_frames(clip, rec, keep, shown, new, cfg.value("resolution"))
    for w in warnings:
        log.warning("%s: %s", where, w)
    return SourceFrames(frames, memory=memory, init_points=(rec.points, rec.colors) if len(rec.points) else None,
                        refine_poses=capture.refine, section=_section(capture, rec, fit, len(new)), warnings=warnings,
                        models={"frames": f"rtfm ({cfg.frame_model.name})", "poses": capture.poses_from})


def _memory(rec: Reconstruction, keep: list[int], shown: list, to_world: float, fit):
    """(the SpatialMemory of the capture's frames, their cameras at the model's working size)."""
    from rtfm.inputs import MemoryFrame
    from rtfm.memory import SpatialMemory

    memory, working = SpatialMemory(capacity=32), {}
    for i, f in zip(keep, shown):
        working[i] = rec.cameras[i].scaled(f.camera.width, f.camera.height)
        ratio = fit.per_frame.get(i, 1.0) if fit is not None else 1.0  # agree with the points this frame sees
        memory.add(MemoryFrame(working[i], f.rgb, f.depth * (to_world / ratio), f.label.long()))
    return memory, working


def _condition(clip: Video, keep: list[int], text, image_size: int):
    """A few capture frames (at the encoder's size: photos may differ in size) as the video condition."""
    from rtfm.inputs import Condition
    from rtfm.layers import resize_map

    pick = _spread(keep, CONDITION_FRAMES)
    frames = torch.stack([resize_map(torch.from_numpy(clip.frames[i]), image_size, image_size, "area") for i in pick])
    return Condition(text=text, video=frames, video_time=torch.from_numpy(clip.times[pick]).float())


def _lift_frames(clip: Video, rec: Reconstruction, keep: list[int], shown: list, new: list, short_side: int) -> PosedFrames:
    """Capture frames (no depth: the points start the cloud) then generated ones, `short_side` pixels on
    the short side; when the capture's frames differ in size, square crops of their middles."""
    from rtfm.inputs import MemoryFrame

    names = [clip.names[i] for i in keep] + [f"generated {j:05d}" for j in range(len(new))]
    if len({clip.frames[i].shape for i in keep}) == 1:
        h0, w0 = clip.frames[keep[0]].shape[:2]
        lw, lh = lift_size(w0, h0, short_side)
        captured = PosedFrames([rec.cameras[i].scaled(lw, lh) for i in keep],
                               np.stack([resized_rgb(torch.from_numpy(clip.frames[i]), lw, lh) for i in keep]),
                               names[:len(keep)], np.zeros((len(keep), lh, lw), np.float32),
                               np.stack([resized_map(f.label, lw, lh) for f in shown]).astype(np.int32))
        return captured if not new else _joined(captured, model_frames_at(new, lw, lh, names=names[len(keep):]))
    crops = []
    for i, f in zip(keep, shown):
        cam, rgb = square_crop(rec.cameras[i], torch.from_numpy(clip.frames[i]))
        label = torch.from_numpy(resized_map(square_crop(f.camera, f.label)[1], cam.width, cam.height)).long()
        crops.append(MemoryFrame(cam, rgb, None, label))  # no depth: the points start the cloud
    crops += [MemoryFrame(*square_crop(f.camera, f.rgb, f.depth, f.label)) for f in new]
    return model_frames_at(crops, short_side, short_side, names=names)


def _section(capture: Capture, rec: Reconstruction, fit, generated: int) -> dict:
    clip, keep = capture.clip, rec.registered
    return {"fps": clip.fps, "truncated": clip.truncated, "sampled": len(clip), "registered": len(keep),
            "names": [clip.names[i] for i in keep], "generated": generated,
            "sizes": sorted({f"{clip.frames[i].shape[1]}x{clip.frames[i].shape[0]}" for i in keep}),
            "sfm": {"points": len(rec.points),
                    "reprojection_error_px": round(rec.reprojection_error_px, 4)
                    if np.isfinite(rec.reprojection_error_px) else None,
                    "scale": None if fit is None else {
                        "metres_per_unit": round(fit.scale, 6), "applied_to": "depth" if capture.given_poses else "poses",
                        "depth_absrel": round(fit.absrel, 4), "depth_delta1": round(fit.delta1, 4),
                        "points_compared": fit.points}}}


def _joined(a: PosedFrames, b: PosedFrames) -> PosedFrames:
    return PosedFrames(a.cameras + b.cameras, np.concatenate([a.images, b.images]).astype(np.float32), a.names + b.names,
                       np.concatenate([a.depths, b.depths]).astype(np.float32),
                       np.concatenate([a.labels, b.labels]).astype(np.int32))
