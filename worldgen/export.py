"""Exports of a world in other tools' formats and axis conventions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from renderer import save_scene
from renderer.axes import world_to_axes
from renderer.errors import ArgumentError
from renderer.mesh import save_glb

from .flythrough import flythrough_frames, write_video
from .pipeline import refresh_derived
from .world import World, load_world


def export_world(world: World, fmt: str, out: str | os.PathLike, axes: str = "opengl") -> Path:
    """ply | splat | spz (the splats), glb (the mesh), mp4 (a flythrough), in the chosen axis convention.

    spz readers (Spark, Marble, nianticlabs/spz) assume RUB, which is axes="opengl", the default."""

    out = Path(out)
    rot = torch.from_numpy(world_to_axes(axes)).float()
    if fmt in ("ply", "splat", "spz"):
        scene = world.scene.transform(rot)
        out = out.with_suffix(f".{fmt}") if out.suffix != f".{fmt}" else out
        save_scene(scene, out)
        return out
    if fmt == "glb":
        import trimesh

        if {"mesh", "collider"} & set(world.manifest.get("stale") or []):  # the scene changed since the mesh was made
            world = load_world(refresh_derived(world, keys=("mesh", "collider")))
        src = world.file("mesh")
        if src is None:
            raise ArgumentError(f"{world.path}: this world has no mesh")
        mesh = trimesh.load(src, force="mesh")  # stored in the OpenGL convention (+Y up)
        mesh.apply_transform(np.linalg.inv(world_to_axes("opengl")))
        save_glb(mesh, out, axes=axes)
        return out
    if fmt == "mp4":
        size = (world.manifest.get("config") or {}).get("flythrough_size") or 512
        return write_video(flythrough_frames(world.scene, world.cameras, size=int(size)), out)
    raise ArgumentError(f"unknown export format {fmt!r}; choose from ply, splat, spz, glb, mp4")
