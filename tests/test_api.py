"""The Python API: worldgen.generate -> World; save, load, render, export; errors."""

import json

import numpy as np
import pytest

import worldgen
from worldgen.errors import WorldgenError

pytestmark = pytest.mark.slow

SMALL = dict(frames=8, resolution=64, lift_steps=6, progress=False, engine="rules")


@pytest.fixture(scope="module")
def draft():
    return worldgen.generate("a bedroom with a blue bed", seed=3, **SMALL)


def _without_timestamps(path):
    manifest = json.loads((path / "world.json").read_text())
    manifest.pop("created")
    return manifest


def test_generate_save_load_save_round_trips(draft, tmp_path):
    assert draft.manifest["source"] == "procedural" and draft.metrics["psnr_heldout"] > 10
    assert draft.manifest["config"]["effort"] == "draft" and draft.manifest["config"]["frames"] == 8
    a = draft.save(tmp_path / "a")
    b = worldgen.load_world(a).save(tmp_path / "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        if rel.name != "world.json":
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert _without_timestamps(a) == _without_timestamps(b)
    with pytest.raises(WorldgenError, match="exists"):
        draft.save(a)  # an existing world is refused unless overwrite
    draft.save(a, overwrite=True)


def test_render_and_export(draft, tmp_path):
    cam = draft.cameras[0]
    rgb = draft.render(cam)
    assert rgb.shape == (cam.height, cam.width, 3) and rgb.dtype == np.float32 and 0.05 < rgb.mean() < 0.95
    ply = draft.export("ply", tmp_path / "w.ply")
    assert len(worldgen.load_scene(ply)) == len(draft.scene)
    with pytest.raises(WorldgenError, match="unknown export format"):
        draft.export("obj", tmp_path / "w.obj")
    with pytest.raises(WorldgenError, match="Camera"):
        draft.render("front")


def test_same_inputs_same_world(draft):
    again = worldgen.generate("a bedroom with a blue bed", seed=3, **SMALL)
    assert np.array_equal(again.scene.means.numpy(), draft.scene.means.numpy())


def test_generate_from_a_layout_file_and_through_the_frame_model(draft, tmp_path):
    layout_file = draft.file("layout")
    from_layout = worldgen.generate(layout=layout_file, **SMALL)
    assert from_layout.layout.to_dict() == draft.layout.to_dict()
    assert from_layout.manifest["models"]["layout"] == "given"
    full = worldgen.generate(layout=layout_file, frames_from="model", **SMALL)
    assert full.manifest["source"] == "layout-model" and full.manifest["models"]["frames"].startswith("rtfm")
    assert sorted(full.manifest) == sorted(draft.manifest)  # one manifest shape for every source
    assert full.file("memory") is not None and len(full.scene) > 0


@pytest.mark.parametrize("kwargs, message", [
    ({}, "needs a prompt"),
    ({"prompt": "a room", "quality": "best"}, r"unknown generation option\(s\) 'quality'"),
    ({"prompt": "a room", "effort": "best"}, "effort must be one of draft, standard, high"),
    ({"prompt": "a room", "frames": 0}, "frames must be"),
    ({"images": "a.png", "video": "b.mp4"}, "not images and video"),
    ({"layout": "/nonexistent/layout.json"}, "layout.json"),
    ({"images": "/nonexistent/photo.jpg"}, "photo.jpg"),
])
def test_bad_arguments_are_worldgen_errors(kwargs, message):
    with pytest.raises(WorldgenError, match=message):
        worldgen.generate(**kwargs)
