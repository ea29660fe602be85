"""Splat file formats, chosen by file extension. A new format is one module plus one line here."""

from __future__ import annotations

import os
from pathlib import Path

from ..gaussians import GaussianScene
from .base import FormatError
from .ply import read_ply, write_ply
from .splat import read_splat, write_splat
from .spz import read_spz, read_spz_header, write_spz

READERS = {".ply": read_ply, ".splat": read_splat, ".spz": read_spz}
WRITERS = {".ply": write_ply, ".splat": write_splat, ".spz": write_spz}


def _suffix(path: str | os.PathLike, table: dict) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in table:
        raise FormatError(path, f"unknown splat format {suffix or '(no extension)'!r}; supported: {', '.join(sorted(table))}")
    return suffix


def load_scene(path: str | os.PathLike) -> GaussianScene:
    """Read a Gaussian scene from .ply (INRIA 3DGS layout), .splat (antimatter15) or .spz (Niantic, v2/v3)."""
    return READERS[_suffix(path, READERS)](path)


def save_scene(scene: GaussianScene, path: str | os.PathLike) -> None:
    """Write a Gaussian scene atomically; the format follows the extension."""
    WRITERS[_suffix(path, WRITERS)](scene, path)


__all__ = ["FormatError", "load_scene", "save_scene", "read_ply", "write_ply", "read_splat", "write_splat",
           "read_spz", "read_spz_header", "write_spz"]
