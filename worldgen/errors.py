"""worldgen's error types, re-exported from the lowest layer (renderer/errors.py)."""

from renderer.errors import WorldgenError

__all__ = ["WorldgenError"]
