"""Reading a user's image: any size or mode in, RGB float32 [H, W, 3] in [0, 1] out.

Grey, 16-bit, float, palette, CMYK and alpha images are all converted (alpha composited over
white); EXIF orientation is applied; big images are decoded at reduced size where the format
allows (JPEG draft mode) and downscaled so the longer side is at most `max_side`, so a 10k x 10k
photo costs a few hundred MB at most. Images that would decode to more than MAX_IMAGE_PIXELS
(decompression bombs) are refused before decoding: a JPEG counts at the reduced size it is decoded
at, so a 20000 x 10000 panorama read with max_side 4096 decodes at 5000 x 2500, never whole; a
format that cannot be decoded reduced counts whole. Every problem is an ImageError naming the file.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from renderer.errors import InputFileError
from renderer.formats.base import path_kind

MAX_IMAGE_PIXELS = 120_000_000  # 10k x 10k photos pass; bigger claims are refused as bombs
DEFAULT_FOV_Y_DEG = 60.0  # when EXIF gives no focal length
PLAUSIBLE_FOV_Y_DEG = (8.0, 130.0)  # vertical fields of view from telephoto to ultra-wide phone lenses
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # PIL itself raises at twice this


class ImageError(InputFileError):
    """An image that cannot be read; the message names the file and the problem."""


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        return np.repeat((np.clip(a / peak, 0, 1)).astype(np.float32)[..., None], 3, -1)
    if im.mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.repeat(np.clip(a, 0, 1)[..., None], 3, -1)
    if im.mode in ("RGBA", "LA", "PA", "P") and ("A" in im.mode or "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    rgb = np.array(im.convert("RGB"), dtype=np.float32)
    rgb /= 255.0  # in place: a large image's float copy is the biggest array here
    return rgb


def read_image(path: str | os.PathLike, max_side: int | None = 1024,
               exif_orientation: bool = True) -> tuple[np.ndarray, float, float | None]:
    """-> (rgb [H, W, 3] float32 in [0, 1], scale applied to the original size, vertical field of
    view in degrees from EXIF or None). Frames of a posed capture keep their stored orientation
    (`exif_orientation=False`), since their intrinsics describe the stored pixels."""
    path = Path(path)
    kind = path_kind(path, ImageError)
    if kind != "file":
        raise ImageError(f"{path}: {'no such image file' if kind == 'missing' else 'not a regular file'}")
    try:
        with warnings.catch_warnings():
            # PIL warns past MAX_IMAGE_PIXELS (and refuses past twice that) on the size the file claims;
            # the size it will decode at is checked below instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                fov = exif_fov_y(im)
                if max_side is not None and max(w, h) > max_side:
                    im.draft("RGB", (max(1, w * max_side // max(w, h)), max(1, h * max_side // max(w, h))))
                if im.size[0] * im.size[1] > MAX_IMAGE_PIXELS:
                    raise ImageError(f"{path}: {w}x{h} is over {MAX_IMAGE_PIXELS:,} pixels (refused as a decompression bomb)")
                if exif_orientation:
                    im = ImageOps.exif_transpose(im)
                if im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                    im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
                if max_side is not None and max(im.size) > max_side:
                    k = max_side / max(im.size)
                    size = (max(1, round(im.size[0] * k)), max(1, round(im.size[1] * k)))
                    im = im.resize(size, Image.Resampling.LANCZOS if im.mode not in ("I;16", "I;16B", "I;16L", "I")
                                   else Image.Resampling.BILINEAR)
                rgb = _to_rgb(im)
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError) as e:
        raise ImageError(f"{path}: cannot read image: {e}") from None
    turned = rgb.shape[1] != w and rgb.shape[1] * h != rgb.shape[0] * w  # EXIF rotated by 90 degrees
    scale = rgb.shape[0] / w if turned else rgb.shape[1] / w
    return rgb, scale, fov


def exif_fov_y(im: Image.Image) -> float | None:
    """Vertical field of view from EXIF FocalLengthIn35mmFilm (a 36 x 24 mm frame), or None when it
    is missing or implausible (PLAUSIBLE_FOV_Y_DEG)."""
    try:
        exif = im.getexif().get_ifd(0x8769)  # the Exif sub-IFD
        f35 = float(exif.get(0xA405) or 0)  # FocalLengthIn35mmFilm
    except (AttributeError, KeyError, TypeError, ValueError, OSError):
        return None
    if not 4.0 <= f35 <= 2000.0:
        return None
    w, h = im.size
    # The 35 mm equivalent is defined on the frame diagonal (43.27 mm).
    diag = math.hypot(w, h)
    fov = math.degrees(2 * math.atan(43.27 / 2 / f35 * h / diag))
    # EXIF that lies (a tag copied from another camera, a crop) is refused outside what a photo
    # plausibly has; the caller then states the default field of view.
    return fov if PLAUSIBLE_FOV_Y_DEG[0] <= fov <= PLAUSIBLE_FOV_Y_DEG[1] else None
