"""Frame sources, GenerateConfig and the typed manifest: one pipeline for every input."""

import json
import logging
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import worldgen
from renderer.raycast import raycast, raycast_panorama
from worldgen.build import build_world
from worldgen.config import EFFORTS, ConfigError, GenerateConfig
from worldgen.errors import WorldgenError
from worldgen.manifest import WorldManifest
from worldgen.sources import SOURCES, SourceError, inputs_of, source_for
from worldgen.sources.pano import PanoSource, perspective_view, ring_cameras, ring_scales
from worldgen.world import load_world


@pytest.fixture(scope="module")
def room():
    from worldgen.procgen.composers import compose
    from worldgen.procgen.world import build_world as mesh_world

    layout, _ = compose("living_room", 3)
    return layout, mesh_world(layout, 3)


@pytest.fixture(scope="module")
def pano(room, tmp_path_factory):
    """A 512 x 256 equirectangular panorama ray cast from 1.5 m above the room's centre (the origin)."""
    path = tmp_path_factory.mktemp("pano") / "room.png"
    shot = raycast_panorama(room[1], (0.0, 0.0, 1.5), 512)
    Image.fromarray((shot["rgb"] * 255 + 0.5).astype(np.uint8)).save(path)
    return path


def _psnr(a, b):
    return 10 * math.log10(1 / float(((np.asarray(a) - np.asarray(b)) ** 2).mean()))


# ---- GenerateConfig --------------------------------------------------------------------------------
def test_config_presets_and_overrides():
    cfg = GenerateConfig.preset("standard", frames=12)
    assert cfg.value("frames") == 12 and cfg.value("resolution") == EFFORTS["standard"].resolution
    assert cfg.explicit == {"frames"} and GenerateConfig().explicit == frozenset()
    assert cfg.to_dict()["time_budget_s"] == EFFORTS["standard"].time_budget_s
    for effort in EFFORTS.values():  # each states what it costs
        assert effort.cost and effort.frames >= 2
    for bad, message in [({"effort": "best"}, "effort must be one of"), ({"frames": 1}, "frames must be"),
                         ({"frames_from": "gan"}, "frames_from must be"), ({"seed": -1}, "seed must be"),
                         ({"time_budget_s": float("nan")}, "time_budget_s must be"), ({"flythrough": 1}, "flythrough")]:
        with pytest.raises(ConfigError, match=message):
            GenerateConfig().with_options(**bad)
    with pytest.raises(ConfigError, match="unknown generation option"):
        GenerateConfig().with_options(quality="full")


# ---- choosing a source, and settings a source cannot use --------------------------------------------
def test_every_source_is_registered_with_an_input_generate_takes():
    import inspect

    params = inspect.signature(worldgen.generate).parameters
    assert {"procedural", "layout-model", "photo", "photos", "video", "posed-capture", "pano"} <= set(SOURCES)
    for name in inputs_of():
        assert name in params, name


@pytest.mark.parametrize("inputs, options, message", [
    ({"images": "/nowhere/a.jpg"}, {"engine": "rules"}, "engine cannot be used with a photo world"),
    ({"images": "/nowhere/a.jpg"}, {"frames_from": "model"}, "frames_from cannot be used"),
    ({"video": "/nowhere/v.mp4"}, {"complete": False}, "complete cannot be used with a video world"),
    ({"images": ["/a.jpg", "/b.jpg", "/c.jpg"]}, {"frames": 10}, "frames cannot be used with a photos world"),
    ({"pano": "/nowhere/p.jpg"}, {"fov_y_deg": 70.0}, "fov_y_deg cannot be used with a pano world"),
    ({}, {"fov_y_deg": 70.0}, "fov_y_deg cannot be used with a procedural world"),
    ({}, {"generated": 4}, "generated cannot be used with a procedural world"),
])
def test_a_setting_the_source_cannot_use_is_refused_not_dropped(inputs, options, message):
    config = GenerateConfig().with_options(**options)
    with pytest.raises(SourceError, match=message):
        source_for(inputs, "a room", config)
    with pytest.raises(WorldgenError, match=message):  # the same through the API
        worldgen.generate("a room", **inputs, **options)


def test_one_input_at_a_time():
    with pytest.raises(SourceError, match="not images and pano"):
        source_for({"images": "a.png", "pano": "b.png"}, None, GenerateConfig())
    with pytest.raises(SourceError, match="needs a prompt or one input"):
        source_for({}, None, GenerateConfig())


# ---- the panorama source ---------------------------------------------------------------------------
def test_panorama_views_match_the_world_seen_by_the_same_cameras(room, pano):
    """The ring's views resampled from the panorama are the room as those cameras see it: the
    panorama's orientation (centre column +X, columns turning right) is the one viewers use."""
    rgb = torch.from_numpy(np.asarray(Image.open(pano), dtype=np.float32) / 255)
    for cam in ring_cameras(64)[::3]:
        truth = raycast(room[1], cam, samples_per_pixel=2)["rgb"]
        assert _psnr(perspective_view(rgb, cam), truth) > 24
        assert _psnr(perspective_view(rgb.flip(1), cam), truth) < _psnr(perspective_view(rgb, cam), truth) - 3


def test_ring_scales_undo_a_scale_per_view(room):
    """Views whose depths are each off by their own factor come out agreeing (up to one global factor)."""
    cams = ring_cameras(48)
    dist = []
    for cam in cams:
        d = torch.from_numpy(raycast(room[1], cam)["depth"])
        dirs = cam.rays()[1]
        dist.append(d / (dirs @ cam.c2w[:3, 2].float()).clamp(min=1e-3))
    wrong = [1.0, 1.3, 0.8, 1.1, 0.9, 1.2, 0.7, 1.05]
    scales = ring_scales([d * w for d, w in zip(dist, wrong)], cams)
    fixed = np.array(wrong) * scales
    assert np.allclose(fixed / fixed.mean(), 1.0, atol=0.02)


def test_panorama_that_is_not_two_to_one_is_refused_with_its_size(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((100, 300, 3), np.uint8)).save(path)
    with pytest.raises(SourceError, match=r"wide.png: 300x100 is not an equirectangular panorama"):
        PanoSource(path, None, GenerateConfig())
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(WorldgenError, match="junk.jpg"):
        PanoSource(tmp_path / "junk.jpg", None, GenerateConfig())


@pytest.mark.slow
def test_a_huge_panorama_is_decoded_downscaled(tmp_path):
    """16000 x 8000 (128 M pixels, over the whole-decode limit): read reduced, at 4096 x 2048, in a
    process whose peak memory grows by less than the 384 MB the whole image takes in 8-bit RGB."""
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (16000, 8000), (90, 120, 200)).save(path, quality=70)
    code = ("import json, sys; from worldgen.sources.pano import MAX_WIDTH; from worldgen.images import read_image; "
            "rgb, scale, _ = read_image(sys.argv[1], max_side=MAX_WIDTH); "
            "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')); "
            "print(json.dumps({'shape': rgb.shape, 'peak_mb': hwm / 1024}))")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["shape"] == [2048, 4096, 3]
    baseline = subprocess.run([sys.executable, "-c", code.replace("rgb, scale, _ = read_image(sys.argv[1], "
                                                                  "max_side=MAX_WIDTH); ", "rgb = [0, 0, 0]; ")
                               .replace("rgb.shape", "rgb"), str(path)], capture_output=True, text=True, timeout=300)
    assert out["peak_mb"] - json.loads(baseline.stdout)["peak_mb"] < 16000 * 8000 * 3 / 2**20
    png = tmp_path / "huge.png"  # a format decoded whole is refused, not decoded
    Image.new("RGB", (16000, 8000)).save(png, compress_level=1)
    with pytest.raises(WorldgenError, match="huge.png: 16000x8000 is over"):
        PanoSource(png, None, GenerateConfig())


@pytest.mark.slow
def test_panorama_world_end_to_end(pano, micro_checkpoint, tmp_path):
    config = GenerateConfig(resolution=48, lift_steps=20, generated=4, flythrough=False, frame_model=micro_checkpoint)
    out = build_world(PanoSource(pano, None, config), tmp_path / "w", progress=False)
    world = load_world(out)
    m = world.manifest
    assert m["source"] == "pano" and m["inputs"]["pano"] == str(pano)
    assert m["source_info"]["ring_views"] == 8 and m["source_info"]["generated"] == 4
    frames = json.loads((out / "frames" / "transforms.json").read_text())["frames"]
    assert len(frames) == 12 and frames[0]["w"] == frames[0]["h"] == 48
    assert {"depth", "frames", "lift"} <= set(m["timings_s"]) and len(world.scene) > 0
    again = build_world(PanoSource(pano, None, config), tmp_path / "w2", progress=False)
    assert np.array_equal(load_world(again).scene.means.numpy(), world.scene.means.numpy())


# ---- the manifest ----------------------------------------------------------------------------------
def test_a_version_1_world_loads_with_defaults_and_a_warning(tmp_path, caplog):
    """A world folder written before the frame sources (version 1, per-source keys) still loads."""
    from renderer import GaussianScene, save_scene

    folder = tmp_path / "old"
    folder.mkdir()
    scene = GaussianScene.from_points(torch.rand(10, 3), torch.rand(10, 3))
    save_scene(scene, folder / "scene.ply")
    (folder / "world.json").write_text(json.dumps({
        "version": 1, "files": {"scene": "scene.ply"}, "timings_s": {}, "metrics": {}, "inputs": {"image": "a.jpg"},
        "camera": {"fov_y_deg": 60.0, "fov_from": "default"}, "seed": 0}))
    with caplog.at_level(logging.WARNING):
        world = load_world(folder)
    assert world.manifest["source"] == "photo" and world.manifest["source_info"]["camera"]["fov_y_deg"] == 60.0
    assert set(world.manifest) == set(WorldManifest().to_dict())
    assert "version 1 manifest" in caplog.text and "missing keys" in caplog.text
    assert world.info.version == 2 and world.info.warnings == [] and len(world.scene) == 10
    saved = world.save(tmp_path / "new")  # saved again: a version 2 world
    assert json.loads((saved / "world.json").read_text())["version"] == 2


# ---- models named together, cached -----------------------------------------------------------------
def test_a_frame_model_names_its_text_encoder_and_models_are_cached(tmp_path):
    import shutil

    from worldgen.config import DEFAULT_FRAME_MODEL, DEFAULT_TEXT_ENCODER
    from worldgen.models import frame_model, text_encoder_of, write_model_index

    assert text_encoder_of(DEFAULT_FRAME_MODEL) == DEFAULT_TEXT_ENCODER.resolve()
    assert frame_model(DEFAULT_FRAME_MODEL) is frame_model(DEFAULT_FRAME_MODEL)
    copy = tmp_path / "rtfm"
    shutil.copytree(DEFAULT_FRAME_MODEL, copy)
    other = tmp_path / "my-lm"
    shutil.copytree(DEFAULT_TEXT_ENCODER, other)
    write_model_index(copy, other)
    assert text_encoder_of(copy) == other.resolve()
    assert json.loads((copy / "model_index.json").read_text())["text_encoder"] == "../my-lm"
    (copy / "model_index.json").write_text(json.dumps({"text_encoder": "../nowhere"}))
    with pytest.raises(WorldgenError, match="model_index.json: its text encoder ../nowhere"):
        text_encoder_of(copy)
