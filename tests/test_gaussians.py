import math

import pytest
import torch

from conftest import random_scene
from renderer import Camera, GaussianScene, SceneError, render
from renderer.gaussians import rotate_sh, rotmat_to_quat


def rotation(axis, deg):
    axis = torch.nn.functional.normalize(torch.tensor(axis, dtype=torch.float32), dim=0)
    K = torch.tensor([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = math.radians(deg)
    return torch.eye(3) + math.sin(a) * K + (1 - math.cos(a)) * K @ K


def test_rigid_transform_renders_the_same_from_moved_cameras():
    scene = random_scene(300, seed=1, sh_degree=3)
    M = torch.eye(4)
    M[:3, :3] = rotation([0.3, -0.5, 0.8], 70)
    M[:3, 3] = torch.tensor([1.0, -2.0, 0.5])
    cam = Camera.orbit([0, 0, 0], 2.5, 30, 20, width=40, height=32)
    moved_cam = Camera(cam.K, M @ cam.c2w, cam.width, cam.height)
    a = render(scene, cam, backend="torch", tile_size=8)
    b = render(scene.transform(M), moved_cam, backend="torch", tile_size=8)
    assert (a.rgb - b.rgb).abs().max() < 2e-4  # SH bands rotated with the scene
    assert (a.depth - b.depth).abs().max() < 2e-4
    assert (a.label == b.label).float().mean() > 0.999


def test_uniform_scale_scales_depth():
    scene = random_scene(200, seed=2, sh_degree=0)
    cam = Camera.orbit([0, 0, 0], 2.5, 30, 20, width=32, height=32)
    big_cam = Camera(cam.K, torch.cat([torch.cat([cam.c2w[:3, :3], 2 * cam.c2w[:3, 3:]], 1), cam.c2w[3:]]), 32, 32)
    a = render(scene, cam, backend="torch")
    b = render(scene.transform(torch.eye(4), scale=2.0), big_cam, backend="torch")
    assert torch.allclose(2 * a.depth, b.depth, atol=1e-4) and torch.allclose(a.rgb, b.rgb, atol=1e-4)


def test_sh_rotation_is_exact_per_band():
    from gsplat.cuda._torch_impl import _spherical_harmonics

    sh = torch.randn(5, 16, 3, dtype=torch.float64)
    R = rotation([1, 2, 3], 123).double()
    dirs = torch.nn.functional.normalize(torch.randn(5, 3, dtype=torch.float64), dim=-1)
    before = _spherical_harmonics(3, dirs, sh)
    after = _spherical_harmonics(3, dirs @ R.T, rotate_sh(sh, R))
    assert torch.allclose(before, after, atol=1e-6)


def test_rotmat_to_quat_round_trip():
    from gsplat.cuda._torch_impl import _quat_to_rotmat

    for axis, deg in [([1, 0, 0], 179.9), ([0, 1, 1], 90), ([1, 1, 1], 10), ([0, 0, 1], 180)]:
        R = rotation(axis, deg)
        assert torch.allclose(_quat_to_rotmat(rotmat_to_quat(R)), R, atol=1e-5)


def test_concat_pads_sh_and_subset_selects():
    a, b = random_scene(3, sh_degree=0), random_scene(4, seed=1, sh_degree=2)
    c = GaussianScene.concat([a, b])
    assert len(c) == 7 and c.sh_degree == 2
    assert torch.equal(c.sh[:3, 1:], torch.zeros(3, 8, 3))
    assert torch.equal(c.subset(torch.arange(3, 7)).means, b.means)
    assert torch.equal(c.subset(c.labels == c.labels[0]).labels.unique(), c.labels[:1])
    assert c.with_sh_degree(1).sh.shape == (7, 4, 3) and a.with_sh_degree(3).sh_degree == 3


def test_to_device_and_dtype():
    s = random_scene(3)
    assert s.to("cpu").means.device.type == "cpu"
    assert s.double().means.dtype == torch.float64 and s.double().labels.dtype == torch.int64


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("means", torch.zeros(3, 2), "means must be"),
        ("quats", torch.zeros(2, 4), "quats must have shape"),
        ("sh", torch.zeros(3, 5, 3), "SH coefficient count"),
        ("labels", torch.zeros(3), "int64"),
        ("opacity_logits", torch.zeros(3, 1), "opacity_logits must have shape"),
    ],
)
def test_bad_shapes_are_refused(field, value, message):
    s = random_scene(3, sh_degree=0)
    kwargs = {k: getattr(s, k) for k in ("means", "quats", "log_scales", "opacity_logits", "sh", "labels")}
    kwargs[field] = value
    with pytest.raises(SceneError, match=message):
        GaussianScene(**kwargs)


def test_non_finite_values_are_refused_with_the_index():
    s = random_scene(10)
    s.log_scales[6, 1] = float("nan")
    with pytest.raises(SceneError, match=r"log_scales has NaN or infinite values in 1 Gaussians \(first at index 6\)"):
        s.validate()
    assert s.finite_mask().sum() == 9


def test_transform_refuses_non_rigid():
    with pytest.raises(SceneError, match="orthonormal"):
        random_scene(3).transform(torch.diag(torch.tensor([2.0, 1, 1, 1])))
