import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from renderer.view import exploration_path
from worldgen.build import build_world
from worldgen.config import GenerateConfig
from worldgen.sources.photo import PhotoSource, photo_camera
from worldgen.world import load_world

def run(*args):
    return subprocess.run([sys.executable, "-m", "worldgen.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_exploration_path_turns_and_steps_back():
    start = photo_camera(64, 48, 60.0)
    path = exploration_path(start, 12)
    yaws = [float(torch.atan2(c.forward[1], c.forward[0]).rad2deg()) for c in path]
    assert 30 <= max(yaws) <= 40.01 and -40.01 <= min(yaws) <= -30  # left, then right, within 40 degrees
    back = [float(start.position[0] - c.position[0]) for c in path]
    assert back[0] == 0 and max(back) == pytest.approx(0.5, abs=1e-5)
    assert all(c.width == 64 and c.height == 48 for c in path)
    with pytest.raises(ValueError):
        exploration_path(start, 0)


def test_image_to_world_writes_a_whole_world(photo, micro_checkpoint, tmp_path):
    config = GenerateConfig(frames=4, resolution=32, lift_steps=10, frame_model=micro_checkpoint)
    out = build_world(PhotoSource(photo, None, config), tmp_path / "w", progress=False)
    world = load_world(out)
    for key in ("scene", "frames", "memory", "flythrough"):  # a random model gives no depth to mesh
        assert key in world.manifest["files"], key
    frames = json.loads((out / "frames" / "transforms.json").read_text())
    assert len(frames["frames"]) == 4
    assert world.manifest["source"] == "photo" and world.manifest["inputs"]["image"] == str(photo)
    assert world.manifest["source_info"] == {"fov_y_deg": 60.0, "fov_from": "default", "generated_from": 1}
    assert {"photo depth", "frames", "lift"} <= set(world.manifest["timings_s"])


def test_image_to_world_and_depth_from_the_cli(photo, micro_checkpoint, tmp_path):
    r = run("depth", str(photo), "--out", str(tmp_path / "d.npy"), "--preview", str(tmp_path / "d.png"),
            "--checkpoint", str(micro_checkpoint))
    assert r.returncode == 0, r.stderr
    d = np.load(tmp_path / "d.npy")
    assert d.shape == (48, 64) and d.dtype == np.float32 and (d >= 0).all()
    (tmp_path / "junk.png").write_bytes(b"\x89PNG junk")
    r = run("generate", "--image", str(tmp_path / "junk.png"), "--out", str(tmp_path / "bad"),
            "--frame-model", str(micro_checkpoint))
    assert r.returncode == 2 and "junk.png" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad").exists()
    r = run("generate", "--image", str(photo), "--image", str(photo), "--out", str(tmp_path / "two"))
    assert r.returncode == 2 and "at least 3 overlapping photos" in r.stderr
    r = run("eval", "rtfm", "--checkpoint", str(tmp_path / "absent"), "--worlds", "1")
    assert r.returncode == 2 and "no such checkpoint" in r.stderr


def test_photo_world_through_the_api_streams_frames_and_is_reproducible(photo, micro_checkpoint):
    """worldgen.generate(images=...) honours on_frame, lift_steps and flythrough as prompt worlds do:
    the photo and each generated view reach on_frame as they are made, and a fixed step count gives
    the same world twice."""
    import worldgen

    seen = []
    kw = dict(images=str(photo), frames=4, resolution=32, lift_steps=5, flythrough=False, frame_model=micro_checkpoint,
              progress=False)
    a = worldgen.generate(**kw, on_frame=lambda i, n, rgb: seen.append((i, n, rgb.shape)))
    assert [(i, n) for i, n, _ in seen] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert seen[0][2] == (48, 64, 3) and all(len(s) == 3 and s[2] == 3 for _, _, s in seen)
    assert "flythrough" not in a.manifest["files"] and a.manifest["lift"]["steps"] == 5
    b = worldgen.generate(**kw)
    assert np.array_equal(a.scene.means.numpy(), b.scene.means.numpy())
