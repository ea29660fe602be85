"""Posed frame folders: nerfstudio-style transforms.json (read and write) and COLMAP text models.

Generated sequences and real captures load through the same `PosedFrames`: cameras in the
OpenCV convention, images float32 HWC in [0, 1], optional metric depth and labels. Lens
distortion (k1, k2, p1, p2) is undistorted on load, large photos are downscaled to a requested
size (intrinsics follow), and every problem is reported with the file or frame it is in.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from renderer.camera import Camera, CameraError
from renderer.formats.base import atomic_write, read_json, read_npy
from renderer.errors import InputFileError
from renderer.limits import limit

from .images import MAX_IMAGE_PIXELS, ImageError, read_image

OPENGL_FROM_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])  # nerfstudio's transform_matrix is OpenGL-style
MAX_FRAMES = 100_000


class FramesError(InputFileError):
    """A frame folder that cannot be read; the message names the file or frame."""


@dataclass
class PosedFrames:
    cameras: list[Camera]
    images: np.ndarray  # [M, H, W, 3] float32
    names: list[str]
    depths: np.ndarray | None = None  # [M, H, W] float32 metres
    labels: np.ndarray | None = None  # [M, H, W] int32

    def __len__(self) -> int:
        return len(self.cameras)


# ---- writing ----------------------------------------------------------------------------------
def _png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def write_transforms(folder: str | os.PathLike, frames: PosedFrames, extra: dict | None = None) -> Path:
    """Write images/NNNNN.png, depth/NNNNN.npy, labels/NNNNN.npy and transforms.json (written last,
    so a folder without it is visibly incomplete)."""
    folder = Path(folder)
    entries = []
    for i, cam in enumerate(frames.cameras):
        stem = f"{i:05d}"
        entry = {"file_path": f"images/{stem}.png", "transform_matrix": (cam.c2w.double().numpy() @ OPENGL_FROM_OPENCV).tolist(),
                 "fl_x": float(cam.K[0, 0]), "fl_y": float(cam.K[1, 1]), "cx": float(cam.K[0, 2]), "cy": float(cam.K[1, 2]),
                 "w": cam.width, "h": cam.height}
        atomic_write(folder / entry["file_path"], [_png_bytes(frames.images[i])])
        if frames.depths is not None:
            entry["depth_file_path"] = f"depth/{stem}.npy"
            atomic_write(folder / entry["depth_file_path"], [_npy_bytes(frames.depths[i].astype(np.float32))])
        if frames.labels is not None:
            entry["label_file_path"] = f"labels/{stem}.npy"
            atomic_write(folder / entry["label_file_path"], [_npy_bytes(frames.labels[i].astype(np.int16))])
        entries.append(entry)
    first = frames.cameras[0]
    meta = {"camera_model": "OPENCV", "w": first.width, "h": first.height, "fl_x": float(first.K[0, 0]),
            "fl_y": float(first.K[1, 1]), "cx": float(first.K[0, 2]), "cy": float(first.K[1, 2]),
            "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "depth_unit": "metres, z along the optical axis (.npy float32)",
            "frames": entries}
    if extra:
        meta["worldgen"] = extra
    atomic_write(folder / "transforms.json", [json.dumps(meta, indent=1).encode()])
    return folder / "transforms.json"


# ---- reading --------------------------------------------------------------------------------
def _inside(folder: Path, rel: str, what: str) -> Path:
    if not isinstance(rel, str) or not rel or "\0" in rel:  # a NUL is no file name (os calls raise ValueError)
        raise FramesError(f"{folder}: {what} must be a relative path string without NUL, got {rel!r}"[:300])
    if len(os.fsencode(rel)) > 4096 or any(len(os.fsencode(part)) > 255 for part in Path(rel).parts):
        # longer than the OS allows: stat() would raise ENAMETOOLONG, an OSError, not "missing"
        raise FramesError(f"{folder}: {what} is longer than a file name may be: {rel[:80]!r}...")
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise FramesError(f"{folder}: {what} {rel!r} points outside the folder")
    return path


class PixelBudget:
    """Decoded pixels of one reading of frames, against limit("MAX_TOTAL_PIXELS"): each image is
    capped on its own (images.MAX_IMAGE_PIXELS), and this caps them all together (twelve frames
    naming one 36-megapixel photo)."""

    def __init__(self, where: Path):
        self.where, self.used, self.cap = where, 0, limit("MAX_TOTAL_PIXELS")

    def take(self, image: np.ndarray) -> None:
        self.used += image.shape[0] * image.shape[1]
        if self.used > self.cap:
            raise FramesError(f"{self.where}: the frames decode to more than {self.cap:,} pixels in all; read them "
                              f"smaller (a size / --resolution) or raise WORLDGEN_MAX_TOTAL_PIXELS")


def _load_image(path: Path, size: int | None, budget: PixelBudget) -> tuple[np.ndarray, float]:
    """RGB float32 [H, W, 3] and the scale applied (downscaled so the longer side <= size)."""
    try:
        rgb, scale, _ = read_image(path, size, exif_orientation=False)
    except ImageError as e:
        raise FramesError(str(e)) from None
    budget.take(rgb)
    return rgb, scale


def _check_intrinsics(where: str, values) -> None:
    """Focal lengths, principal point and distortion must be finite (NaN ones give all-NaN images)."""
    if not all(np.isfinite(v) for v in values):
        raise FramesError(f"{where}: intrinsics and distortion must be finite numbers, got {list(values)}")


def _distort(x, y, k1, k2, p1, p2):
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2
    return x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x), y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y


def undistort(image: np.ndarray, K: np.ndarray, dist: tuple[float, float, float, float], order: int = 1) -> np.ndarray:
    """Resample an image [H, W, C] (or [H, W]) taken with OpenCV-model distortion into the pinhole
    camera with the same K: each output pixel looks up where the distorted lens imaged it."""
    from scipy.ndimage import map_coordinates

    if not any(dist):
        return image
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    x = (xs + 0.5 - K[0, 2]) / K[0, 0]
    y = (ys + 0.5 - K[1, 2]) / K[1, 1]
    xd, yd = _distort(x, y, *dist)
    u, v = xd * K[0, 0] + K[0, 2] - 0.5, yd * K[1, 1] + K[1, 2] - 0.5
    chans = image[..., None] if image.ndim == 2 else image
    out = np.stack([map_coordinates(chans[..., c], [v, u], order=order, mode="nearest") for c in range(chans.shape[-1])], -1)
    return (out[..., 0] if image.ndim == 2 else out).astype(image.dtype)


def _frame_camera(K, c2w, w, h, where: str) -> Camera:
    try:
        return Camera(torch.tensor(K, dtype=torch.float32), torch.tensor(c2w, dtype=torch.float32), w, h)
    except (CameraError, TypeError, ValueError) as e:
        raise FramesError(f"{where}: bad camera: {e}") from None


def _finish(folder: Path, cams, images, names, depths, labels) -> PosedFrames:
    if not cams:
        raise FramesError(f"{folder}: no frames")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        by_shape = {}
        for n, im in zip(names, images):
            by_shape.setdefault(im.shape[:2], n)
        raise FramesError(f"{folder}: frames have mismatched sizes: " + ", ".join(f"{n} is {s[1]}x{s[0]}" for s, n in by_shape.items()))
    return PosedFrames(cams, np.stack(images), names, None if depths is None else np.stack(depths),
                       None if labels is None else np.stack(labels))


def _focal(fl, angle, side: int, fallback: float | None = None) -> float:
    """A focal length in pixels: given (fl_x), else from the field of view (camera_angle_x, radians;
    NeRF's synthetic scenes give only that), else `fallback`."""
    if fl is not None:
        return float(fl)
    if angle is not None:
        return 0.5 * side / math.tan(float(angle) / 2)
    if fallback is None:
        raise KeyError("fl_x/fl_y or camera_angle_x")
    return fallback


def read_transforms(folder: str | os.PathLike, size: int | None = None, skip_missing: bool = False) -> PosedFrames:
    """Read a nerfstudio / instant-ngp / NeRF-style folder (OpenGL camera axes in transform_matrix;
    fl_x or camera_angle_x; w and h optional). `size`: downscale so the longer image side is at most
    this. `skip_missing`: drop frames whose image file is absent (instant-ngp's loader does so, and
    its published fox scene lists 67 frames for 50 images) instead of refusing the folder.
    instant-ngp's "aabb_scale", "scale" and "offset" describe its own unit cube and are ignored:
    the poses keep the file's world frame."""
    folder = Path(folder)
    meta_path = folder / "transforms.json"
    meta = read_json(meta_path, FramesError, max_bytes=256 << 20)
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list):
        raise FramesError(f"{meta_path}: needs a 'frames' list")
    frames = meta["frames"]
    if len(frames) > MAX_FRAMES:
        raise FramesError(f"{meta_path}: {len(frames)} frames; at most {MAX_FRAMES}")
    # Resolve every path first, so missing files are reported together, before any decoding.
    missing, resolved, present = [], [], []
    for i, fr in enumerate(frames):
        if not isinstance(fr, dict):
            raise FramesError(f"{meta_path}: frame {i} is not an object")
        img = _inside(folder, fr.get("file_path"), f"frame {i} file_path")
        if not img.is_file():
            if skip_missing:
                continue
            missing.append(fr["file_path"])
        present.append((i, fr))
        extra = {k: _inside(folder, fr[k], f"frame {i} {k}") for k in ("depth_file_path", "label_file_path") if k in fr}
        for k, p in extra.items():
            if not p.is_file():
                missing.append(fr[k])
        resolved.append((img, extra))
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise FramesError(f"{meta_path}: {len(missing)} frame files are missing: {shown}")
    if not present:
        raise FramesError(f"{meta_path}: none of the {len(frames)} frames' images exist")
    cams, images, names, depths, labels = [], [], [], [], []
    budget = PixelBudget(meta_path)
    has_depth = all("depth_file_path" in e for _, e in resolved)
    has_label = all("label_file_path" in e for _, e in resolved)
    for (i, fr), (img_path, extra) in zip(present, resolved):
        where = f"{meta_path}: frame {i} ({fr['file_path']})"
        get = lambda k: fr.get(k, meta.get(k))  # noqa: E731 - per-frame values override the shared ones
        image, scale = _load_image(img_path, size, budget)  # first: w and h default to the image's own size
        try:
            w0 = int(get("w")) if get("w") is not None else round(image.shape[1] / scale)
            h0 = int(get("h")) if get("h") is not None else round(image.shape[0] / scale)
            fx = _focal(get("fl_x"), get("camera_angle_x"), w0)
            fy = _focal(get("fl_y"), get("camera_angle_y"), h0, fallback=fx)
            cx = float(get("cx")) if get("cx") is not None else w0 / 2
            cy = float(get("cy")) if get("cy") is not None else h0 / 2
            dist = tuple(float(get(k) or 0.0) for k in ("k1", "k2", "p1", "p2"))
            c2w = np.asarray(fr["transform_matrix"], dtype=np.float64)
        except (TypeError, ValueError, KeyError) as e:
            raise FramesError(f"{where}: missing or non-numeric intrinsics/pose ({e})") from None
        if c2w.shape != (4, 4) or not np.isfinite(c2w).all():  # checked before any arithmetic on it
            raise FramesError(f"{where}: transform_matrix must be a finite 4x4 matrix")
        c2w = c2w @ OPENGL_FROM_OPENCV
        _check_intrinsics(where, (fx, fy, cx, cy, *dist))
        if (round(w0 * scale), round(h0 * scale)) != (image.shape[1], image.shape[0]):
            raise FramesError(f"{where}: image is {image.shape[1]}x{image.shape[0]} but transforms.json says {w0}x{h0}")
        K = np.array([[fx * scale, 0, cx * scale], [0, fy * scale, cy * scale], [0, 0, 1]])
        image = undistort(image, K, dist)
        cams.append(_frame_camera(K, c2w, image.shape[1], image.shape[0], where))
        images.append(image)
        names.append(fr["file_path"])
        if has_depth:
            depth = _load_array(extra["depth_file_path"], where, np.floating)
            if not np.isfinite(depth).all():
                raise FramesError(f"{where}: depth has NaN or infinite values")
            depths.append(_match(undistort(depth, K, dist, order=0), image.shape, where, "depth"))
        if has_label:
            label = _load_array(extra["label_file_path"], where, np.integer)
            labels.append(_match(undistort(label, K, dist, order=0), image.shape, where, "labels").astype(np.int32))
    return _finish(folder, cams, images, names, depths if has_depth else None, labels if has_label else None)


def _load_array(path: Path, where: str, kind) -> np.ndarray:
    def check(shape, dtype) -> str | None:  # before anything is allocated
        if len(shape) != 2 or math.prod(shape) > MAX_IMAGE_PIXELS or not np.issubdtype(dtype, kind):
            return f"({where}) must be a 2-D {kind.__name__} array, got {dtype} {shape}"
        return None

    return read_npy(path, FramesError, check)


def _match(a: np.ndarray, image_shape, where: str, what: str) -> np.ndarray:
    h, w = image_shape[:2]
    if a.shape == (h, w):
        return a
    if a.shape[0] * w != a.shape[1] * h:
        raise FramesError(f"{where}: {what} is {a.shape[1]}x{a.shape[0]}, not the image's aspect {w}x{h}")
    ys = (np.arange(h) * a.shape[0] / h).astype(int)
    xs = (np.arange(w) * a.shape[1] / w).astype(int)
    return a[ys][:, xs]  # nearest: depth and labels must not be blended


# ---- COLMAP -----------------------------------------------------------------------------------
COLMAP_MODELS = {"SIMPLE_PINHOLE": 3, "PINHOLE": 4, "SIMPLE_RADIAL": 4, "RADIAL": 5, "OPENCV": 8}


def colmap_intrinsics(model: str, params) -> tuple[float, ...]:
    """A COLMAP camera (model name, its parameter list) -> (fx, fy, cx, cy, k1, k2, p1, p2), the
    OpenCV-model values that `undistort` takes. COLMAP's pixel centres are at +0.5, as ours."""
    params = [float(v) for v in params]
    if model not in COLMAP_MODELS or len(params) != COLMAP_MODELS[model]:
        raise FramesError(f"unsupported COLMAP camera {model} with {len(params)} parameters (models: {', '.join(COLMAP_MODELS)})")
    if model == "SIMPLE_PINHOLE":
        f, cx, cy = params
        return (f, f, cx, cy, 0.0, 0.0, 0.0, 0.0)
    if model == "PINHOLE":
        return (*params, 0.0, 0.0, 0.0, 0.0)
    if model == "SIMPLE_RADIAL":
        f, cx, cy, k1 = params
        return (f, f, cx, cy, k1, 0.0, 0.0, 0.0)
    if model == "RADIAL":
        f, cx, cy, k1, k2 = params
        return (f, f, cx, cy, k1, k2, 0.0, 0.0)
    return tuple(params)


def c2w_from_colmap(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """COLMAP's cam_from_world (R [3, 3], t [3]; OpenCV camera axes, as ours) -> our c2w [4, 4]."""
    R, t = np.asarray(R, dtype=np.float64), np.asarray(t, dtype=np.float64).reshape(3)
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = R.T, -R.T @ t
    return c2w


def _colmap_lines(path: Path, keep_empty: bool = False):
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("#") and (line or keep_empty):
                    yield number, line
    except OSError as e:
        raise FramesError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise FramesError(f"{path}: not a COLMAP text file") from None


def _quat_to_R(qw, qx, qy, qz) -> np.ndarray:
    q = np.array([qw, qx, qy, qz]) / np.linalg.norm([qw, qx, qy, qz])
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def read_colmap(model_dir: str | os.PathLike, images_dir: str | os.PathLike, size: int | None = None) -> PosedFrames:
    """Read COLMAP's text model (cameras.txt, images.txt) and its images, undistorted."""
    model_dir, images_dir = Path(model_dir), Path(images_dir)
    cams_txt = {}
    for number, line in _colmap_lines(model_dir / "cameras.txt"):
        parts = line.split()
        where = f"{model_dir / 'cameras.txt'}: line {number}"
        if len(parts) < 4 or parts[1] not in COLMAP_MODELS:
            raise FramesError(f"{where}: unsupported camera line (models: {', '.join(COLMAP_MODELS)})")
        try:
            params = [float(v) for v in parts[4:]]
            cam_id, w, h = int(parts[0]), int(parts[2]), int(parts[3])
        except ValueError:
            raise FramesError(f"{where}: non-numeric camera values") from None
        if len(params) != COLMAP_MODELS[parts[1]]:
            raise FramesError(f"{where}: {parts[1]} takes {COLMAP_MODELS[parts[1]]} parameters, got {len(params)}")
        _check_intrinsics(where, params)
        cams_txt[cam_id] = (w, h, colmap_intrinsics(parts[1], params))
    lines = list(_colmap_lines(model_dir / "images.txt", keep_empty=True))
    while lines and not lines[-1][1]:
        lines.pop()
    entries = []
    # images.txt alternates a pose line and a (possibly empty) line of 2D points; some writers leave
    # the points lines out. A points line is all numbers; a pose line ends with an image name.
    k = 0
    while k < len(lines):
        number, line = lines[k]
        parts = line.split()
        if len(parts) < 10 or not _is_pose_line(parts):
            raise FramesError(f"{model_dir / 'images.txt'}: line {number} is not 'IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME'")
        entries.append((number, parts))
        k += 2 if k + 1 < len(lines) and _is_points_line(lines[k + 1][1]) else 1
    if len(entries) > MAX_FRAMES:
        raise FramesError(f"{model_dir / 'images.txt'}: {len(entries)} images; at most {MAX_FRAMES}")
    missing = [p[9] for _, p in entries if not _inside(images_dir, " ".join(p[9:]), "image name").is_file()]
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise FramesError(f"{images_dir}: {len(missing)} images named in images.txt are missing: {shown}")
    cams, images, names = [], [], []
    budget = PixelBudget(model_dir / "images.txt")
    for number, p in sorted(entries, key=lambda e: " ".join(e[1][9:])):
        name = " ".join(p[9:])
        where = f"{model_dir / 'images.txt'}: line {number} ({name})"
        cam_id = int(p[8])
        if cam_id not in cams_txt:
            raise FramesError(f"{where}: camera {cam_id} is not in cameras.txt")
        w, h, (fx, fy, cx, cy, *dist) = cams_txt[cam_id]
        q, t = np.array([float(v) for v in p[1:5]]), np.array([float(v) for v in p[5:8]])
        # Checked before any arithmetic, so NaN, inf or overflowing values never reach it.
        if not (np.abs(t) < 1e100).all() or not 1e-8 < np.abs(q).max() < 1e100:
            raise FramesError(f"{where}: the pose needs finite numbers (|x| < 1e100) and a non-zero quaternion")
        R = _quat_to_R(*q)
        image, scale = _load_image(_inside(images_dir, name, "image name"), size, budget)
        if (round(w * scale), round(h * scale)) != (image.shape[1], image.shape[0]):
            raise FramesError(f"{where}: image is {image.shape[1]}x{image.shape[0]}, camera {cam_id} says {w}x{h}")
        K = np.array([[fx * scale, 0, cx * scale], [0, fy * scale, cy * scale], [0, 0, 1]])
        image = undistort(image, K, tuple(dist))
        cams.append(_frame_camera(K, c2w_from_colmap(R, t), image.shape[1], image.shape[0], where))
        images.append(image)
        names.append(name)
    return _finish(model_dir, cams, images, names, None, None)


def _is_points_line(line: str) -> bool:
    """An images.txt POINTS2D line: empty, or only numbers (X Y POINT3D_ID triples)."""
    try:
        [float(v) for v in line.split()]
        return True
    except ValueError:
        return False


def _is_pose_line(parts: list[str]) -> bool:
    try:
        int(parts[0]), [float(v) for v in parts[1:8]], int(parts[8])
        return True
    except ValueError:
        return False


def find_colmap_model(folder: str | os.PathLike) -> Path | None:
    """The COLMAP text model in a capture folder: sparse/0, sparse or the folder itself (None if none)."""
    folder = Path(folder)
    return next((p for p in (folder / "sparse" / "0", folder / "sparse", folder) if (p / "cameras.txt").is_file()), None)


def read_frames(folder: str | os.PathLike, size: int | None = None, skip_missing: bool = False) -> PosedFrames:
    """A posed capture folder: transforms.json (nerfstudio / instant-ngp / worldgen) or a COLMAP text
    model (sparse/0, sparse or the folder, with its images in images/). `skip_missing`: frames of a
    transforms.json whose image is absent are left out instead of refused (instant-ngp's loader)."""
    folder = Path(folder)
    if (folder / "transforms.json").is_file():
        return read_transforms(folder, size=size, skip_missing=skip_missing)
    model = find_colmap_model(folder)
    if model is None:
        raise FramesError(f"{folder}: no transforms.json and no COLMAP text model (cameras.txt, images.txt)")
    return read_colmap(model, folder / "images", size=size)
