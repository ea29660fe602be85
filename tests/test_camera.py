import json
import math

import pytest
import torch

from renderer import Camera, CameraError, stack_cameras


def test_look_at_follows_opencv_axes_and_world_up():
    cam = Camera.look_at([3.0, 0, 1.0], [0, 0, 1.0], width=64, height=48)
    R = cam.c2w[:3, :3]
    assert torch.allclose(R[:, 2], torch.tensor([-1.0, 0, 0]), atol=1e-6)  # z forward, towards the target
    assert torch.allclose(R[:, 1], torch.tensor([0, 0, -1.0]), atol=1e-6)  # y down = world -Z
    assert torch.allclose(R[:, 0], torch.tensor([0, 1.0, 0]), atol=1e-6)  # x right: facing -X with +Z up, right is +Y
    # A point above the target lands above the image centre; one to the camera's right, right of it.
    uv, z = cam.project(torch.tensor([[0, 0, 1.5], [0, 0.5, 1.0], [0, 0, 1.0]]))
    assert uv[0, 1] < 24 and uv[1, 0] > 32
    assert torch.allclose(uv[2], torch.tensor([32.0, 24.0]), atol=1e-4) and z[2] == pytest.approx(3.0)


def test_look_at_straight_down_is_well_defined():
    cam = Camera.look_at([0, 0, 5.0], [0, 0, 0], width=8, height=8)
    assert torch.allclose(cam.forward, torch.tensor([0, 0, -1.0]), atol=1e-6)


def test_orbit_distance_and_direction():
    cam = Camera.orbit([1.0, 2.0, 0.5], 4.0, azimuth_deg=90, elevation_deg=30, width=32, height=32)
    offset = cam.position - torch.tensor([1.0, 2.0, 0.5])
    assert offset.norm() == pytest.approx(4.0, abs=1e-5)
    assert offset[0] == pytest.approx(0.0, abs=1e-5) and offset[1] > 0
    assert math.degrees(math.asin(offset[2] / 4.0)) == pytest.approx(30.0, abs=1e-4)


def test_w2c_inverts_c2w():
    cam = Camera.orbit([0, 0, 0], 3.0, 17, 33, width=10, height=10)
    assert torch.allclose(cam.w2c @ cam.c2w, torch.eye(4), atol=1e-6)


def test_rays_project_back_to_their_pixels():
    K = torch.tensor([[50.0, 0, 17.0], [0, 60.0, 11.0], [0, 0, 1]])
    cam = Camera(K, Camera.orbit([0, 0, 0], 2.0, 10, 20, width=30, height=20).c2w, 30, 20)
    o, d = cam.rays()
    assert o.shape == d.shape == (20, 30, 3)
    assert torch.allclose(d.norm(dim=-1), torch.ones(20, 30), atol=1e-6)
    uv, z = cam.project((o + 2.7 * d).reshape(-1, 3))
    ys, xs = torch.meshgrid(torch.arange(20) + 0.5, torch.arange(30) + 0.5, indexing="ij")
    assert torch.allclose(uv, torch.stack([xs, ys], -1).reshape(-1, 2), atol=1e-3)


def test_plucker_moment_is_the_same_for_every_point_on_the_ray():
    cam = Camera.orbit([0.3, -0.2, 0.1], 2.0, 50, 10, width=6, height=5)
    pl = cam.plucker()
    assert pl.shape == (5, 6, 6)
    o, d = cam.rays()
    p = o + 1.3 * d
    assert torch.allclose(pl[..., 3:], torch.cross(p, d, dim=-1), atol=1e-5)
    assert torch.allclose((pl[..., :3] * pl[..., 3:]).sum(-1), torch.zeros(5, 6), atol=1e-5)  # d . m = 0


def test_json_round_trip_is_exact():
    cam = Camera.orbit([0.1, 0.2, 0.3], 2.5, 33, 21, width=123, height=77, fov_y_deg=47)
    back = Camera.from_json(cam.to_json())
    assert back.width == 123 and back.height == 77
    assert torch.equal(back.K, cam.K) and torch.equal(back.c2w, cam.c2w)
    assert json.loads(cam.to_json())["convention"] == "opencv"


@pytest.mark.parametrize(
    "K, c2w, message",
    [
        (torch.eye(3) * float("nan"), torch.eye(4), "NaN"),
        (torch.diag(torch.tensor([-5.0, 5.0, 1.0])), torch.eye(4), "focal"),
        (torch.eye(3), torch.diag(torch.tensor([1.0, 1.0, 0.0, 1.0])), "orthonormal"),
        (torch.eye(3), torch.diag(torch.tensor([1.0, -1.0, 1.0, 1.0])), "orthonormal"),
        (torch.eye(2), torch.eye(4), "3x3"),
    ],
)
def test_bad_cameras_are_refused(K, c2w, message):
    with pytest.raises(CameraError, match=message):
        Camera(K, c2w, 8, 8)


def test_bad_json_is_refused():
    with pytest.raises(CameraError, match="missing"):
        Camera.from_dict({"width": 3})
    with pytest.raises(CameraError, match="parse"):
        Camera.from_json("{nope")


def test_stack_cameras_requires_one_size():
    a = Camera.orbit([0, 0, 0], 2, 0, 0, width=8, height=8)
    b = Camera.orbit([0, 0, 0], 2, 90, 0, width=8, height=6)
    Ks, viewmats, w, h = stack_cameras([a, a])
    assert Ks.shape == (2, 3, 3) and viewmats.shape == (2, 4, 4) and (w, h) == (8, 8)
    with pytest.raises(CameraError, match="share an image size"):
        stack_cameras([a, b])
