"""Reading videos and frame folders (worldgen.video), sampling by motion, and video -> world."""

import json
import resource
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from worldgen.frame_training import HELD_OUT_SEED_BASE
from worldgen.sfm import SfMError
from worldgen.video import VideoError, read_video, sample_by_motion
from worldgen.build import build_world
from worldgen.config import GenerateConfig
from worldgen.sources.capture import PhotoSetSource, VideoSource
from worldgen.errors import WorldgenError
from worldgen.world import load_world

def write_mp4(path, frames_uint8, fps=12):
    iio.imwrite(path, frames_uint8, extension=".mp4", fps=fps, codec="libx264", macro_block_size=1)
    return path


def panning(n, h=90, w=160, step=3, seed=0):
    """n frames of a window sliding right over a random texture of 8x8 blocks: uint8 [n, h, w, 3]."""
    blocks = np.random.default_rng(seed).random((h // 8 + 1, (w + step * n) // 8 + 1, 3))
    tex = (np.kron(blocks, np.ones((8, 8, 1)))[:h, : w + step * n] * 255).astype(np.uint8)
    return np.stack([tex[:, step * i: step * i + w] for i in range(n)])


@pytest.fixture(scope="module")
def walk_clip(tmp_path_factory):
    """A held-out dining room walk (seed 2**31 + 104), 24 frames of 160x160, as an mp4."""
    from worldgen.procgen.composers import compose
    from worldgen.procgen.dataset import render_sequence
    from worldgen.procgen.paths import camera_path
    from worldgen.procgen.world import build_world

    seed = HELD_OUT_SEED_BASE + 104
    layout, _ = compose("dining_room", seed)
    cams = camera_path(layout, "walk", 24, width=160, height=160, fov_y_deg=70.0, seed=seed)
    seq = render_sequence(layout, build_world(layout, seed), cams)
    return write_mp4(tmp_path_factory.mktemp("clip") / "walk.mp4", (seq.rgb * 255 + 0.5).astype(np.uint8))


def test_reads_a_video_downscaled_and_evenly_thinned(tmp_path):
    path = write_mp4(tmp_path / "pan.mp4", panning(40))
    v = read_video(path, size=None)
    assert v.frames.shape == (40, 90, 160, 3) and v.frames.dtype == np.float32 and v.fps == pytest.approx(12)
    assert np.abs(v.frames[5] - panning(40)[5] / 255).mean() < 0.05  # the same pictures, up to compression
    small = read_video(path, size=80, max_frames=10)
    assert small.frames.shape[1:] == (45, 80, 3)  # longer side 80, aspect kept
    assert 5 <= len(small) <= 10
    step = np.diff([int(n.split()[-1]) for n in small.names])
    assert (step == step[0]).all()  # evenly spaced over the whole video
    assert small.times == pytest.approx(np.array([int(n.split()[-1]) for n in small.names]) / 12)


def test_long_video_is_capped_in_duration_and_memory(tmp_path):
    path = write_mp4(tmp_path / "long.mp4", panning(240, h=64, w=96, step=1), fps=24)  # 10 s
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    v = read_video(path, max_duration_s=2.0, max_frames=16, size=48)
    assert v.truncated and len(v) <= 16 and v.times.max() < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: frames never pile up


def test_frame_folder_in_natural_order(tmp_path):
    frames = panning(12, h=40, w=60)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f"frame{i}.png")  # frame10 sorts after frame9
    v = read_video(tmp_path)
    assert v.names[:3] == ["frame0.png", "frame1.png", "frame2.png"] and v.names[-1] == "frame11.png"
    assert np.abs(v.frames - frames / 255).max() < 1e-6 and v.fps is None
    Image.fromarray(frames[0][:20]).save(tmp_path / "frame12.png")
    with pytest.raises(VideoError, match="frame12.png: frame is 60x20 but frame0.png is 60x40"):
        read_video(tmp_path)


def test_bad_inputs_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(VideoError, match=r"corrupt.mp4: cannot decode this video"):
        read_video(corrupt)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(write_mp4(tmp_path / "ok.mp4", panning(20)).read_bytes()[:600])
    with pytest.raises(VideoError, match="truncated.mp4"):
        read_video(truncated)
    with pytest.raises(VideoError, match="nope.mp4: no such video"):
        read_video(tmp_path / "nope.mp4")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(VideoError, match="notes.txt: not a video"):
        read_video(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="empty: no frames"):
        read_video(tmp_path / "empty")


def test_sampling_follows_motion_and_refuses_a_still_video():
    moving = panning(30).astype(np.float32) / 255
    # A pause: frames 10..19 repeat frame 10, so few of them are picked.
    paused = np.concatenate([moving[:10], np.repeat(moving[10:11], 10, 0), moving[10:20]])
    picks = sample_by_motion(paused, 10)
    assert picks[0] == 0 and picks[-1] == len(paused) - 1 and len(picks) <= 10
    assert sum(10 < i < 20 for i in picks) <= 1
    still = np.repeat(moving[:1], 20, 0)
    with pytest.raises(VideoError, match="does not move"):
        sample_by_motion(still, 8)
    with pytest.raises(VideoError, match="2 frames; at least 3"):
        sample_by_motion(moving[:2], 8)


def test_black_video_is_an_sfm_error(tmp_path, micro_checkpoint):
    black = write_mp4(tmp_path / "black.mp4", np.zeros((12, 64, 64, 3), np.uint8))
    config = GenerateConfig(frame_model=micro_checkpoint)
    with pytest.raises(VideoError, match="does not move"):  # refused before structure from motion
        VideoSource(black, None, config)
    # Flickering black and grey frames move, but nothing can be matched between them.
    flicker = np.zeros((12, 64, 64, 3), np.uint8)
    flicker[::2] = 40
    with pytest.raises(SfMError, match="too little overlap or texture"):
        VideoSource(write_mp4(tmp_path / "flicker.mp4", flicker), None, config)


def test_video_to_world_end_to_end(walk_clip, micro_checkpoint, tmp_path):
    config = GenerateConfig(frames=16, resolution=32, lift_steps=10, generated=2, frame_model=micro_checkpoint)
    out = build_world(VideoSource(walk_clip, None, config), tmp_path / "w", progress=False)
    world = load_world(out)
    m = world.manifest
    for key in ("scene", "frames", "memory", "flythrough"):
        assert key in m["files"], key
    for stage in ("poses", "depth", "frames", "lift", "metrics"):
        assert stage in m["timings_s"], stage
    assert m["models"]["poses"].startswith("structure from motion")
    assert m["source"] == "video" and m["source_info"]["registered"] >= 8 and m["source_info"]["sfm"]["points"] > 50
    assert m["lift"]["init"].startswith("given points")
    frames = json.loads((out / "frames" / "transforms.json").read_text())
    assert len(frames["frames"]) == m["source_info"]["registered"] + 2 and m["source_info"]["generated"] == 2
    assert frames["worldgen"] == {"source": "video"}


def test_cli_generate_video_reports_project_errors(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video at all")
    r = subprocess.run([sys.executable, "-m", "worldgen.cli", "generate", "--video", str(corrupt), "--out",
                        str(tmp_path / "w")], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "corrupt.mp4: cannot decode this video" in r.stderr and "Traceback" not in r.stderr


def test_several_photos_are_placed_by_structure_from_motion(walk_clip, micro_checkpoint, tmp_path):
    """Photos of one place, in shuffled order: every one is placed (exhaustive matching), none sampled away."""
    frames = read_video(walk_clip, size=None).frames
    order = np.random.default_rng(0).permutation(len(frames))[:14]
    photos = []
    for j, i in enumerate(order):
        photos.append(tmp_path / f"photo_{j}.png")
        Image.fromarray((frames[i] * 255 + 0.5).astype(np.uint8)).save(photos[-1])
    config = GenerateConfig(resolution=32, lift_steps=10, generated=2, frame_model=micro_checkpoint)
    out = build_world(PhotoSetSource(photos, None, config), tmp_path / "w", progress=False)
    m = load_world(out).manifest
    assert m["source"] == "photos" and m["inputs"]["images"] == [str(p) for p in photos]
    assert m["source_info"]["sampled"] == 14 and m["source_info"]["registered"] >= 7
    with pytest.raises(WorldgenError, match="at least 3"):
        PhotoSetSource(photos[:2], None, config)


def _mixed_photos(folder, n: int = 16):
    """A held-out living room photographed along a walk as a phone does: landscape (160x120) and
    portrait (120x160) shots from one lens, some landscape ones stored turned with an EXIF orientation
    of 6. -> (the photo files, the same views all in landscape as arrays)."""
    from renderer.camera import Camera
    from renderer.raycast import raycast
    from worldgen.procgen.composers import compose
    from worldgen.procgen.paths import camera_path
    from worldgen.procgen.world import build_world

    seed = HELD_OUT_SEED_BASE + 105
    layout, _ = compose("living_room", seed)
    world = build_world(layout, seed)
    photos, landscape = [], []
    for i, cam in enumerate(camera_path(layout, "walk", n, width=160, height=120, fov_y_deg=60.0, seed=seed)):
        landscape.append(raycast(world, cam, samples_per_pixel=2)["rgb"])
        if i % 3 == 1:  # portrait: the same lens turned, the same focal length in pixels
            K = cam.K.clone()
            K[0, 2], K[1, 2] = 60.0, 80.0
            cam = Camera(K, cam.c2w, 120, 160)
        im = Image.fromarray((raycast(world, cam, samples_per_pixel=2)["rgb"] * 255 + 0.5).astype(np.uint8))
        photos.append(folder / f"IMG_{i:04d}.jpg")
        if i % 3 == 2:  # stored as the sensor saw it, to be turned by its EXIF orientation
            exif = Image.Exif()
            exif[0x0112] = 6
            im.transpose(Image.Transpose.ROTATE_90).save(photos[-1], quality=95, exif=exif)
        else:
            im.save(photos[-1], quality=95)
    return photos, np.stack(landscape)


def test_a_phone_photo_set_of_portrait_and_landscape_photos_makes_a_world(micro_checkpoint, tmp_path):
    """Mixed orientations register as well as the same views all in landscape, and make a world."""
    from worldgen.sfm import estimate_poses

    photos, landscape = _mixed_photos(tmp_path)
    config = GenerateConfig(resolution=32, lift_steps=10, generated=2, frame_model=micro_checkpoint)
    source = PhotoSetSource(photos, None, config)
    shapes = [source.capture.clip.frames[i].shape for i in range(len(photos))]
    assert set(shapes) == {(120, 160, 3), (160, 120, 3)} and shapes[2] == (120, 160, 3)  # EXIF turned them upright
    registered = source.capture.rec.registered
    assert len(registered) >= len(estimate_poses(landscape, sequential=False).registered)
    assert any(i % 3 == 1 for i in registered) and any(i % 3 == 2 for i in registered)  # portrait and turned ones too
    out = build_world(source, tmp_path / "w", progress=False)
    m = load_world(out).manifest
    assert m["source_info"]["sizes"] == ["120x160", "160x120"] and m["source_info"]["registered"] == len(registered)
    frames = json.loads((out / "frames" / "transforms.json").read_text())["frames"]
    assert len(frames) == len(registered) + 2 and {(f["w"], f["h"]) for f in frames} == {(32, 32)}
