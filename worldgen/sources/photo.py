"""One photo -> frames: the photo becomes frame 0 of the spatial memory (its depth predicted by the
frame model), and the frame model generates the views around it along an exploration path."""

from __future__ import annotations

import os

import torch

from renderer import Camera
from renderer.view import exploration_path

from ..config import GenerateConfig
from ..images import DEFAULT_FOV_Y_DEG, read_image
from .base import CAPTURE_OPTIONS, BuildContext, FrameSource, SourceFrames

EYE = (0.0, 0.0, 1.5)  # the photo's camera: 1.5 m above the origin, looking along +X (level)
MAX_SIDE = 1024  # photos are read at most this large


def photo_camera(width: int, height: int, fov_y_deg: float) -> Camera:
    return Camera.look_at(EYE, (EYE[0] + 1.0, EYE[1], EYE[2]), width=width, height=height, fov_y_deg=fov_y_deg)


def lift_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """A frame's size with its short side at `short_side`, aspect kept."""
    k = short_side / min(width, height)
    return max(8, round(width * k)), max(8, round(height * k))


def photo_frames(model, photo: torch.Tensor, camera: Camera, context: BuildContext, text: torch.Tensor | None,
                 frames: int, short_side: int):
    """A photo [H, W, 3] in [0, 1] seen by `camera` -> (PosedFrames with `short_side` pixels on the
    short side: the photo, then `frames` - 1 generated views around it; the SpatialMemory)."""
    from rtfm.inputs import Condition
    from rtfm.memory import SpatialMemory
    from rtfm.photo import photo_memory
    from rtfm.rollout import rollout

    from .frames import model_frames_at

    seed = context.config.seed
    frame0, _ = photo_memory(model, photo, camera, seed=seed)
    context.timed("photo depth")
    memory = SpatialMemory(capacity=32)
    memory.add(frame0)
    if context.on_frame is not None:
        context.on_frame(0, frames, photo.numpy())
    path = exploration_path(frame0.camera, frames - 1)
    condition = Condition(text=text, images=frame0.rgb[None])
    made = [frame0] + context.report(rollout(model, path, condition, memory, seed=seed), frames, start=1)
    w, h = lift_size(frame0.camera.width, frame0.camera.height, short_side)
    return model_frames_at(made, w, h, rgb=[photo.numpy()] + [None] * (len(made) - 1)), memory


class PhotoSource(FrameSource):
    kind = "photo"
    input = "images"
    options = (CAPTURE_OPTIONS - {"generated"}) | {"frames"}  # `frames`: the photo and the views generated around it

    @classmethod
    def claims(cls, value, config: GenerateConfig) -> bool:
        return isinstance(value, (str, os.PathLike)) or len(value) == 1

    def __init__(self, images, prompt: str | None, config: GenerateConfig):
        super().__init__(images, prompt, config)
        self.path = images if isinstance(images, (str, os.PathLike)) else images[0]
        self.rgb, _, exif_fov = read_image(self.path, max_side=MAX_SIDE)
        self.fov = config.fov_y_deg or exif_fov or DEFAULT_FOV_Y_DEG
        self.fov_from = "argument" if config.fov_y_deg else ("exif" if exif_fov else "default")

    def inputs(self) -> dict:
        return {"image": str(self.path), "prompt": self.prompt}

    def frames(self, context: BuildContext) -> SourceFrames:
        cfg = context.config
        h, w = self.rgb.shape[:2]
        posed, memory = photo_frames(context.frame_model(), torch.from_numpy(self.rgb), photo_camera(w, h, self.fov),
                                     context, context.text_states(self.prompt), cfg.value("frames"),
                                     cfg.value("resolution"))
        return SourceFrames(posed, memory=memory, models={"frames": f"rtfm ({cfg.frame_model.name})"},
                            section={"fov_y_deg": round(self.fov, 3), "fov_from": self.fov_from, "generated_from": 1})
