import math

import pytest
import torch

from renderer import Camera
from rtfm.consistency import mean_reprojection_error, psnr_by_frame, reprojection_error, revisit_psnr
from rtfm.inputs import MemoryFrame, build_inputs
from rtfm.sampler import FrameSample, snap_to_memory


def wall(cam: Camera, distance: float = 3.0, seed: int = 0) -> MemoryFrame:
    """A frontal wall `distance` metres ahead of a camera looking along +X: exact planar depth."""
    rgb = torch.rand(cam.height, cam.width, 3, generator=torch.Generator().manual_seed(seed))
    o, d = cam.rays()
    t = (distance - o[..., 0]) / d[..., 0]
    depth = (t[..., None] * d * cam.forward).sum(-1)
    return MemoryFrame(cam, rgb, depth.float(), torch.zeros(cam.height, cam.width, dtype=torch.long))


def test_revisit_pairs_frames_at_the_same_pose():
    cams = [Camera.look_at([0, 0.1 * i, 1], [5, 0.1 * i, 1], width=8, height=8) for i in range(3)]
    a, b, c = (wall(cam, seed=i) for i, cam in enumerate(cams))
    assert revisit_psnr([a, b, c, b, a]) == 50.0  # identical frames count as the cap
    noisy = MemoryFrame(a.camera, (a.rgb + 0.1).clamp(0, 1), a.depth, a.label)
    assert 15 < revisit_psnr([a, b, c, b, noisy]) < 40  # (about 20 dB + the cap) / 2
    with pytest.raises(ValueError):
        revisit_psnr([a])
    assert len(psnr_by_frame([a, b], [a, b])) == 2


def test_reprojection_error_is_zero_for_consistent_depth_and_grows_with_inconsistency():
    a = wall(Camera.look_at([0, 0, 1], [5, 0, 1], width=64, height=48))
    b = wall(Camera.look_at([0, 1.0, 1.1], [5, 0.8, 1.0], width=64, height=48), seed=1)
    assert reprojection_error(a, b) < 0.75  # only the rounding to b's pixel grid
    bent = MemoryFrame(b.camera, b.rgb, b.depth * 1.3, b.label)  # b's depth 30% off
    assert reprojection_error(a, bent) > 2.0  # the parallax of a 1 m baseline through 30% wrong depth
    assert mean_reprojection_error([a, b, a]) < 0.75
    away = wall(Camera.look_at([0, 0, 1], [-5, 0, 1], width=64, height=48))  # looking away: nothing shared
    assert math.isnan(reprojection_error(a, away))


def test_snap_keeps_memory_where_the_sample_agrees():
    cam = Camera.look_at([0, 0, 1], [5, 0, 1], width=8, height=8)
    mem = wall(cam)
    inputs = build_inputs(cam, [mem])
    rgb = mem.rgb.clone()
    rgb[:4] += 0.05  # close: snapped back to memory
    rgb[4:] = 1 - rgb[4:]  # a disagreement: the sample stands
    sample = FrameSample(rgb.clamp(0, 1)[None], mem.depth[None] * 1.02, torch.ones(1, 8, 8, dtype=torch.long),
                         torch.zeros(1, 2, 8, 8))
    out = snap_to_memory(sample, inputs, 0.1)
    close = (rgb.clamp(0, 1) - mem.rgb).abs().amax(-1) <= 0.1
    assert close[:4].all()
    assert torch.allclose(out.rgb[0][close], mem.rgb[close], atol=1e-6)
    assert torch.equal(out.rgb[0][~close], rgb.clamp(0, 1)[~close])
    assert torch.allclose(out.depth[0][close], mem.depth[close], rtol=1e-3)
    assert (out.label[0][close] == 0).all() and (out.label[0][~close] == 1).all()
