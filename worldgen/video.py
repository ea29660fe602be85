"""Reading a user's video (or a folder of its frames) and picking the frames worth lifting.

`read_video` streams frames through imageio-ffmpeg, downscaled by ffmpeg itself so the longer side
is at most `size`, and keeps at most `max_frames` of them in memory however long the video: when
the kept frames overflow, every other one is dropped and the stride doubles, so the kept frames
stay evenly spaced. Only the first `max_duration_s` seconds are decoded. A folder of images (PNG
or JPEG, in natural name order) reads the same way through `worldgen.images.read_image`.

`sample_by_motion` keeps frames where the accumulated motion (mean absolute difference of small
grey frames) passes equal steps, so a video that pauses does not fill the selection with
duplicates, and refuses a video without motion.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from renderer.errors import InputFileError
from renderer.formats.base import path_kind

from .images import ImageError, read_image

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".gif")
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")
MAX_FRAMES = 1000  # frames kept in memory at most (the `max_frames` argument may only lower it)
MAX_DECODE_S = 600.0  # wall-clock seconds of decoding before the rest of a video is skipped
MOTION_SIDE = 64  # motion is measured on grey frames this big on the longer side
MIN_MOTION = 2e-3  # mean absolute grey difference over the whole video below this: no motion

log = logging.getLogger(__name__)


class VideoError(InputFileError):
    """A video or frame folder that cannot be used; the message names the file and the problem."""


@dataclass
class Video:
    """frames [T, H, W, 3] float32 in [0, 1] (a list of [H, W, 3] for photos of several sizes); times
    [T] seconds from the start; names of the frames
    (file names for a folder, "frame NNNNN" for a video); fps of the source (None for a folder);
    truncated: frames past max_duration_s (or the decode time limit) were not read."""

    frames: np.ndarray
    times: np.ndarray
    names: list[str]
    fps: float | None
    source: Path
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.frames)

    def subset(self, indices) -> "Video":
        idx = list(indices)
        frames = self.frames[idx] if isinstance(self.frames, np.ndarray) else [self.frames[i] for i in idx]
        return Video(frames, self.times[idx], [self.names[i] for i in idx], self.fps, self.source, self.truncated)


def _natural_key(name: str):
    return [int(t) if t.isdecimal() else t.lower() for t in re.split(r"(\d+)", name)]


class _EvenKeeper:
    """Keeps every `stride`-th of a stream of items, at most `limit`, evenly spaced: on overflow
    it drops every other kept item and doubles the stride."""

    def __init__(self, limit: int):
        self.limit, self.stride, self.items, self.indices = limit, 1, [], []

    def wants(self, index: int) -> bool:
        return index % self.stride == 0

    def add(self, index: int, item) -> None:
        self.items.append(item)
        self.indices.append(index)
        if len(self.items) > self.limit:
            self.items, self.indices = self.items[::2], self.indices[::2]
            self.stride *= 2


def _read_folder(folder: Path, max_frames: int, size: int | None) -> Video:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS and p.is_file()),
                   key=lambda p: _natural_key(p.name))
    if not files:
        raise VideoError(f"{folder}: no frames (.png, .jpg) in this folder")
    if len(files) > max_frames:  # evenly spaced, without decoding the rest
        files = [files[i] for i in np.linspace(0, len(files) - 1, max_frames).round().astype(int)]
    frames = []
    for p in files:
        try:
            rgb, _, _ = read_image(p, size)
        except ImageError as e:
            raise VideoError(str(e)) from None
        if frames and rgb.shape != frames[0].shape:
            raise VideoError(f"{p}: frame is {rgb.shape[1]}x{rgb.shape[0]} but {files[0].name} is "
                             f"{frames[0].shape[1]}x{frames[0].shape[0]}; the frames of a video must share one size")
        frames.append(rgb)
    return Video(np.stack(frames), np.arange(len(frames), dtype=np.float64), [p.name for p in files], None, folder)


def read_video(path: str | os.PathLike, max_frames: int = 300, size: int | None = 512,
               max_duration_s: float = 120.0) -> Video:
    """A video file (mp4, mov, webm, mkv, avi, gif ...) or a folder of frames -> `Video`.

    size: the longer side is scaled down to at most this (never up); max_frames: at most this many
    frames are kept, evenly spaced over what was read; max_duration_s: only the first this many
    seconds are read. Raises VideoError naming the file for anything unreadable."""
    import imageio_ffmpeg

    path = Path(path)
    max_frames = int(min(max_frames, MAX_FRAMES))
    if max_frames < 1:
        raise VideoError(f"{path}: max_frames must be at least 1")
    if size is not None and size < 8:
        raise VideoError(f"{path}: size must be at least 8 pixels, got {size}")
    kind = path_kind(path, VideoError)
    if kind == "dir":
        return _read_folder(path, max_frames, size)
    if kind != "file":
        raise VideoError(f"{path}: {'no such video file or frame folder' if kind == 'missing' else 'not a regular file'}")
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise VideoError(f"{path}: not a video ({path.suffix or 'no extension'}); use one of {', '.join(VIDEO_EXTENSIONS)} "
                         "or a folder of frames")
    vf = []
    if size is not None:  # ffmpeg downscales while decoding: full-size frames never reach Python
        vf = ["-vf", f"scale='if(gte(iw,ih),min({size},iw),-1)':'if(gte(iw,ih),-1,min({size},ih))':flags=area"]
    keeper = _EvenKeeper(max_frames)
    quiet = logging.getLogger("imageio_ffmpeg")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it warns that the decoded size differs from the source: that is the point
    t0, truncated, fps = time.perf_counter(), False, None
    gen = None
    try:
        gen = imageio_ffmpeg.read_frames(str(path), input_params=["-t", f"{max_duration_s:.3f}"], output_params=vf)
        meta = next(gen)
        w, h = meta["size"]
        fps = float(meta.get("fps") or 0) or None
        duration = float(meta.get("duration") or 0)
        truncated = duration > max_duration_s
        for k, raw in enumerate(gen):
            if keeper.wants(k):  # frames between the kept ones are never copied out of ffmpeg's buffer
                keeper.add(k, np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy())
            if time.perf_counter() - t0 > MAX_DECODE_S:
                truncated = True
                break
    except (OSError, RuntimeError, ValueError, StopIteration, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VideoError(f"{path}: cannot decode this video (corrupt file or unsupported codec): {first}") from None
    finally:
        if gen is not None:
            gen.close()  # stops ffmpeg
        quiet.setLevel(level)
    if not keeper.items:
        raise VideoError(f"{path}: the video has no frames that could be decoded")
    if truncated:
        log.warning("%s: only the first %.0f s were read", path, max_duration_s)
    frames = np.stack(keeper.items).astype(np.float32) / 255.0
    times = np.asarray(keeper.indices, dtype=np.float64) / (fps or 1.0)
    return Video(frames, times, [f"frame {k:05d}" for k in keeper.indices], fps, path, truncated)


def _small_grey(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    k = MOTION_SIDE / max(h, w)
    im = Image.fromarray((np.clip(frame, 0, 1) * 255).astype(np.uint8)).convert("L")
    if k < 1:
        im = im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.float32) / 255.0


def frame_motion(frames: np.ndarray) -> np.ndarray:
    """[T - 1]: mean absolute difference between consecutive small grey frames (0 = identical)."""
    grey = [_small_grey(f) for f in frames]
    return np.array([float(np.abs(b - a).mean()) for a, b in zip(grey, grey[1:])])


def sample_by_motion(frames: np.ndarray, n: int, min_frames: int = 3, source: str = "video") -> list[int]:
    """Indices of about `n` frames [T, H, W, 3] spaced evenly in accumulated motion (the first and
    last frames included); at most n, fewer when frames repeat. Raises VideoError for fewer than
    `min_frames` frames or a video without motion."""
    t = len(frames)
    if t < min_frames:
        raise VideoError(f"{source}: {t} frames; at least {min_frames} are needed to recover camera motion")
    if n < min_frames:
        raise VideoError(f"{source}: asked for {n} frames; at least {min_frames} are needed")
    motion = frame_motion(frames)
    if motion.mean() < MIN_MOTION:
        raise VideoError(f"{source}: the camera does not move (mean frame difference {motion.mean():.2e}); "
                         "a world needs a video that moves through the scene")
    cum = np.concatenate([[0.0], np.cumsum(motion)])
    targets = np.linspace(0.0, cum[-1], min(n, t))
    picks = np.searchsorted(cum, targets - 1e-12, side="left").clip(0, t - 1)
    picks = sorted({int(i) for i in picks})
    if len(picks) < min_frames:
        raise VideoError(f"{source}: only {len(picks)} distinct frames after dropping repeats; at least "
                         f"{min_frames} are needed")
    return picks
