import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import trimesh

from renderer import Camera, GaussianScene, load_scene, render
from renderer.lift import LiftConfig, evaluate, initial_scene, lift
from renderer.mesh import tsdf_mesh
from worldgen.frames import PosedFrames
from worldgen.export import export_world
from worldgen.pipeline import lift_to_world
from worldgen.procgen.composers import compose
from worldgen.procgen.dataset import render_sequence
from worldgen.procgen.paths import camera_path
from worldgen.procgen.world import build_world
from worldgen.world import WorldError, load_world, manifest_json


@pytest.fixture(scope="module")
def room_frames():
    lay, _ = compose("bedroom", 1)
    world = build_world(lay, 1)
    cams = camera_path(lay, "orbit", 12, width=40, height=40, seed=1)
    seq = render_sequence(lay, world, cams)
    return lay, world, cams, seq


def test_initialisation_backprojects_depth(room_frames):
    _, _, cams, seq = room_frames
    scene = initial_scene(cams, torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), torch.from_numpy(seq.label),
                          2000, torch.Generator().manual_seed(0))
    # Every initial Gaussian projects back onto a pixel at its own depth in some frame.
    uv, z = cams[0].project(scene.means)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < 40) & (uv[:, 1] >= 0) & (uv[:, 1] < 40) & (z > 0)
    u, v = uv[inside, 0].long(), uv[inside, 1].long()
    front = (z[inside] - torch.from_numpy(seq.depth[0])[v, u]).abs() < 1e-3
    assert front.sum() > 50
    assert set(scene.labels.tolist()) <= set(np.unique(seq.label).tolist())


def test_lift_improves_and_is_deterministic(room_frames):
    _, _, cams, seq = room_frames
    imgs, deps, labs = torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), torch.from_numpy(seq.label)
    cfg = LiftConfig(iterations=120, init_points=3000, refine_start=20, refine_every=20, seed=3)
    a = lift(cams, imgs, deps, labs, cfg)
    b = lift(cams, imgs, deps, labs, cfg)
    assert torch.equal(a.scene.means, b.scene.means) and torch.equal(a.scene.labels, b.scene.labels)
    assert a.history[-1]["psnr"] > a.history[0]["psnr"] + 2.0
    assert a.history[-1]["gaussians"] != a.history[0]["gaussians"]  # gsplat's strategy grew or pruned Gaussians
    assert a.sky is None and not (a.scene.labels == 4).any()  # no sky in a room: no sky model, no shell
    m = evaluate(a.scene, cams[:3], seq.rgb[:3])
    assert m["psnr"] > 18 and 0 < m["ssim"] <= 1


def test_tsdf_mesh_lies_on_the_true_surface():
    lay, _ = compose("bedroom", 2)
    world = build_world(lay, 2)
    cams = camera_path(lay, "orbit", 16, width=96, height=96, seed=2)
    seq = render_sequence(lay, world, cams)
    mesh = tsdf_mesh(cams, seq.depth, seq.rgb, voxel_size=0.02)
    assert len(mesh.faces) > 1000 and mesh.visual.vertex_colors.shape[1] == 4
    truth = trimesh.Trimesh(world.vertices, world.faces, process=False)
    sample = mesh.vertices[:: max(1, len(mesh.vertices) // 3000)]
    dist = np.abs(trimesh.proximity.ProximityQuery(truth).signed_distance(sample))
    assert (dist < 0.02).mean() >= 0.95


def test_world_round_trip_and_exports(tmp_path, room_frames):
    _, _, cams, seq = room_frames
    frames = PosedFrames(cams, seq.rgb, [], seq.depth, seq.label)
    path = lift_to_world(frames, tmp_path / "w", config=LiftConfig(iterations=30, init_points=2000), progress=False)
    world = load_world(path)
    assert {"scene", "mesh", "collider", "flythrough"} <= set(world.manifest["files"])
    assert {"psnr_heldout", "ssim_heldout"} <= set(world.manifest["metrics"])
    assert set(world.manifest["timings_s"]) == {"lift", "metrics", "mesh", "flythrough"}
    assert manifest_json(world.manifest) == (path / "world.json").read_bytes()  # save -> load -> save: same bytes
    assert (path.stat().st_mode & 0o777) != 0o700
    for fmt in ("ply", "splat", "glb", "mp4"):
        out = export_world(world, fmt, tmp_path / f"x.{fmt}")
        assert out.exists() and out.stat().st_size > 1000
    with pytest.raises(WorldError, match="exists and is not empty"):
        lift_to_world(frames, path, config=LiftConfig(iterations=1))


@pytest.mark.parametrize("axes, up", [("opengl", (0, 1, 0)), ("opencv", (0, -1, 0))])
def test_exported_ply_shows_which_way_is_up(tmp_path, axes, up):
    """A red Gaussian above a blue one in the world (+Z up) stays above it after export, seen by a
    camera whose image-up is the convention's up."""
    scene = GaussianScene.concat([GaussianScene.from_points(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[1.0, 0, 0]]), scale=0.2),
                                  GaussianScene.from_points(torch.tensor([[0.0, 0.0, -1.0]]), torch.tensor([[0, 0, 1.0]]), scale=0.2)])
    (tmp_path / "w").mkdir()
    from renderer import save_scene

    save_scene(scene, tmp_path / "w" / "scene.ply")
    (tmp_path / "w" / "world.json").write_text(json.dumps({"version": 1, "files": {"scene": "scene.ply"}}))
    export_world(load_world(tmp_path / "w"), "ply", tmp_path / "out.ply", axes=axes)
    exported = load_scene(tmp_path / "out.ply")
    eye = {"opengl": [0.0, 0.0, 6.0], "opencv": [0.0, 0.0, -6.0]}[axes]
    cam = Camera.look_at(eye, [0, 0, 0], width=32, height=32, up=up)
    img = render(exported, cam).rgb[0]
    top, bottom = img[:16].sum((0, 1)), img[16:].sum((0, 1))
    assert top[0] > top[2] and bottom[2] > bottom[0]  # red on top, blue below


def run(*args):
    return subprocess.run([sys.executable, "-m", "worldgen.cli", *args], capture_output=True, text=True, timeout=600)


def test_generate_and_lift_commands(tmp_path):
    r = run("generate", "a kitchen with a red fridge and a table", "--out", str(tmp_path / "g"), "--frames", "8",
            "--resolution", "32", "--lift-steps", "20")
    assert r.returncode == 0, r.stderr
    world = load_world(tmp_path / "g")
    assert world.manifest["inputs"]["prompt"].startswith("a kitchen") and world.layout.counts()["fridge"] == 1
    assert world.manifest["models"]["layout"] == "rules"
    assert {"layout", "frames", "lift", "mesh", "flythrough"} <= set(world.manifest["timings_s"])
    r = run("lift", str(tmp_path / "g" / "frames"), "--out", str(tmp_path / "l"), "--iterations", "20")
    assert r.returncode == 0, r.stderr
    lifted = load_world(tmp_path / "l")
    assert lifted.manifest["lift"]["steps"] == 20 and lifted.manifest["lift"]["stopped_by"] != "time"
    r = run("lift", str(tmp_path / "g" / "frames"), "--out", str(tmp_path / "r"), "--iterations", "20",
            "--refine-poses")
    assert r.returncode == 0, r.stderr
    refined = load_world(tmp_path / "r")
    assert refined.manifest["lift"]["config"]["refine_poses"] and "aligned" in refined.manifest["metrics"]["heldout_poses"]
    assert len(refined.cameras) == len(load_world(tmp_path / "l").cameras)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "transforms.json").write_text('{"frames": [{"file_path": "../../x.png"}]}')
    r = run("lift", str(tmp_path / "bad"), "--out", str(tmp_path / "nope"))
    assert r.returncode == 2 and "points outside the folder" in r.stderr and not (tmp_path / "nope").exists()
    r = run("export", str(tmp_path / "g"), "--format", "obj", "--out", str(tmp_path / "x.obj"))
    assert r.returncode == 2 and "--format" in r.stderr


def test_exported_ply_is_accepted_by_gradio_model3d(tmp_path):
    import gradio as gr

    from renderer import save_scene
    from worldgen.demo import demo_scene

    save_scene(demo_scene(2000), tmp_path / "s.ply")
    data = gr.Model3D().postprocess(str(tmp_path / "s.ply"))
    assert data is not None and str(data.path).endswith(".ply")


def test_regularisers_shrink_opacity_and_scale(room_frames):
    _, _, cams, seq = room_frames
    args = (cams, torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), None)
    plain = lift(*args, LiftConfig(iterations=30, init_points=1500, densify=False))
    reg = lift(*args, LiftConfig(iterations=30, init_points=1500, densify=False, lambda_opacity=0.5, lambda_scale=5.0))
    assert reg.scene.opacities().mean() < plain.scene.opacities().mean()
    assert reg.scene.scales().mean() < plain.scene.scales().mean()


# ---- the sky, the voxel initialisation, determinism ---------------------------------------------

@pytest.fixture(scope="module")
def outdoor_frames():
    """A small outdoor world (ground, a brick block, a wooden post) under raycast's sky: 20 views of
    48x48 looking a little up, every 5th held out."""
    from renderer.layout import LABEL_IDS
    from renderer.raycast import Light, MeshWorld, raycast

    box = lambda extents, center: trimesh.creation.box(extents=extents, transform=trimesh.transformations.translation_matrix(center))  # noqa: E731
    parts = [(box((40, 40, 0.1), (0, 0, -0.05)), "grass", (0.35, 0.6, 0.3), LABEL_IDS["ground"], 0),
             (box((1.5, 1.0, 1.2), (0.3, 0.2, 0.6)), "brick", (0.7, 0.35, 0.3), LABEL_IDS["house"], 1),
             (box((0.2, 0.2, 2.0), (-1.0, 0.8, 1.0)), "wood", (0.5, 0.35, 0.2), LABEL_IDS["fence"], 2)]
    world = MeshWorld.from_parts(parts, ["grass", "brick", "wood"], lights=[Light(direction=(-0.4, -0.3, -0.85), intensity=0.85)],
                                 ambient=0.42)
    cams = [Camera.look_at([4 * np.cos(a), 4 * np.sin(a), 1.4], [0, 0, 1.9], width=48, height=48)
            for a in np.linspace(0, 2 * np.pi, 20, endpoint=False)]
    shots = [raycast(world, c) for c in cams]
    stack = lambda k: torch.from_numpy(np.stack([s[k] for s in shots]))  # noqa: E731
    test = list(range(2, 20, 5))
    train = [i for i in range(20) if i not in test]
    return cams, stack("rgb"), stack("depth"), stack("label").long(), train, test


def _psnr(a, b):
    return float(-10 * torch.log10(((a - b) ** 2).mean()))


def test_sky_model_reproduces_the_ray_casters_sky(outdoor_frames):
    from renderer.raycast import SKY_LABEL, sky_color
    from renderer.sky import pixel_directions, sample_sky, shell_mask

    cams, rgb, depth, label, train, test = outdoor_frames
    sky = label == SKY_LABEL
    assert 0.2 < sky[test].float().mean() < 0.8
    result = lift([cams[i] for i in train], rgb[train], depth[train], label[train],
                  LiftConfig(iterations=60, init_points=6000, densify=False, seed=0))
    assert result.sky is not None and result.sky.shape == (3, 32, 64)
    dirs = torch.stack([pixel_directions(cams[i]) for i in test])
    truth = torch.from_numpy(sky_color(dirs[sky[test]].numpy()))
    assert torch.allclose(truth, rgb[test][sky[test]], atol=1e-5)  # the held-out sky pixels are sky_color
    assert _psnr(sample_sky(result.sky, dirs[sky[test]]), truth) > 35  # the fitted environment
    # The scene carries the sky as a shell of far, opaque Gaussians labelled sky, and it renders as
    # the sky in held-out views, with the splats in front of it (not smeared over it).
    shell = shell_mask(result.scene)
    assert shell.sum() == LiftConfig().sky_shell
    assert float(result.scene.means[shell].norm(dim=1).min()) > 20 * float(result.scene.means[~shell].norm(dim=1).quantile(0.5))
    with torch.no_grad():
        full = torch.cat([render(result.scene, cams[i], with_labels=False).rgb for i in test]).clamp(0, 1)
        splats = torch.cat([render(result.scene.subset(~shell), cams[i], with_labels=False).alpha for i in test])
    assert _psnr(full[sky[test]], truth) > 26
    assert float(splats[sky[test]].mean()) < 0.1 < float(splats[~sky[test]].mean())
    metrics = evaluate(result.scene, [cams[i] for i in test], rgb[test])
    off = lift([cams[i] for i in train], rgb[train], depth[train], label[train],
               LiftConfig(iterations=60, init_points=6000, densify=False, seed=0, sky="off"))
    assert off.sky is None and metrics["psnr"] > evaluate(off.scene, [cams[i] for i in test], rgb[test])["psnr"] + 3


def test_sky_shell_survives_a_ply_round_trip(tmp_path):
    from renderer import save_scene
    from renderer.sky import fit_sky, fibonacci_directions, shell_mask, sky_shell

    dirs = fibonacci_directions(3000)
    texture = fit_sky(dirs, 0.5 + 0.4 * dirs[:, 2:].clamp(min=0).expand(-1, 3) * torch.tensor([0.3, 0.6, 1.0]))
    body = GaussianScene.from_points(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[1.0, 0.2, 0.1]]), scale=0.3, labels=torch.tensor([7]))
    scene = GaussianScene.concat([body, sky_shell(texture, torch.zeros(3), 100.0, 500)])
    save_scene(scene, tmp_path / "s.ply")
    back = load_scene(tmp_path / "s.ply")
    assert int(shell_mask(back).sum()) == 500 and torch.equal(back.labels, scene.labels)
    for name in ("means", "quats", "log_scales", "opacity_logits", "sh"):
        assert torch.allclose(getattr(back, name), getattr(scene, name), atol=1e-6), name
    cams = [Camera.look_at([0, -4, 1], [0, 0, 1.5 + k], width=40, height=32) for k in range(2)]
    a, b = render(scene, cams), render(back, cams)
    assert torch.allclose(a.rgb, b.rgb, atol=1e-5) and (a.alpha > 0.99).all()  # opaque everywhere: no hole to see through
    assert (a.label == 4).float().mean() > 0.5 and (a.label == 7).any()


def test_voxel_initialisation_keeps_one_gaussian_per_voxel():
    from renderer.lift import depth_pixels, voxel_groups, voxel_initial_points

    # Two cameras 2 m from a wall, side by side: most of the wall is seen twice at the same footprint.
    cams = [Camera.look_at([x, -2.0, 1.0], [x, 0.0, 1.0], width=32, height=32, fov_y_deg=60) for x in (0.0, 0.15)]
    depth = torch.full((2, 32, 32), 2.0)
    images = torch.rand(2, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    pts, _, foot, _, _ = depth_pixels(cams, depth)
    group, cell, n = voxel_groups(pts, foot * 2.0)
    assert (cell == cell[0]).all() and cell[0] <= 2.0 * foot[0] < 2 * cell[0]  # the grid: 2 footprints, snapped down
    # One Gaussian per occupied voxel, and no two groups in one voxel.
    origin = pts.double().amin(0) - 0.5 * cell[0]  # the grid's origin (voxel_groups' docstring)
    keys = torch.floor((pts.double() - origin) / cell[0]).long()
    for g in range(n):
        assert (keys[group == g] == keys[group == g][0]).all()
    assert n == len(torch.unique(torch.stack([group, *keys.T]).T, dim=0))
    assert n < 0.75 * len(pts)  # the two frames' pixels share voxels instead of stacking
    means, normals, rgb, labels, cells, edge = voxel_initial_points(cams, images, depth, None, 2.0)
    assert len(means) == n and torch.allclose(means[:, 1], torch.zeros(n), atol=1e-5)  # on the wall
    assert torch.allclose(normals, torch.tensor([0.0, -1.0, 0.0]).expand(n, 3), atol=1e-4)  # facing the cameras
    # A third camera nearer the wall sees part of it finer: the coarse pixels there join the fine grid.
    cams.append(Camera.look_at([0.0, -1.0, 1.0], [0.0, 0.0, 1.0], width=32, height=32, fov_y_deg=60))
    depth = torch.cat([depth, torch.full((1, 32, 32), 1.0)])
    pts, _, foot, _, _ = depth_pixels(cams, depth)
    group, cell, n3 = voxel_groups(pts, foot * 2.0)
    near = torch.arange(len(pts)) >= 2 * 32 * 32
    inside = (pts[:, 0].abs() < 0.5) & ((pts[:, 2] - 1.0).abs() < 0.5) & ~near  # far pixels on the near view's patch
    assert (cell[near] == cell[near][0]).all() and cell[near][0] < cell[~near].max()
    assert (cell[inside & (pts[:, 0].abs() < 0.4) & ((pts[:, 2] - 1.0).abs() < 0.4)] == cell[near][0]).all()
    assert len(voxel_initial_points(cams, torch.rand(3, 32, 32, 3), depth, None, 2.0, max_points=300)[0]) <= 300


def test_same_seed_same_world(outdoor_frames):
    cams, rgb, depth, label, train, test = outdoor_frames
    args = ([cams[i] for i in train], rgb[train], depth[train], label[train])
    cfg = LiftConfig(iterations=25, init_points=4000, refine_start=5, refine_every=5, seed=7)
    a, b = lift(*args, cfg), lift(*args, cfg)
    for name in ("means", "quats", "log_scales", "opacity_logits", "sh", "labels"):
        assert torch.equal(getattr(a.scene, name), getattr(b.scene, name)), name
    assert torch.equal(a.sky, b.sky)
    c = lift(*args, LiftConfig(iterations=25, init_points=4000, refine_start=5, refine_every=5, seed=8))
    assert not torch.equal(a.scene.means[: min(len(a.scene), len(c.scene))], c.scene.means[: min(len(a.scene), len(c.scene))])


def test_a_portrait_flythrough_is_an_mp4_with_even_sides(tmp_path):
    from worldgen.flythrough import smooth_path, video_bytes, write_video

    cams = [Camera.look_at([0.2 * i, 0.0, 1.5], [3.0, 0.5, 1.0], width=128, height=224) for i in range(3)]
    path = smooth_path(cams, 4, 160)  # 91.4 x 160 before rounding: odd widths made H.264 fail
    assert all((c.width, c.height) == (92, 160) for c in path)
    assert torch.allclose(path[0].K, cams[0].scaled(92, 160).K)
    frames = np.zeros((4, 160, 92, 3), dtype=np.uint8)
    assert write_video(frames, tmp_path / "f.mp4") == tmp_path / "f.mp4"
    assert video_bytes(frames)[4:8] == b"ftyp"


def test_densification_stops_at_the_splat_cap():
    """LiftConfig.max_gaussians: growth past the cap is pruned back to it, least opaque first."""
    from renderer.lift import LiftConfig, lift

    from worldgen.procgen.composers import compose
    from worldgen.procgen.dataset import render_sequence
    from worldgen.procgen.paths import camera_path
    from worldgen.procgen.world import build_world

    layout, _ = compose("bedroom", 0)
    cams = camera_path(layout, "orbit", 8, width=48, height=48, seed=0)
    seq = render_sequence(layout, build_world(layout, 0), cams)
    rgb, depth, label = torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), torch.from_numpy(seq.label).long()
    base = dict(iterations=60, refine_start=10, refine_every=10, min_steps_to_densify=0, init_points=3000,
                grow_grad2d=1e-6)
    free = lift(cams, rgb, depth, label, LiftConfig(**base))
    capped = lift(cams, rgb, depth, label, LiftConfig(**base, max_gaussians=4000))
    assert len(free.scene) > 4000 >= len(capped.scene) >= 3000 and max(h["gaussians"] for h in capped.history) <= 4000
