"""A world on disk (shared/DESIGN.md): world.json, layout.json, frames/, scene.ply, mesh.glb,
collider.glb, flythrough.mp4. Worlds are built in a temporary sibling folder and renamed into
place, so a failed step never leaves a half-written world that looks complete."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from renderer import Camera, GaussianScene, load_scene
from renderer.formats.base import atomic_write, current_umask, output_error, read_json, writing
from renderer.layout import Layout
from renderer.errors import InputFileError

from .manifest import DERIVED, READABLE_VERSIONS, WorldManifest, upgrade

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES = 16 << 20  # world.json: cameras and timings; far larger is not a manifest
MAX_FILE_NAME_CHARS = 255


class WorldError(InputFileError):
    """A world folder that cannot be read or written."""


@dataclass
class World:
    path: Path
    manifest: dict
    _scene: GaussianScene | None = field(default=None, repr=False)

    @property
    def scene(self) -> GaussianScene:
        if self._scene is None:
            self._scene = load_scene(self.path / self.manifest["files"]["scene"])
        return self._scene

    @property
    def layout(self) -> Layout | None:
        name = self.manifest["files"].get("layout")
        return Layout.load(self.path / name) if name else None

    def file(self, key: str) -> Path | None:
        name = self.manifest["files"].get(key)
        return None if name is None else self.path / name

    @property
    def info(self) -> WorldManifest:
        """world.json, typed."""
        return WorldManifest.from_dict(self.manifest)

    @property
    def metrics(self) -> dict:
        """Held-out PSNR/SSIM of the lift and whatever else the pipeline measured."""
        return dict(self.manifest.get("metrics") or {})

    @property
    def cameras(self) -> list[Camera]:
        """The cameras of the frames the world was lifted from."""
        from renderer.camera import CameraError

        cams = []
        for i, c in enumerate(self.manifest.get("cameras") or []):
            try:
                cams.append(Camera.from_dict(c))
            except CameraError as e:  # a hand-edited manifest
                raise WorldError(f"{self.path / 'world.json'}: camera {i}: {e}"[:300]) from None
        return cams

    def save(self, out: str | os.PathLike, overwrite: bool = False) -> Path:
        """Copy the world to `out` atomically: a temporary sibling renamed into place."""
        out = Path(out)
        if out.exists() and out.resolve() == self.path.resolve():
            return out
        with WorldWriter.update(self, out, overwrite) as writer:
            return writer.commit()

    def render(self, camera: Camera):
        """The splats seen by `camera`: rgb [H, W, 3] float32 numpy in [0, 1]."""
        import torch

        from renderer import render

        if not isinstance(camera, Camera):
            raise WorldError(f"render needs a renderer.Camera, got {type(camera).__name__}")
        with torch.no_grad():
            return render(self.scene, camera, with_labels=False).rgb[0].clamp(0, 1).numpy()

    def export(self, fmt: str, path: str | os.PathLike, axes: str = "opengl") -> Path:
        """ply | splat | spz (the splats), glb (the mesh), mp4 (a flythrough), in the axis convention `axes`."""
        from .export import export_world

        return export_world(self, fmt, path, axes=axes)


def manifest_json(manifest: dict) -> bytes:
    """Canonical form: sorted keys, fixed indentation, so save -> load -> save is byte-stable.
    Non-finite numbers (the PSNR of a perfect match) are written as null: NaN and Infinity are not
    JSON, and worldgen's own readers refuse them."""
    return (json.dumps(finite_values(manifest), indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def finite_values(value):
    """`value` with NaN and infinities (at any depth of dicts and lists) as None: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_values(v) for v in value]
    return value


MANIFEST_TYPES = {"cameras": list, "metrics": dict, "timings_s": dict, "inputs": dict, "config": dict, "models": dict,
                  "source_info": dict, "warnings": list, "ignored_words": list, "stale": list, "expansions": list}


def load_world(path: str | os.PathLike) -> World:
    path = Path(path)
    try:
        found = (path / "world.json").exists()  # a FIFO or device here gets read_json's own refusal
    except OSError as e:  # a name longer than the OS allows, a permission: not a "missing" file
        raise WorldError(f"{str(path)[:200]}: cannot read it: {e.strerror}") from None
    if not found:
        raise WorldError(f"{str(path)[:200]}: not a world folder (it has no world.json)")
    manifest = read_json(path / "world.json", WorldError, max_bytes=MAX_MANIFEST_BYTES)
    version = manifest.get("version") if isinstance(manifest, dict) else None
    if type(version) is not int or version not in READABLE_VERSIONS or not isinstance(manifest.get("files"), dict):  # True == 1
        raise WorldError(f"{path / 'world.json'}: not a world manifest of version {' or '.join(map(str, READABLE_VERSIONS))}")
    if "scene" not in manifest["files"]:
        raise WorldError(f"{path / 'world.json'}: names no scene file")
    manifest, filled = upgrade(manifest)
    for note in filled:
        log.warning("%s: %s", path / "world.json", note)
    for key, kind in MANIFEST_TYPES.items():
        if manifest.get(key) is not None and not isinstance(manifest[key], kind):
            raise WorldError(f"{path / 'world.json'}: {key} must be a JSON {'list' if kind is list else 'object'}")
    for key, name in manifest["files"].items():
        if not isinstance(name, str) or not name or "\0" in name or len(name) > MAX_FILE_NAME_CHARS:
            raise WorldError(f"{path / 'world.json'}: file {key!r} must be a relative path of at most "
                             f"{MAX_FILE_NAME_CHARS} characters, got {name!r}"[:300])
        try:
            p = (path / name).resolve()
            inside, present = p.is_relative_to(path.resolve()), p.exists()
        except OSError as e:  # a name the file system refuses (too long, a loop of links)
            raise WorldError(f"{path / 'world.json'}: file {key} {name[:80]!r}: {e.strerror or e}") from None
        if not inside:
            raise WorldError(f"{path / 'world.json'}: file {key} {name!r} points outside the world folder")
        if not present:
            raise WorldError(f"{path}: {key} file {name} is missing")
    return World(path, manifest)


class WorldWriter:
    """Collects a world's files in a temporary folder beside `out`; `commit` renames it into place."""

    def __init__(self, out: str | os.PathLike, overwrite: bool = False):
        self.out = Path(out)
        self.check_target(self.out, overwrite)
        with writing(self.out):
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        self.manifest: dict = WorldManifest().to_dict()
        self._clock = time.perf_counter()

    @staticmethod
    def check_target(out: str | os.PathLike, overwrite: bool = False) -> None:
        """Refuse a folder that exists and holds something (unless overwrite), or a file in its place."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise WorldError(f"{out}: exists and is not a folder")
        if out.is_dir() and any(out.iterdir()) and not overwrite:
            raise WorldError(f"{out}: exists and is not empty (pass overwrite to replace it)")

    @classmethod
    def update(cls, world: "World", out: str | os.PathLike | None = None, overwrite: bool = True) -> "WorldWriter":
        """A writer for a new version of `world` (in its own folder, or at `out`): its files copied in,
        its manifest to amend; `commit` puts it in place in one rename, so a failure leaves what was
        there as it was."""
        writer = cls(world.path if out is None else out, overwrite=overwrite)
        with writer:
            shutil.copytree(world.path, writer.tmp, dirs_exist_ok=True, symlinks=False)
        writer.manifest = json.loads(json.dumps(world.manifest))
        writer.manifest.setdefault("timings_s", {})
        return writer

    def path(self, name: str) -> Path:
        return self.tmp / name

    def add(self, key: str, name: str) -> Path:
        self.manifest["files"][key] = name
        return self.tmp / name

    def scene_changed(self) -> None:
        """The scene was rewritten: mark what was derived from it (and is in this world) stale."""
        present = {k for k in DERIVED if k in self.manifest["files"] or (k == "metrics" and self.manifest.get("metrics"))}
        self.manifest["stale"] = sorted(set(self.manifest.get("stale") or []) | present)

    def timed(self, stage: str) -> None:
        """Record the seconds since the previous stage ended under `stage`."""
        now = time.perf_counter()
        self.manifest["timings_s"][stage] = round(now - self._clock, 3)
        self._clock = now

    def commit(self) -> Path:
        self.manifest["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        atomic_write(self.tmp / "world.json", [manifest_json(self.manifest)])
        if self.out.exists():  # renamed aside, not deleted first: no moment without a whole world
            aside = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old.", dir=self.out.parent))
            os.replace(self.out, aside / self.out.name)
            os.replace(self.tmp, self.out)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(self.tmp, self.out)
        os.chmod(self.out, 0o777 & ~current_umask())  # mkdtemp makes 0700
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "WorldWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            if isinstance(exc, OSError):  # a full disk while writing any file of the world
                raise output_error(self.out, exc) from exc
