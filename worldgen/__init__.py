"""worldgen: the Python API, pipeline and CLI (imports rtfm and renderer)."""

import os

# OpenMP threads that spin while they wait make torch many times slower whenever another process
# holds a core (lifting runs thousands of small parallel ops); sleeping instead costs little. Set
# before torch loads its OpenMP runtime; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from renderer import Camera, GaussianScene, RenderOutput, load_scene, render, save_scene

from .api import generate
from .errors import WorldgenError
from .world import World, load_world

__version__ = "0.1.0"
__all__ = ["Camera", "GaussianScene", "RenderOutput", "World", "WorldgenError", "generate", "load_world", "load_scene",
           "render", "save_scene"]
