"""Export axis conventions. worldgen's world frame is +Z up (metres). Viewers differ:

    "world"   unchanged, +Z up
    "opengl"  +Y up (three.js, glTF, gradio's Model3D): (x, y, z) -> (x, z, -y)
    "opencv"  -Y up, as COLMAP/INRIA captures and most splat files are: (x, y, z) -> (x, -z, y)

Each is a proper rotation, so splats keep their handedness and shapes.
"""

from __future__ import annotations

import numpy as np

from .errors import ArgumentError

AXES = {
    "world": np.eye(4),
    "opengl": np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]]),
    "opencv": np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]]),
}


def world_to_axes(axes: str) -> np.ndarray:
    """The 4x4 rotation taking worldgen's world frame to the named export convention."""
    if axes not in AXES:
        raise ArgumentError(f"unknown axes {axes!r}; choose from {', '.join(AXES)}")
    return AXES[axes].copy()
