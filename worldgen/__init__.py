"""worldgen: the Python API, pipeline and CLI (imports rtfm and renderer)."""

from renderer import Camera, GaussianScene, RenderOutput, load_scene, render, save_scene

__version__ = "0.1.0"
__all__ = ["Camera", "GaussianScene", "RenderOutput", "load_scene", "render", "save_scene"]
