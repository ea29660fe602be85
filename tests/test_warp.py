import itertools
import math

import numpy as np
import pytest
import torch

from renderer import Camera
from renderer.warp import by_view_proximity, fill_nearest, forward_warp, top_k_by_overlap, unproject, view_overlap


def loop_warp(rgb, depth, cams, target, s=1):
    """Independent reference: every source pixel in turn, in plain float64 Python, strict z-test
    (so the first of equal depths wins, as the batched warp's lowest-index rule). s > 1: every s x s
    sub-pixel of every source pixel, splatted into the target at s times its size."""
    h, w = target.height * s, target.width * s
    zbuf = np.full((h, w), np.inf)
    out = np.zeros((h, w, 3))
    src = np.full((h, w), -1)
    for n, cam in enumerate(cams):
        K = cam.K.double().numpy()
        c2w = cam.c2w.double().numpy()
        w2c = target.w2c.double().numpy()
        Kt = target.K.double().numpy()
        for y, x, i, j in itertools.product(range(cam.height), range(cam.width), range(s), range(s)):
                z = float(depth[n, y, x])
                if not (math.isfinite(z) and z > 0):
                    continue
                p_cam = np.linalg.inv(K) @ np.array([x + (j + 0.5) / s, y + (i + 0.5) / s, 1.0]) * z
                p = c2w[:3, :3] @ p_cam + c2w[:3, 3]
                q = w2c[:3, :3] @ p + w2c[:3, 3]
                if q[2] <= 1e-3:
                    continue
                uv = Kt @ q
                u, v = math.floor(s * uv[0] / uv[2]), math.floor(s * uv[1] / uv[2])
                if 0 <= u < w and 0 <= v < h and q[2] < zbuf[v, u]:
                    zbuf[v, u], out[v, u], src[v, u] = q[2], rgb[n, y, x].numpy(), n
    return out, np.where(np.isinf(zbuf), 0, zbuf), src


def test_identity_warp_returns_the_frame():
    cam = Camera.look_at([0, 0, 1], [3, 0, 1], width=20, height=16)
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(1, 16, 20, 3, generator=g)
    depth = 1 + torch.rand(1, 16, 20, generator=g) * 4
    depth[0, :3] = 0  # no depth (sky): not warped
    label = torch.randint(0, 9, (1, 16, 20), generator=g)
    res = forward_warp(rgb, depth, [cam], cam, label)
    valid = depth[0] > 0
    assert torch.equal(res.mask, valid)
    assert torch.allclose(res.rgb[valid], rgb[0][valid])
    assert torch.allclose(res.depth[valid], depth[0][valid], rtol=1e-4)
    assert torch.equal(res.label[valid], label[0][valid])
    assert (res.label[~valid] == -1).all() and (res.source[~valid] == -1).all()


def test_plane_seen_from_a_shifted_camera():
    """A wall 3 m ahead; a camera 0.5 m to the right sees it at the same depth, shifted by f 0.5 / 3 px."""
    w = h = 32
    a = Camera.look_at([0, 0, 1], [5, 0, 1], width=w, height=h, fov_y_deg=60)
    b = Camera.look_at([0, -0.5, 1], [5, -0.5, 1], width=w, height=h, fov_y_deg=60)  # +x of a's image is -y world
    depth = torch.full((1, h, w), 3.0)
    rgb = torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(1))
    res = forward_warp(rgb, depth, [a], b)
    assert torch.allclose(res.depth[res.mask], torch.tensor(3.0), atol=1e-4)
    shift = float(a.K[0, 0]) * 0.5 / 3.0  # pixels, to the left in b's image
    cols = res.mask.any(0).nonzero().flatten()
    assert int(cols.min()) == 0 and abs(int(cols.max()) - (w - 1 - shift)) <= 1.0
    # a covered pixel takes the colour of the source pixel shift columns to its right
    y, x = 10, 5
    assert torch.allclose(res.rgb[y, x], rgb[0, y, x + round(shift)], atol=1e-6) or torch.allclose(
        res.rgb[y, x], rgb[0, y, x + math.floor(shift)], atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_batched_warp_matches_the_per_pixel_loop(seed):
    g = torch.Generator().manual_seed(seed)
    cams = [Camera.look_at([0.3 * i, 0.2 * i, 1.0], [4, 0.5, 0.8], width=14, height=11) for i in range(3)]
    target = Camera.look_at([0.1, 0.3, 1.1], [4, 0.2, 1.0], width=13, height=12)
    rgb = torch.rand(3, 11, 14, 3, generator=g)
    depth = 1 + torch.rand(3, 11, 14, generator=g) * 3
    depth[1, :, :4] = 0
    depth[2, 5, 5] = float("nan")
    res = forward_warp(rgb, depth, cams, target)
    ref_rgb, ref_depth, ref_src = loop_warp(rgb, depth, cams, target)
    ref_mask = ref_src >= 0
    assert res.mask.sum() > 40
    assert np.array_equal(res.mask.numpy(), ref_mask)
    assert np.array_equal(res.source.numpy(), ref_src)
    assert np.allclose(res.rgb.numpy(), ref_rgb, atol=1e-6)
    assert np.allclose(res.depth.numpy(), ref_depth, rtol=1e-4)


def test_view_overlap_and_its_cheap_estimate():
    target = Camera.look_at([0, 0, 1], [5, 0, 1], width=32, height=32)
    cams = [Camera.look_at([0, 0, 1], [5, y, 1], width=32, height=32) for y in (0.0, 1.5, 4.0, -30.0)]
    depth = torch.full((4, 32, 32), 4.0)
    exact = view_overlap(depth, cams, target)
    assert exact[0] == pytest.approx(1.0)
    assert exact[0] > exact[1] > exact[2] > 0 and exact[3] == 0.0  # turning away covers less, then nothing
    fraction = torch.stack([forward_warp(torch.zeros(1, 32, 32, 3), depth[i : i + 1], [c], target).mask.float().mean()
                            for i, c in enumerate(cams)])
    assert torch.allclose(exact, fraction)
    cheap = view_overlap(depth, cams, target, stride=2)  # a quarter of the points
    assert (cheap - exact).abs().max() < 0.07


@pytest.mark.parametrize("stride", [1, 2])
def test_view_overlap_into_many_targets_equals_one_target_at_a_time(stride):
    cams = [Camera.look_at([0, 0, 1], [5, y, 1], width=32, height=24) for y in (0.0, 1.5, 4.0)]
    targets = cams + [Camera.look_at([1, 0, 1], [5, 2, 1], width=20, height=16), Camera.look_at([0, 0, 1], [-5, 0, 1], width=32, height=24)]
    depth = torch.rand(3, 24, 32) * 3 + 2
    depth[1, :4] = float("nan")  # no depth there: never lands
    many = view_overlap(depth, cams, targets, stride=stride)
    assert many.shape == (3, 5)
    for j, t in enumerate(targets):
        assert torch.equal(many[:, j], view_overlap(depth, cams, t, stride=stride))
    assert many[:, 4].eq(0).all() and many[0, 0] == pytest.approx(1.0)


def test_top_k_by_overlap_excludes_and_orders():
    ov = torch.tensor([0.5, 0.9, 0.0, 0.9, 0.2])
    assert top_k_by_overlap(ov, 3) == [1, 3, 0]
    assert top_k_by_overlap(ov, 3, exclude=[1]) == [3, 0, 4]
    assert top_k_by_overlap(ov, 10) == [1, 3, 0, 4]  # zero overlap is never retrieved
    assert top_k_by_overlap(ov, 0) == []


def test_fill_nearest():
    img = torch.zeros(5, 5, 3)
    img[0, 0] = 1.0
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[0, 0] = True
    mask[4, 4] = True
    filled = fill_nearest(img, mask)
    assert torch.equal(filled[1, 0], img[0, 0]) and torch.equal(filled[3, 4], img[4, 4])
    assert torch.equal(fill_nearest(img, torch.zeros(5, 5, dtype=torch.bool)), img)


def test_unproject_rejects_mismatched_cameras():
    cam = Camera.look_at([0, 0, 1], [1, 0, 1], width=8, height=6)
    with pytest.raises(ValueError, match="cameras"):
        unproject(torch.ones(2, 6, 8), [cam])
    with pytest.raises(ValueError, match="8x5"):
        unproject(torch.ones(1, 5, 8), [cam])


def test_epsilon_zbuffer_prefers_the_first_source_and_drops_its_free_space():
    """Two frames of one wall at the same pose, the second with its depth 3% short and a floater
    40% short: with a tolerance the first frame's wall wins everywhere (the 3% is one surface and
    the floater lies in space frame 0 sees through); without it, the strict z-buffer takes both."""
    cam = Camera.look_at([0, 0, 1], [5, 0, 1], width=16, height=12)
    rgb = torch.stack([torch.zeros(12, 16, 3), torch.ones(12, 16, 3)])
    depth = torch.full((2, 12, 16), 3.0)
    depth[1] *= 0.97
    depth[1, 4:8, 4:8] = 1.8
    strict = forward_warp(rgb, depth, [cam, cam], cam)
    assert (strict.source == 1).all()
    fused = forward_warp(rgb, depth, [cam, cam], cam, depth_tolerance=0.05)
    assert (fused.source == 0).all() and torch.equal(fused.rgb, rgb[0])
    # Nearer points that frame 0 cannot see (outside its view) are not in its free space: they win.
    side = Camera.look_at([0, 1.0, 1], [5, 1.0, 1], width=16, height=12)
    occluder = forward_warp(rgb[[1, 0]], torch.stack([torch.full((12, 16), 3.0), torch.full((12, 16), 1.0)]),
                            [side, cam], cam, depth_tolerance=0.05)
    assert (occluder.source == 1).any()


def test_free_space_culling_survives_points_that_do_not_project():
    """A sky pixel (depth 0) of a source standing where source 0 stands (a turn in place) sits at
    source 0's camera centre and projects to NaN pixel coordinates; it must be skipped, not read as
    an index (a training run crashed on it)."""
    cam = Camera.look_at([0, 0, 1], [5, 0, 1], width=16, height=12)
    turned = Camera.look_at([0, 0, 1], [5, 1, 1], width=16, height=12)
    depth = torch.full((2, 12, 16), 3.0)
    depth[1, :2] = 0.0
    res = forward_warp(torch.rand(2, 12, 16, 3), depth, [cam, turned], cam, depth_tolerance=0.05)
    assert res.mask.all()


def test_view_proximity_orders_by_position_and_direction():
    t = Camera.look_at([0, 0, 1], [5, 0, 1], width=8, height=8)
    same = Camera.look_at([0, 0, 1], [5, 0, 1], width=8, height=8)
    moved = Camera.look_at([1, 0, 1], [6, 0, 1], width=8, height=8)
    turned = Camera.look_at([0, 0, 1], [0, 5, 1], width=8, height=8)
    assert by_view_proximity([turned, moved, same], t) == [2, 1, 0]


def test_supersampled_warp_matches_the_per_subpixel_loop():
    g = torch.Generator().manual_seed(3)
    cams = [Camera.look_at([0.3 * i, 0.2 * i, 1.0], [4, 0.5, 0.8], width=10, height=8) for i in range(2)]
    target = Camera.look_at([0.6, 0.1, 1.1], [3, 0.2, 1.0], width=9, height=8)  # nearer: one splat leaves cracks
    rgb = torch.rand(2, 8, 10, 3, generator=g)
    depth = 1 + torch.rand(2, 8, 10, generator=g) * 3
    depth[1, :, :3] = 0
    res = forward_warp(rgb, depth, cams, target, supersample=2)
    big_rgb, big_depth, big_src = loop_warp(rgb, depth, cams, target, s=2)
    for v, u in itertools.product(range(8), range(9)):
        block = (slice(2 * v, 2 * v + 2), slice(2 * u, 2 * u + 2))
        hit = big_src[block] >= 0
        assert bool(res.mask[v, u]) == hit.any()
        if res.mask[v, u]:
            assert np.allclose(res.rgb[v, u].numpy(), big_rgb[block][hit].mean(0), atol=1e-5)
            assert math.isclose(float(res.depth[v, u]), big_depth[block][hit].min(), rel_tol=1e-4)
        else:
            assert res.depth[v, u] == 0 and res.source[v, u] == -1


def test_supersampled_identity_is_exact_and_closes_cracks():
    cam = Camera.look_at([0, 0, 1], [3, 0, 1], width=20, height=16)
    g = torch.Generator().manual_seed(0)
    rgb, depth = torch.rand(1, 16, 20, 3, generator=g), 1 + torch.rand(1, 16, 20, generator=g) * 4
    label = torch.randint(0, 9, (1, 16, 20), generator=g)
    res = forward_warp(rgb, depth, [cam], cam, label, supersample=2)
    assert res.mask.all() and torch.equal(res.rgb, rgb[0]) and torch.equal(res.label, label[0])
    assert torch.allclose(res.depth, depth[0], rtol=1e-5)
    # a wall 3 m away seen from 1.2 m closer is magnified 1.67x: one splat per pixel leaves cracks, 2 x 2 do not
    wall = torch.full((1, 32, 32), 3.0)
    a = Camera.look_at([0, 0, 1], [5, 0, 1], width=32, height=32, fov_y_deg=60)
    b = Camera.look_at([1.2, 0, 1], [5, 0, 1], width=32, height=32, fov_y_deg=60)
    colour = torch.rand(1, 32, 32, 3, generator=g)
    one, sub = forward_warp(colour, wall, [a], b), forward_warp(colour, wall, [a], b, supersample=2)
    inner = (slice(8, 24), slice(8, 24))
    assert one.mask[inner].float().mean() < 0.8 and sub.mask[inner].all()
    assert torch.allclose(sub.depth[inner], torch.tensor(1.8), atol=1e-4)
    with pytest.raises(ValueError, match="supersample"):
        forward_warp(colour, wall, [a], b, supersample=0)
