import math

import pytest
import torch

from renderer import Camera, render
from renderer.gaussians import GaussianScene
from renderer.pose_refine import correction, corrected, moved_scene, refine_pose
from worldgen.procgen.composers import compose
from worldgen.procgen.dataset import render_sequence
from worldgen.procgen.paths import camera_path
from worldgen.procgen.world import build_world


def rotation_angle(a: Camera, b: Camera) -> float:
    R = a.c2w[:3, :3].T @ b.c2w[:3, :3]
    return math.degrees(math.acos(max(-1.0, min(1.0, (float(R.trace()) - 1) / 2))))


def test_correction_is_a_rigid_transform_and_zero_is_identity():
    assert torch.allclose(correction(torch.zeros(6)), torch.eye(4))
    D = correction(torch.tensor([0.1, -0.2, 0.05, 0.3, 0.0, -0.1]))
    assert torch.allclose(D[:3, :3] @ D[:3, :3].T, torch.eye(3), atol=1e-6) and float(torch.det(D[:3, :3])) == pytest.approx(1.0)


def test_moving_the_scene_equals_moving_the_camera():
    """Rendering the moved scene from the original camera is rendering the scene from the
    corrected camera; and the move matches GaussianScene.transform (an independent quaternion path)."""
    g = torch.Generator().manual_seed(0)
    n = 300
    means = torch.randn(n, 3, generator=g) * 0.6 + torch.tensor([3.0, 0.0, 1.0])
    quats = torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1)
    scene = GaussianScene(means, quats, torch.full((n, 3), -3.0) + 0.3 * torch.rand(n, 3, generator=g),
                          torch.full((n,), 1.0), torch.rand(n, 1, 3, generator=g), torch.zeros(n, dtype=torch.long))
    cam = Camera.look_at([0, 0, 1], [3, 0.2, 1], width=40, height=32)
    delta = torch.tensor([0.02, -0.03, 0.01, 0.05, -0.02, 0.03])
    a = render(moved_scene(scene, cam, delta), cam, with_labels=False)
    b = render(scene, corrected(cam, delta), with_labels=False)
    assert (a.rgb - b.rgb).abs().max() < 2e-4 and (a.depth - b.depth).abs().max() < 2e-4
    G = cam.c2w @ torch.linalg.inv(correction(delta)) @ cam.w2c
    ref = scene.transform(G)
    moved = moved_scene(scene, cam, delta)
    assert torch.allclose(moved.means, ref.means, atol=1e-5)
    same = torch.minimum((moved.quats - ref.quats).abs().amax(-1), (moved.quats + ref.quats).abs().amax(-1))
    assert same.max() < 1e-5


def test_refine_pose_recovers_a_perturbed_camera():
    """A scene seen from a true camera; a copy of it 1.5 degrees and 4 cm off is pulled back."""
    lay, _ = compose("bedroom", 1)
    world = build_world(lay, 1)
    cam = camera_path(lay, "orbit", 3, width=48, height=48, seed=1)[0]
    seq = render_sequence(lay, world, [cam])
    from renderer.lift import initial_scene

    scene = initial_scene([cam], torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), None, 6000,
                          torch.Generator().manual_seed(0))
    image = render(scene, cam, with_labels=False).rgb[0].detach()
    off = corrected(cam, torch.tensor([0.0, math.radians(1.5), 0.0, 0.04, 0.0, 0.0]))
    fixed = refine_pose(scene, off, image, steps=80, lr=2e-3)
    before, after = rotation_angle(off, cam), rotation_angle(fixed, cam)
    moved_before = float((off.position - cam.position).norm())
    moved_after = float((fixed.position - cam.position).norm())
    assert after < before / 3 and moved_after < moved_before / 2


def test_lift_refines_perturbed_poses_toward_the_true_ones():
    """Frames rendered from true cameras, lifted from cameras each about a degree and 3 cm off:
    with refine_poses the returned cameras are nearer the true ones than the given ones were."""
    from renderer.lift import LiftConfig, lift

    lay, _ = compose("bedroom", 1)
    world = build_world(lay, 1)
    cams = camera_path(lay, "orbit", 10, width=40, height=40, seed=1)
    seq = render_sequence(lay, world, cams)
    g = torch.Generator().manual_seed(1)
    noisy = [corrected(c, torch.cat([torch.randn(3, generator=g) * math.radians(0.8), torch.randn(3, generator=g) * 0.03]))
             for c in cams]
    cfg = LiftConfig(iterations=200, init_points=3000, densify=False, refine_poses=True, seed=0)
    res = lift(noisy, torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), None, cfg)
    assert res.cameras is not None and len(res.cameras) == len(cams)
    # The scene is free to settle in a slightly moved frame (a gauge freedom), so compare the
    # cameras' poses relative to the first one.
    def relative(a, b):
        return a.c2w.inverse() @ b.c2w
    err = lambda cs: sum(float((relative(cs[0], c)[:3, 3] - relative(cams[0], t)[:3, 3]).norm())  # noqa: E731
                         for c, t in zip(cs[1:], cams[1:]))
    assert err(res.cameras) < 0.7 * err(noisy)
    plain = lift(noisy, torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), None,
                 LiftConfig(iterations=200, init_points=3000, densify=False, seed=0))
    assert plain.cameras is None and res.history[-1]["psnr"] > plain.history[-1]["psnr"]
