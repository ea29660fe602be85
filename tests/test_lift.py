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
from worldgen.pipeline import export_world, lift_to_world
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
    assert len(a.scene) != 3000  # gsplat's strategy grew or pruned Gaussians
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
            "--resolution", "32", "--time-budget", "2")
    assert r.returncode == 0, r.stderr
    world = load_world(tmp_path / "g")
    assert world.manifest["inputs"]["prompt"].startswith("a kitchen") and world.layout.counts()["fridge"] == 1
    assert world.manifest["models"]["layout"] == "rules"
    assert {"layout", "frames", "lift", "mesh", "flythrough"} <= set(world.manifest["timings_s"])
    r = run("lift", str(tmp_path / "g" / "frames"), "--out", str(tmp_path / "l"), "--time-budget", "2", "--iterations", "20")
    assert r.returncode == 0, r.stderr
    assert load_world(tmp_path / "l").manifest["lift"]["steps"] <= 20
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
