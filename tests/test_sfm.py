"""Structure from motion (worldgen.sfm) on a held-out procedural walk whose poses are withheld,
known-pose triangulation, the metric scale from depth, and lifting from triangulated points."""

import math

import numpy as np
import pytest
import torch

from renderer.camera import Camera
from renderer.lift import initial_scene
from worldgen.frame_training import HELD_OUT_SEED_BASE
from worldgen.frames import PosedFrames
from worldgen.sfm import (SfMError, align_similarity, estimate_poses, metric_scale, trajectory_error,
                          triangulate, triangulate_reconstruction)

FOV = 70.0


@pytest.fixture(scope="module")
def walk():
    """A held-out dining room (seed 2**31 + 104), 32 frames of 160x160 along a walk: (cameras, rgb, depth)."""
    from worldgen.procgen.composers import compose
    from worldgen.procgen.dataset import render_sequence
    from worldgen.procgen.paths import camera_path
    from worldgen.procgen.world import build_world

    seed = HELD_OUT_SEED_BASE + 104
    layout, _ = compose("dining_room", seed)
    cams = camera_path(layout, "walk", 32, width=160, height=160, fov_y_deg=FOV, seed=seed)
    seq = render_sequence(layout, build_world(layout, seed), cams)
    return cams, seq.rgb, seq.depth


@pytest.fixture(scope="module")
def reconstruction(walk):
    _, rgb, _ = walk
    return estimate_poses(rgb)


def test_poses_recovered_within_5_percent_of_the_path(walk, reconstruction):
    cams = walk[0]
    rec = reconstruction
    assert len(rec.cameras) == len(cams) and len(rec.registered) >= 24
    assert all((c is None) == (i not in rec.registered) for i, c in enumerate(rec.cameras))
    err = trajectory_error(rec.cameras, cams)
    assert err["path_length"] > 2.0
    assert err["ate_pct"] < 5.0, err
    # The focal length was refined from a 60 degree guess towards the true 70 degrees.
    f_true = float(cams[0].K[0, 0])
    f_est = float(rec.cameras[rec.registered[0]].K[0, 0])
    assert abs(f_est - f_true) / f_true < 0.15 < abs(0.5 * 160 / math.tan(math.radians(30)) - f_true) / f_true
    assert rec.points.shape[1] == 3 and len(rec.points) > 100 and rec.points.dtype == np.float32
    assert rec.colors.shape == rec.points.shape and 0 <= rec.colors.min() and rec.colors.max() <= 1
    assert 0 < rec.reprojection_error_px < 2.0
    assert rec.observations.shape[1] == 2 and set(np.unique(rec.observations[:, 0])) <= set(rec.registered)


def test_same_frames_give_the_same_reconstruction(walk, reconstruction):
    again = estimate_poses(walk[1])
    assert again.registered == reconstruction.registered
    assert np.array_equal(again.points, reconstruction.points)
    assert all(torch.equal(a.c2w, b.c2w) for a, b in zip(again.cameras, reconstruction.cameras) if a is not None)


def test_metric_scale_from_true_depth_matches_the_alignment(walk, reconstruction):
    cams, _, depth = walk
    fit = metric_scale(reconstruction, list(depth))
    align = trajectory_error(reconstruction.cameras, cams)["scale"]
    # Two estimates of one scale: from the points' depths and from the camera path; monocular SfM
    # drifts in scale along a walk (here ~10% from the first frames to the last), hence 10%.
    assert fit.scale == pytest.approx(align, rel=0.1)
    assert fit.absrel < 0.2 and fit.delta1 > 0.85 and fit.points > 100
    doubled = metric_scale(reconstruction, list(2 * depth))
    assert doubled.scale == pytest.approx(2 * fit.scale, rel=1e-6) and doubled.absrel == pytest.approx(fit.absrel, abs=1e-9)
    # Scaled to metres, the cameras sit at the true spacing.
    metric = reconstruction.scaled(fit.scale)
    assert trajectory_error(metric.cameras, cams)["scale"] == pytest.approx(1.0, rel=0.1)
    with pytest.raises(SfMError, match="cannot fix the scale"):
        metric_scale(reconstruction, [None] * len(depth))


def test_upright_turns_the_cameras_mean_up_to_plus_z(reconstruction):
    up = reconstruction.upright()
    mean_up = -np.mean([c.c2w[:3, 1].numpy() for c in up.cameras if c is not None], axis=0)
    assert mean_up / np.linalg.norm(mean_up) == pytest.approx([0, 0, 1], abs=1e-5)
    centre = np.mean([c.position.numpy() for c in up.cameras if c is not None], axis=0)
    assert centre == pytest.approx([0, 0, 0], abs=1e-4)


def test_triangulation_with_known_poses_lies_on_the_true_depth(walk):
    cams, rgb, depth = walk
    rec = triangulate_reconstruction(cams, rgb)
    assert len(rec.points) > 150
    frames, uv, z = rec.observed_depths()
    x, y = uv[:, 0].astype(int).clip(0, 159), uv[:, 1].astype(int).clip(0, 159)
    rel = np.abs(z - depth[frames, y, x]) / depth[frames, y, x]
    assert np.median(rel) < 0.05 and (rel < 0.1).mean() > 0.6
    xyz, colors = triangulate(cams, rgb)
    assert np.array_equal(xyz, rec.points) and np.array_equal(colors, rec.colors)  # deterministic
    # A point's colour is the colour of the pixels that see it.
    seen = rgb[frames, y, x]
    assert np.median(np.abs(seen - rec.colors[rec.observations[:, 1]][(z > 0)]).mean(1)) < 0.1


def test_textureless_and_unrelated_frames_raise_sfm_error():
    black = np.zeros((8, 128, 128, 3), np.float32)
    with pytest.raises(SfMError, match=r"0 of 8 frames registered.*too little overlap or texture"):
        estimate_poses(black)
    noise = np.random.default_rng(0).random((6, 128, 128, 3)).astype(np.float32)  # no two frames show the same thing
    with pytest.raises(SfMError, match=r"of 6 frames registered|0 of 6"):
        estimate_poses(noise)
    cams = [Camera.look_at([0, -3 + 0.1 * i, 1], [0, 0, 1], width=128, height=128) for i in range(8)]
    with pytest.raises(SfMError, match="no point triangulated"):
        triangulate(cams, black)
    with pytest.raises(SfMError, match="at least 3 frames"):
        estimate_poses(black[:2])
    with pytest.raises(SfMError, match=r"\[M, H, W, 3\]"):
        estimate_poses(black[..., 0])


def test_align_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(20, 3))
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                  [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                  [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    dst = 2.5 * src @ R.T + [1.0, -2.0, 0.5]
    s, R_est, t = align_similarity(src, dst)
    assert s == pytest.approx(2.5) and R_est == pytest.approx(R, abs=1e-9) and t == pytest.approx([1.0, -2.0, 0.5])


def test_initial_scene_starts_from_given_points_without_depth():
    cams = [Camera.look_at([0, -3, 1], [0, 0, 1], width=32, height=32)]
    images = torch.rand(1, 32, 32, 3)
    pts = torch.tensor([[0.0, 0.0, 1.0], [0.2, 0.0, 1.0], [0.0, 0.3, 1.2], [0.1, 0.1, 0.9], [0.5, 0.5, 0.5]])
    rgb = torch.rand(5, 3)
    scene = initial_scene(cams, images, None, None, 1000, torch.Generator().manual_seed(0), pts, rgb, spread_points=False)
    assert len(scene) == 5 and torch.equal(scene.means, pts) and (scene.labels == -1).all()
    # Spread: random pixels at the depth of the nearest visible point, then the points themselves.
    spread = initial_scene(cams, images, None, None, 1000, torch.Generator().manual_seed(0), pts, rgb)
    assert len(spread) == 1005 and torch.equal(spread.means[-5:], pts)
    _, z = cams[0].project(spread.means[:-5])
    _, z_pts = cams[0].project(pts)
    assert torch.isin(z.round(decimals=4), z_pts.round(decimals=4)).all()  # every sample sits at a point's depth
    behind = torch.cat([pts, torch.tensor([[0.0, 5.0, 1.0]])])  # hidden behind the others: never used
    hidden = initial_scene(cams, images, None, None, 1000, torch.Generator().manual_seed(0), behind, torch.rand(6, 3))
    _, z = cams[0].project(hidden.means[:-6])
    assert float(z.max()) < 4.0
    # With depth for some frames, the points join the depth samples.
    depth = torch.full((1, 32, 32), 2.0)
    mixed = initial_scene(cams, images, depth, None, 100, torch.Generator().manual_seed(0), pts, rgb)
    assert len(mixed) == 105 and torch.equal(mixed.means[-5:], pts)
    with pytest.raises(ValueError, match="initial points"):
        initial_scene(cams, images, None, None, 10, torch.Generator(), pts, rgb[:2])


def test_lift_to_world_without_depth_starts_from_triangulated_points(walk, tmp_path):
    from renderer.lift import LiftConfig
    from worldgen.pipeline import lift_to_world
    from worldgen.world import load_world

    cams, rgb, _ = walk
    frames = PosedFrames(cams[::2], rgb[::2], [f"{i:05d}" for i in range(16)])
    out = lift_to_world(frames, tmp_path / "w", config=LiftConfig(iterations=5, init_points=3000, seed=0), progress=False,
                        flythrough=False)
    manifest = load_world(out).manifest
    assert manifest["lift"]["init"].startswith("triangulated (")
    assert "triangulate" in manifest["timings_s"]
    # Textureless frames: nothing triangulates, the lift falls back to random points and says so.
    black = PosedFrames(cams[:8], np.zeros((8, 160, 160, 3), np.float32), [str(i) for i in range(8)])
    out = lift_to_world(black, tmp_path / "b", config=LiftConfig(iterations=3, init_points=3000, seed=0), progress=False,
                        flythrough=False)
    assert load_world(out).manifest["lift"]["init"].startswith("random (triangulation failed")
