"""Flythroughs: the splats rendered along a smoothed camera path, encoded as mp4 (or GIF)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from renderer import Camera, GaussianScene, render
from renderer.view import frame_orbit_camera


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
