"""worldgen's explicit 3D layer: cameras, Gaussian scenes, the rasteriser and splat file formats.

Imports neither rtfm, worldgen nor app (shared/DESIGN.md).
"""

from .camera import Camera, CameraError, look_at_c2w, stack_cameras
from .formats import FormatError, load_scene, save_scene
from .gaussians import GaussianScene, SceneError
from .raster import RenderOutput, render

__all__ = [
    "Camera", "CameraError", "look_at_c2w", "stack_cameras",
    "GaussianScene", "SceneError",
    "render", "RenderOutput",
    "load_scene", "save_scene", "FormatError",
]
