"""antimatter15 .splat: 32 bytes per Gaussian, no header.

position 3 x float32, linear scale 3 x float32, RGBA 4 x uint8 (DC colour, sigmoid opacity),
rotation 4 x uint8 (unit quaternion w first, q * 128 + 128). SH bands above DC and labels are
not representable; records are written most visible first, as antimatter15's converter does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..gaussians import GaussianScene, SceneError, rgb_to_sh0, sh0_to_rgb
from .base import FormatError, atomic_write, open_regular

RECORD = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])


def read_splat(path: str | os.PathLike) -> GaussianScene:
    path = Path(path)
    try:
        with open_regular(path, FormatError) as f:
            size = os.fstat(f.fileno()).st_size  # of the regular file that was opened
            if size % RECORD.itemsize:
                raise FormatError(path, f"size {size} bytes is not a multiple of the {RECORD.itemsize}-byte .splat "
                                        "record (truncated or not a .splat file)")
            data = np.fromfile(f, dtype=RECORD)
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    rgba = torch.from_numpy(data["rgba"].astype(np.float32) / 255.0)
    rot = torch.from_numpy((data["rot"].astype(np.float32) - 128.0) / 128.0)
    scale = torch.from_numpy(data["scale"].astype(np.float32))
    if (scale <= 0).any():
        raise FormatError(path, f"{int((scale <= 0).any(1).sum())} Gaussians have non-positive scales")
    sh = rgb_to_sh0(rgba[:, :3])[:, None, :]
    alpha = rgba[:, 3].clamp(0.5 / 255, 1 - 0.5 / 255)  # keep the logit finite for 0 and 255
    rot = torch.where((rot.norm(dim=1, keepdim=True) < 1e-6), torch.tensor([1.0, 0, 0, 0]), rot)
    scene = GaussianScene(
        means=torch.from_numpy(data["pos"].copy()),
        quats=rot,
        log_scales=scale.log(),
        opacity_logits=torch.logit(alpha),
        sh=sh.contiguous(),
        labels=torch.full((len(data),), -1, dtype=torch.int64),
    )
    try:
        return scene.validate()
    except SceneError as e:
        raise FormatError(path, f"invalid Gaussians: {e}") from None


def write_splat(scene: GaussianScene, path: str | os.PathLike) -> None:
    """Write `scene` as .splat (DC colour only), most visible Gaussians first, atomically."""
    try:
        scene.validate()
    except SceneError as e:
        raise FormatError(path, f"refusing to write invalid Gaussians: {e}") from None
    s = scene.detach().to("cpu").double()
    importance = -(s.log_scales.sum(1).exp() * torch.sigmoid(s.opacity_logits))
    order = torch.argsort(importance, stable=True)
    s = s.subset(order)
    rows = np.empty(len(s), dtype=RECORD)
    rows["pos"] = s.means.numpy()
    rows["scale"] = s.log_scales.exp().numpy()
    rgba = torch.cat([sh0_to_rgb(s.sh[:, 0]), torch.sigmoid(s.opacity_logits)[:, None]], dim=1)
    rows["rgba"] = (rgba * 255).round().clamp(0, 255).numpy().astype(np.uint8)
    q = torch.nn.functional.normalize(s.quats, dim=1)
    rows["rot"] = (q * 128 + 128).round().clamp(0, 255).numpy().astype(np.uint8)
    atomic_write(path, [rows.tobytes()])
