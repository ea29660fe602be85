"""A live walk through a world: each action moves the camera and the frame model makes the next
frame from the session's spatial memory, which keeps every frame it made (up to its bound)."""

from __future__ import annotations

import math
from collections import deque

import torch

from renderer.camera import Camera, look_at_c2w
from renderer.errors import ArgumentError

from .frame_model import FrameModel
from .inputs import Condition, MemoryFrame
from .memory import SpatialMemory
from .rollout import GuideFn, rollout

ACTIONS = ("move", "strafe", "rise", "turn", "look")


def moved(camera: Camera, action: str, amount: float) -> Camera:
    """The camera after one action: move / strafe / rise by `amount` metres along its heading, its
    right or world up; turn (yaw about world +Z, left positive) or look (pitch, up positive) by
    `amount` degrees. Pitch is kept within +-85 degrees."""
    if action not in ACTIONS:
        raise ArgumentError(f"unknown action {action!r}; choose from {', '.join(ACTIONS)}")
    if not math.isfinite(amount):
        raise ArgumentError(f"action amount must be finite, got {amount}")
    fwd = camera.forward.double()
    yaw = math.atan2(float(fwd[1]), float(fwd[0]))
    pitch = math.asin(max(-1.0, min(1.0, float(fwd[2]))))
    eye = camera.position.double().clone()
    heading = torch.tensor([math.cos(yaw), math.sin(yaw), 0.0], dtype=torch.float64)
    if action == "move":
        eye += amount * heading
    elif action == "strafe":
        eye += amount * torch.tensor([math.sin(yaw), -math.cos(yaw), 0.0], dtype=torch.float64)  # to the right
    elif action == "rise":
        eye[2] += amount
    elif action == "turn":
        yaw += math.radians(amount)
    else:
        pitch = max(-math.radians(85), min(math.radians(85), pitch + math.radians(amount)))
    look = torch.tensor([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)],
                        dtype=torch.float64)
    return Camera(camera.K, look_at_c2w(eye, eye + look), camera.width, camera.height)


class WorldSession:
    """`step(action, amount)` or `step(camera)` -> the next MemoryFrame.

    bounds: (lo [3], hi [3]) of the world, metres; a step that would leave them stops at the
      boundary (`blocked` is then True), as walking into a wall would.
    history: how many of the latest frames `frames` keeps; the spatial memory (bounded too) keeps
      the frames that cover the world best, so an endless walk holds constant memory.
    """

    def __init__(self, model: FrameModel, start: Camera, condition: Condition | None = None,
                 memory: SpatialMemory | None = None, guide: GuideFn | None = None, k: int = 4, steps: int = 4,
                 seed: int = 0, bounds: tuple[torch.Tensor, torch.Tensor] | None = None, history: int = 64):
        self.model, self.camera, self.condition = model, start, condition
        self.memory = memory if memory is not None else SpatialMemory()
        self.guide, self.k, self.steps, self.seed = guide, k, steps, seed
        self.bounds = None if bounds is None else (torch.as_tensor(bounds[0]).double(), torch.as_tensor(bounds[1]).double())
        self.frames: deque[MemoryFrame] = deque(maxlen=history)
        self.given = list(self.memory.frames)  # frames the session started from (not generated)
        self.made = 0
        self.blocked = False

    def _inside(self, cam: Camera) -> Camera:
        if self.bounds is None:
            return cam
        eye = cam.position.double()
        kept = torch.maximum(torch.minimum(eye, self.bounds[1]), self.bounds[0])
        self.blocked = bool((kept != eye).any())
        if not self.blocked:
            return cam
        c2w = cam.c2w.clone()
        c2w[:3, 3] = kept.to(c2w.dtype)
        return Camera(cam.K, c2w, cam.width, cam.height)

    def step(self, action: str | Camera, amount: float = 0.0) -> MemoryFrame:
        cam = action if isinstance(action, Camera) else moved(self.camera, action, amount)
        if (cam.width, cam.height) != (self.camera.width, self.camera.height):
            raise ArgumentError(f"a session keeps its frame size {self.camera.width}x{self.camera.height}; "
                             f"got a {cam.width}x{cam.height} camera")
        cam = self._inside(cam)
        frame = next(rollout(self.model, [cam], self.condition, self.memory, self.guide, self.k, self.steps,
                             seed=self.seed * 7919 + self.made))
        self.camera = cam
        self.made += 1
        self.frames.append(frame)
        return frame

    def generated(self) -> list[MemoryFrame]:
        """The generated frames the memory holds now (what `expand` lifts into the world)."""
        return [f for f in self.memory.frames if not any(f is g for g in self.given)]
