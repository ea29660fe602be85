"""Resource limits a user can raise or lower: each is `WORLDGEN_<NAME>` in the environment, else
its default, chosen so that one job keeps a 24 GB machine alive (docs/RELIABILITY.md lists them)."""

from __future__ import annotations

import os

from .errors import ArgumentError

DEFAULTS = {
    "MAX_TOTAL_PIXELS": 200_000_000,  # decoded frame pixels per job (float32 RGB: 2.4 GB)
}


def limit(name: str) -> int:
    """The limit `name` (a DEFAULTS key): the environment's WORLDGEN_<name> if set, else the default."""
    raw = os.environ.get(f"WORLDGEN_{name}")
    if raw is None:
        return DEFAULTS[name]
    try:
        value = int(raw)
    except ValueError:
        raise ArgumentError(f"WORLDGEN_{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ArgumentError(f"WORLDGEN_{name} must be positive, got {value}")
    return value
