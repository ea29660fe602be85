"""Files worldgen writes: every write is atomic (temporary name, then rename)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from renderer.errors import ArgumentError
from renderer.formats.base import atomic_write

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def check_image_path(path: str | os.PathLike) -> str:
    """The PIL format an image path's extension names; ArgumentError for any other extension."""
    path = Path(path)
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ArgumentError(f"{path}: unsupported image extension {path.suffix!r} (use .png or .jpg)")
    return fmt


def save_image(rgb: torch.Tensor | np.ndarray, path: str | os.PathLike) -> None:
    """Save an [H, W, 3] float image in [0, 1] as PNG or JPEG, atomically."""
    path = Path(path)
    fmt = check_image_path(path)
    arr = rgb.detach().cpu().numpy() if isinstance(rgb, torch.Tensor) else np.asarray(rgb)
    buf = io.BytesIO()
    Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, format=fmt)
    atomic_write(path, [buf.getvalue()])
