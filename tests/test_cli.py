import json
import subprocess
import sys

import numpy as np
from PIL import Image

from conftest import random_scene
from renderer import save_scene


def run(*args):
    return subprocess.run([sys.executable, "-m", "worldgen.cli", *args], capture_output=True, text=True, timeout=300)


def test_demo_info_and_render(tmp_path):
    r = run("demo", "--out", str(tmp_path / "demo.png"), "--gaussians", "3000", "--width", "64", "--height", "48")
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(tmp_path / "demo.png"))
    assert img.shape == (48, 64, 3) and img.std() > 10  # something was drawn

    r = run("info", str(tmp_path / "demo.ply"), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["gaussians"] > 2900 and info["sh_degree"] == 1
    lo, hi = info["bounds"]
    assert lo[2] >= -1e-6 and hi[2] > 1.0  # +Z up: the ground is the lowest thing

    r = run("render", str(tmp_path / "demo.ply"), "--out", str(tmp_path / "v.png"), "--width", "40", "--height", "30",
            "--azimuth", "200", "--elevation", "40", "--distance", "5", "--background", "#ff0000")
    assert r.returncode == 0, r.stderr
    v = np.asarray(Image.open(tmp_path / "v.png"))
    assert v.shape == (30, 40, 3) and tuple(v[0, 0]) == (255, 0, 0)  # sky corner shows the background


def test_render_is_deterministic(tmp_path):
    save_scene(random_scene(500), tmp_path / "s.ply")
    for name in ("a.png", "b.png"):
        assert run("render", str(tmp_path / "s.ply"), "--out", str(tmp_path / name), "--width", "32", "--height", "32").returncode == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_bad_inputs_get_clear_errors(tmp_path):
    (tmp_path / "junk.ply").write_bytes(b"\x00garbage")
    r = run("info", str(tmp_path / "junk.ply"))
    assert r.returncode == 2 and "junk.ply: not a PLY file" in r.stderr and "Traceback" not in r.stderr
    r = run("render", str(tmp_path / "nothere.ply"), "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "no such file" in r.stderr
    save_scene(random_scene(5), tmp_path / "s.ply")
    r = run("render", str(tmp_path / "s.ply"), "--out", str(tmp_path / "x.gif"))
    assert r.returncode == 2 and "unsupported image extension" in r.stderr
    r = run("render", str(tmp_path / "s.ply"), "--out", str(tmp_path / "x.png"), "--distance", "-1")
    assert r.returncode == 2 and "--distance" in r.stderr
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.gif").exists()


def test_layout_procgen_and_render_layout(tmp_path):
    r = run("layout", "a bedroom with two green beds and a lamp on the desk, plus dragons", "--json", "--engine", "rules",
            "--no-complete")
    assert r.returncode == 0, r.stderr
    layout = json.loads(r.stdout)
    assert layout["version"] == 1 and sorted(o["label"] for o in layout["objects"]) == ["bed", "bed", "desk", "lamp"]
    assert "ignored words: dragons" in r.stderr
    completed = json.loads(run("layout", "a bedroom with two green beds", "--json", "--engine", "rules").stdout)
    assert {o["source"] for o in completed["objects"]} == {"prompt", "completion"}  # the default furnishes the room
    (tmp_path / "l.json").write_text(r.stdout)
    r = run("render-layout", str(tmp_path / "l.json"), "--out", str(tmp_path / "draft"), "--frames", "3", "--resolution", "24")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "draft" / "transforms.json").read_text())
    assert len(meta["frames"]) == 3 and (tmp_path / "draft" / "depth" / "00002.npy").exists()
    r = run("procgen", "--out", str(tmp_path / "ds"), "--worlds", "2", "--frames", "2", "--resolution", "16", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["world_00000", "world_00001"]
    (tmp_path / "bad.json").write_text('{"version": 2}')
    r = run("render-layout", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "bad.json: layout schema version 2" in r.stderr and not (tmp_path / "x").exists()


def test_layout_with_the_shipped_language_model():
    r = run("layout", "a bedroom with two blue beds and a white lamp on the table", "--json", "--engine", "lm",
            "--no-complete")
    assert r.returncode == 0, r.stderr
    layout = json.loads(r.stdout)
    assert layout["version"] == 1 and layout["scene_type"] == "bedroom"
    assert sorted(o["label"] for o in layout["objects"]) == ["bed", "bed", "lamp", "table"]
    r = run("layout", "x", "--engine", "gpt")
    assert r.returncode == 2 and "engine must be one of auto, lm, rules" in r.stderr
    r = run("layout", "x", "--engine", "lm", "--checkpoint", "/nonexistent")
    assert r.returncode == 2 and "config.json: cannot read" in r.stderr
