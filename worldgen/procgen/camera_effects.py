"""What a real camera does to the light the ray caster computes, drawn once per walk (one camera):
exposure, white balance, a tone curve, vignetting, lens blur, sensor noise and JPEG compression.

The procedural renderer's frames are clean, evenly exposed and sharp; photos are not. Training on
frames passed through `CameraEffects` (sim-to-real, `ProcgenStream(sim_to_real=True)`) teaches the
frame model to read colour and depth through them. Every frame of a walk gets the same camera, as
every photo of one capture does; the noise and the JPEG blocks differ frame to frame. Depth,
labels and the layout's guide renders stay exact.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

FOV_RANGE_DEG = (20.0, 90.0)  # vertical fields of view a sim-to-real walk's camera is drawn from


@dataclass(frozen=True)
class CameraEffects:
    exposure: float  # gain on linear light (1 = as rendered)
    white_balance: tuple[float, float, float]  # per-channel gains on linear light, green 1
    gamma: float  # tone curve exponent after the gain (1 = none)
    vignetting: float  # fraction of light lost in the corners
    blur_px: float  # lens blur: Gaussian standard deviation in pixels at 256 px a side
    noise: float  # sensor noise: standard deviation at full signal (shot noise) ...
    read_noise: float  # ... and at none
    jpeg_quality: int | None  # None: no compression

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "CameraEffects":
        """A plausible phone or camera: mostly mild, sometimes strong."""
        return cls(exposure=float(np.exp(rng.normal(0.0, 0.35))),
                   white_balance=(float(np.exp(rng.normal(0, 0.08))), 1.0, float(np.exp(rng.normal(0, 0.08)))),
                   gamma=float(np.exp(rng.normal(0.0, 0.12))), vignetting=float(rng.uniform(0.0, 0.35)),
                   blur_px=float(rng.uniform(0.0, 1.2)) if rng.random() < 0.6 else 0.0,
                   noise=float(rng.uniform(0.0, 0.04)), read_noise=float(rng.uniform(0.0, 0.015)),
                   jpeg_quality=int(rng.integers(35, 96)) if rng.random() < 0.7 else None)

    def apply(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """rgb [H, W, 3] float32 in [0, 1] (sRGB, as rendered) -> the same view through this camera."""
        h, w = rgb.shape[:2]
        linear = np.clip(rgb, 0, 1).astype(np.float32) ** 2.2
        linear = linear * (self.exposure * np.asarray(self.white_balance, np.float32))
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xs + 0.5) / w - 0.5) ** 2 + ((ys + 0.5) / h - 0.5) ** 2  # 0.5 in the corners
        linear = linear * (1.0 - self.vignetting * 2.0 * r2)[..., None]
        if self.blur_px > 0:
            sigma = self.blur_px * max(h, w) / 256.0
            linear = gaussian_filter(linear, sigma=(sigma, sigma, 0), mode="nearest")
        out = np.clip(linear, 0, 1) ** (1 / 2.2 * self.gamma)
        std = np.sqrt(self.read_noise**2 + self.noise**2 * out)
        out = np.clip(out + rng.standard_normal(out.shape).astype(np.float32) * std, 0, 1)
        if self.jpeg_quality is not None:
            buf = io.BytesIO()
            Image.fromarray((out * 255 + 0.5).astype(np.uint8)).save(buf, format="JPEG", quality=self.jpeg_quality)
            out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32) / 255.0
        return out.astype(np.float32)
