"""worldgen: the Python API, pipeline and CLI (imports rtfm and renderer)."""

from renderer import Camera, GaussianScene, RenderOutput, load_scene, render, save_scene

from .api import generate
from .errors import WorldgenError
from .world import World, load_world

__version__ = "0.1.0"
__all__ = ["Camera", "GaussianScene", "RenderOutput", "World", "WorldgenError", "generate", "load_world", "load_scene",
           "render", "save_scene"]
