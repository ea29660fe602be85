"""An equirectangular 360-degree panorama (2:1) -> frames, as Marble accepts one.

The panorama is seen from one point (1.5 m above the origin; its centre column looks along +X,
columns to the right turn right, row 0 is the zenith) as a ring of RING_VIEWS square perspective
views of 90 degrees, each overlapping its neighbours by half. The frame model predicts each view's
depth; the views' scales are then made to agree where they overlap (a least-squares fit of one log
scale per view around the closed ring, their mean kept), so the ring is one consistent room. The
ring is the spatial memory from which the frame model generates views stepping away from the
centre, to fill what the single viewpoint hides. The ring's pixels are resampled from the
panorama at the lift's size, not upsampled from the model's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from renderer import Camera
from renderer.view import exploration_path

from ..config import GenerateConfig
from ..images import read_image
from .base import CAPTURE_OPTIONS, BuildContext, FrameSource, SourceError, SourceFrames
from .frames import model_frames_at
from .photo import EYE

RING_VIEWS = 8  # yaw steps of 45 degrees
VIEW_FOV_DEG = 90.0
ASPECT_TOLERANCE = 0.02  # width / height within 2% of 2
MAX_WIDTH = 4096  # read at most this wide (a larger JPEG decodes at 1/2 .. 1/8 scale: never whole); the
# ring's views need 4x their side: 1536 px for the high effort's 384
MIN_WIDTH = 64
EXPLORE_FROM = 4  # ring views the generated views start from


def ring_cameras(side: int) -> list[Camera]:
    """RING_VIEWS level cameras at EYE, yaw 0 (+X) first, turning left (counter-clockwise from above)."""
    cams = []
    for k in range(RING_VIEWS):
        yaw = 2 * math.pi * k / RING_VIEWS
        target = (EYE[0] + math.cos(yaw), EYE[1] + math.sin(yaw), EYE[2])
        cams.append(Camera.look_at(EYE, target, width=side, height=side, fov_y_deg=VIEW_FOV_DEG))
    return cams


def perspective_view(pano: torch.Tensor, camera: Camera) -> torch.Tensor:
    """The panorama [H, W, 3] as seen by `camera` -> rgb [h, w, 3]; area-averaged first to about the
    view's pixel density, so a large panorama does not alias."""
    from rtfm.layers import resize_map
    from renderer.sky import pixel_directions, sample_sky

    fov_x = 2 * math.atan(camera.width / 2 / float(camera.K[0, 0]))
    width = max(8, round(camera.width * 2 * math.pi / fov_x))
    if pano.shape[1] > width:
        pano = resize_map(pano, width, width // 2, "area")
    # sample_sky's azimuth grows with the column (turning left); a panorama's turns right: mirror it
    texture = pano.flip(1).permute(2, 0, 1).contiguous()
    return sample_sky(texture, pixel_directions(camera))


def ring_scales(distances: list[torch.Tensor], cameras: list[Camera]) -> np.ndarray:
    """One scale per ring view making neighbours' ray distances agree where they overlap: the
    least-squares log scales of the median ratios around the ring, with mean log scale 0."""
    from renderer.sky import pixel_directions

    n, rows, rhs = len(cameras), [], []
    for i in range(n):
        j = (i + 1) % n
        cam = cameras[j]
        # view i's pixel rays, 1 m out from the shared centre, seen by camera j
        uv, z = cam.project(cameras[i].position + pixel_directions(cameras[i]).reshape(-1, 3))
        u, v = uv[:, 0], uv[:, 1]
        inside = (z > 1e-3) & (u >= 0) & (u < cam.width) & (v >= 0) & (v < cam.height)
        di = distances[i].reshape(-1)[inside]
        dj = distances[j][v[inside].long(), u[inside].long()]
        ok = (di > 0) & (dj > 0)
        if int(ok.sum()) < 16:
            continue
        row = np.zeros(n)
        row[i], row[j] = 1.0, -1.0  # log s_i - log s_j = log(d_j / d_i)
        rows.append(row)
        rhs.append(float(torch.log(dj[ok] / di[ok]).median()))
    rows.append(np.ones(n))  # the gauge: the model's own mean scale is kept
    rhs.append(0.0)
    logs, *_ = np.linalg.lstsq(np.stack(rows), np.array(rhs), rcond=None)
    return np.exp(logs)


class PanoSource(FrameSource):
    kind = "pano"
    input = "pano"
    options = CAPTURE_OPTIONS - {"fov_y_deg"}  # a panorama sees all around: it has no field of view to set

    def __init__(self, pano, prompt: str | None, config: GenerateConfig):
        super().__init__(pano, prompt, config)
        self.path = Path(pano)
        rgb, scale, _ = read_image(self.path, max_side=MAX_WIDTH)
        h, w = rgb.shape[:2]
        full_w, full_h = round(w / scale), round(h / scale)
        if abs(w / h - 2.0) > 2.0 * ASPECT_TOLERANCE:
            raise SourceError(f"{self.path}: {full_w}x{full_h} is not an equirectangular panorama "
                              f"(width must be twice the height, within {ASPECT_TOLERANCE:.0%})")
        if w < MIN_WIDTH:
            raise SourceError(f"{self.path}: {full_w}x{full_h} is too small for a panorama (at least {MIN_WIDTH} wide)")
        self.rgb, self.decoded = torch.from_numpy(rgb), (w, h)

    def inputs(self) -> dict:
        return {"pano": str(self.path), "prompt": self.prompt}

    def frames(self, context: BuildContext) -> SourceFrames:
        from rtfm.inputs import Condition, MemoryFrame
        from rtfm.memory import SpatialMemory
        from rtfm.photo import photo_memory
        from rtfm.rollout import rollout

        cfg, model = context.config, context.frame_model()
        generated = cfg.value("generated")
        total = RING_VIEWS + generated
        work = ring_cameras(model.cfg.resolution)
        shown = []
        for i, cam in enumerate(work):
            view = perspective_view(self.rgb, cam)
            shown.append(photo_memory(model, view, cam, seed=cfg.seed)[0])
            if context.on_frame is not None:
                context.on_frame(i, total, view.numpy())
        context.timed("depth")
        distances = [f.depth / _cos_off_axis(f.camera) for f in shown]
        scales = ring_scales(distances, [f.camera for f in shown])
        ring = [MemoryFrame(f.camera, f.rgb, f.depth * float(s), f.label.long()) for f, s in zip(shown, scales)]
        memory = SpatialMemory(capacity=32)
        for f in ring:
            memory.add(f)
        condition = Condition(text=context.text_states(self.prompt), images=torch.stack([f.rgb for f in shown[::2]]))
        starts = [work[k * RING_VIEWS // EXPLORE_FROM] for k in range(EXPLORE_FROM)]
        counts = [generated // EXPLORE_FROM + (1 if a < generated % EXPLORE_FROM else 0) for a in range(EXPLORE_FROM)]
        path = [c for start, n in zip(starts, counts) if n > 0 for c in exploration_path(start, n)]
        new = context.report(rollout(model, path, condition, memory, seed=cfg.seed), total, start=RING_VIEWS)
        side = cfg.value("resolution")
        sharp = [perspective_view(self.rgb, c).numpy() for c in ring_cameras(side)]
        frames = model_frames_at(ring + new, side, side, rgb=sharp + [None] * len(new),
                                 names=[f"ring {k:02d}" for k in range(RING_VIEWS)] + [f"generated {j:05d}" for j in range(len(new))])
        section = {"decoded": list(self.decoded), "ring_views": RING_VIEWS, "view_fov_deg": VIEW_FOV_DEG,
                   "ring_scales": [round(float(s), 4) for s in scales], "generated": len(new)}
        return SourceFrames(frames, memory=memory, section=section, models={"frames": f"rtfm ({cfg.frame_model.name})"})


def _cos_off_axis(camera: Camera) -> torch.Tensor:
    """Per pixel, z depth / ray distance: the cosine between the pixel's ray and the optical axis."""
    from renderer.sky import pixel_directions

    return (pixel_directions(camera) @ camera.c2w[:3, 2].float()).clamp(min=1e-3)
