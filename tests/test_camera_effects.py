"""Sim-to-real: the procedural stream seen through drawn cameras."""

import numpy as np
import pytest

from worldgen.procgen.camera_effects import FOV_RANGE_DEG, CameraEffects
from worldgen.procgen.dataset import ProcgenStream

NEUTRAL = dict(exposure=1.0, white_balance=(1.0, 1.0, 1.0), gamma=1.0, vignetting=0.0, blur_px=0.0, noise=0.0,
               read_noise=0.0, jpeg_quality=None)


def _ramp():
    xs = np.linspace(0.05, 0.95, 64, dtype=np.float32)
    return np.stack(np.broadcast_arrays(xs[None, :], xs[:, None], np.full((64, 64), 0.5, np.float32)), -1)


def test_each_effect_does_what_it_says():
    rgb, rng = _ramp(), np.random.default_rng(0)
    assert np.allclose(CameraEffects(**NEUTRAL).apply(rgb, rng), rgb, atol=1e-5)  # a neutral camera changes nothing
    brighter = CameraEffects(**{**NEUTRAL, "exposure": 2.0}).apply(rgb, rng)
    assert (brighter >= rgb - 1e-6).all() and brighter.mean() > rgb.mean() + 0.05
    warm = CameraEffects(**{**NEUTRAL, "white_balance": (1.3, 1.0, 0.8)}).apply(rgb, rng)
    assert warm[..., 0].mean() > rgb[..., 0].mean() and warm[..., 2].mean() < rgb[..., 2].mean()
    vignetted = CameraEffects(**{**NEUTRAL, "vignetting": 0.3}).apply(rgb, rng)
    assert vignetted[0, 0].sum() < rgb[0, 0].sum() and np.allclose(vignetted[32, 32], rgb[32, 32], atol=0.01)
    blurred = CameraEffects(**{**NEUTRAL, "blur_px": 2.0}).apply(rgb, rng)
    assert np.abs(np.diff(blurred[..., 0], axis=1)).max() <= np.abs(np.diff(rgb[..., 0], axis=1)).max() + 1e-6
    noisy = CameraEffects(**{**NEUTRAL, "noise": 0.05, "read_noise": 0.01}).apply(rgb, rng)
    assert 0.005 < np.abs(noisy - rgb).mean() < 0.06
    jpeg = CameraEffects(**{**NEUTRAL, "jpeg_quality": 40}).apply(rgb, rng)
    assert jpeg.dtype == np.float32 and 0 < np.abs(jpeg - rgb).mean() < 0.05
    for _ in range(20):  # drawn cameras stay in range
        out = CameraEffects.draw(rng).apply(rgb, rng)
        assert out.shape == rgb.shape and out.min() >= 0 and out.max() <= 1


@pytest.mark.slow
def test_sim_to_real_stream_is_reproducible_and_keeps_depth_exact():
    plain = next(iter(ProcgenStream(resolution=32, frames=3, seed=5, threads=1)))
    a = next(iter(ProcgenStream(resolution=32, frames=3, seed=5, threads=1, sim_to_real=True)))
    b = next(iter(ProcgenStream(resolution=32, frames=3, seed=5, threads=1, sim_to_real=True)))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in ("rgb", "depth", "K", "guide_rgb"))
    fy = float(a["K"][0][1, 1])
    fov = 2 * np.degrees(np.arctan(16 / fy))
    assert FOV_RANGE_DEG[0] <= fov <= FOV_RANGE_DEG[1]
    assert float(plain["K"][0][1, 1]) == pytest.approx(16 / np.tan(np.radians(35)), rel=1e-4)  # off: 70 degrees as before
    assert (a["depth"] >= 0).all() and a["rgb"].min() >= 0 and a["rgb"].max() <= 1
