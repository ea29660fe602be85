"""Per-user storage for the editor: each browser (an owner, named by an HttpOnly cookie) has its
own folder of worlds; nothing outside it is ever read or served for that owner.

    root/<sha256(owner token)[:32]>/<world id>/           a world folder (worldgen's format)
    root/<sha256(owner token)[:32]>/<world id>.exports/   files made for download

Ids and file names from the browser are checked against strict patterns and resolved inside the
owner's folder, so no path from a request reaches the file system as given.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from worldgen.errors import WorldgenError

OWNER_TOKEN = re.compile(r"^[0-9a-f]{32}$")
WORLD_ID = re.compile(r"^w[0-9a-f]{12}$")
EXPORT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(ply|splat|spz|glb|mp4|gif|zip)$")
MAX_WORLDS_PER_OWNER = 12


class SessionError(WorldgenError):
    """A request for something outside the user's own session, or over a session limit."""


def new_owner_token() -> str:
    return secrets.token_hex(16)


class Workspace:
    def __init__(self, root: str | Path, max_worlds: int = MAX_WORLDS_PER_OWNER):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_worlds = max_worlds
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    # owners and worlds -----------------------------------------------------------------------------
    def owner_dir(self, token: str | None) -> Path:
        if not isinstance(token, str) or not OWNER_TOKEN.match(token):
            raise SessionError("this browser has no editor session (cookies must be enabled); reload the page")
        d = self.root / hashlib.sha256(token.encode()).hexdigest()[:32]
        d.mkdir(exist_ok=True)
        return d

    def worlds(self, token: str) -> list[str]:
        """The owner's world ids, newest first."""
        d = self.owner_dir(token)
        found = [p for p in d.iterdir() if p.is_dir() and WORLD_ID.match(p.name) and (p / "world.json").is_file()]
        return [p.name for p in sorted(found, key=lambda p: (-p.stat().st_mtime, p.name))]

    def world_dir(self, token: str, world_id: str | None) -> Path:
        """The folder of one of the owner's worlds; anything else is refused."""
        if not isinstance(world_id, str) or not WORLD_ID.match(world_id):
            raise SessionError("no world is open; generate one or pick one of yours")
        path = self.owner_dir(token) / world_id
        if not (path / "world.json").is_file():
            raise SessionError(f"world {world_id} is not one of yours")
        return path

    def new_world_path(self, token: str) -> tuple[str, Path]:
        """(id, folder path) for a world about to be saved; the folder does not exist yet."""
        if len(self.worlds(token)) >= self.max_worlds:
            raise SessionError(f"you have {self.max_worlds} worlds, the most a session keeps; delete one first")
        world_id = "w" + secrets.token_hex(6)
        return world_id, self.owner_dir(token) / world_id

    def delete_world(self, token: str, world_id: str) -> None:
        path = self.world_dir(token, world_id)
        shutil.rmtree(path.with_name(world_id + ".exports"), ignore_errors=True)
        trash = path.with_name(f".{world_id}.deleted.{time.time_ns()}")
        path.rename(trash)  # gone from the list at once, removed after
        shutil.rmtree(trash, ignore_errors=True)

    # exports -------------------------------------------------------------------------------------------
    def exports_dir(self, token: str, world_id: str) -> Path:
        d = self.world_dir(token, world_id).with_name(world_id + ".exports")
        d.mkdir(exist_ok=True)
        return d

    def export_file(self, token: str | None, world_id: str, name: str) -> Path:
        """A file made for download by this owner; refused for any other owner or name."""
        if not isinstance(name, str) or not EXPORT_NAME.match(name):
            raise SessionError("no such file in your session")
        try:
            path = self.world_dir(token, world_id).with_name(world_id + ".exports") / name
        except SessionError:
            raise SessionError("no such file in your session") from None
        if not path.is_file() or path.is_symlink():
            raise SessionError("no such file in your session")
        return path

    # one edit at a time per world ----------------------------------------------------------------------
    @contextmanager
    def editing(self, token: str, world_id: str):
        """Hold the world's lock; a second edit of the same world meanwhile is refused, not queued
        behind it (the other tab sees a message and tries again)."""
        key = (self.owner_dir(token).name, world_id)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if not lock.acquire(blocking=False):
            raise SessionError("this world is being changed in another tab or window; try again in a moment")
        try:
            yield
        finally:
            lock.release()
