"""Niantic .spz: round trips within each field's quantisation, the byte layout checked against the
published spec by building files by hand, hostile files, and export through the CLI and API."""

import gzip
import json
import math
import struct
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import torch

from conftest import random_scene
from renderer import Camera, FormatError, GaussianScene, load_scene, render, save_scene
from renderer.errors import WorldgenError
from renderer.formats.spz import MAX_POINTS, read_spz_header, write_spz

MAGIC = 0x5053474E
SQRT1_2 = math.sqrt(0.5)


def spz_bytes(version, n, degree, frac, flags, *blocks, magic=MAGIC):
    """A decompressed spz stream written from the spec: 16-byte header, then the attribute blocks."""
    return struct.pack("<IIIBBBB", magic, version, n, degree, frac, flags, 0) + b"".join(blocks)


def write_gz(path, raw: bytes):
    path.write_bytes(gzip.compress(raw))
    return path


def quantisable_scene(n=300, degree=3, seed=0):
    s = random_scene(n, seed=seed, sh_degree=degree)
    s.sh[:, 1:] = s.sh[:, 1:].clamp(-0.95, 0.95)  # spz SH rest spans [-1, 1)
    s.sh[:, 0] = s.sh[:, 0].clamp(-3.0, 3.0)  # DC spans +-0.5 / 0.15
    return s


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_within_quantisation(tmp_path, version, degree):
    scene = quantisable_scene(degree=degree)
    write_spz(scene, tmp_path / "s.spz", version=version)
    back = load_scene(tmp_path / "s.spz")
    assert len(back) == len(scene) and back.sh_degree == degree
    assert (back.labels == -1).all()  # spz has no labels
    assert read_spz_header(tmp_path / "s.spz").fractional_bits == 12
    assert (back.means - scene.means).abs().max() <= 0.5 / 4096 + 1e-6  # 24-bit fixed point, 12 fractional bits
    assert (back.sh[:, 0] - scene.sh[:, 0]).abs().max() <= 0.5 / (255 * 0.15) + 1e-5  # uint8 colour, scale 0.15
    assert (back.opacities() - scene.opacities()).abs().max() <= 0.5 / 255 + 1e-6  # uint8 alpha
    assert (back.log_scales - scene.log_scales).abs().max() <= 0.5 / 16 + 1e-6  # uint8 log scale, 16 steps per e
    q = torch.nn.functional.normalize(scene.quats, dim=1)
    dot = (q * back.quats).sum(1).abs()  # q and -q are the same rotation
    assert torch.allclose(back.quats.norm(dim=1), torch.ones(len(back)), atol=1e-5)
    # v3: 9 bits per smallest component (step sqrt(1/2)/511); v2: 8 bits per x, y, z with w derived.
    assert dot.min() > (1 - 1e-5 if version == 3 else 0.99)
    if degree:
        err = (back.sh[:, 1:] - scene.sh[:, 1:]).abs()
        assert err[:, :3].max() <= (0.5 + 4) / 128 + 1e-6  # band 1: 5 bits, bucket of 8
        if degree > 1:
            assert err[:, 3:].max() <= (0.5 + 8) / 128 + 1e-6  # bands 2-3: 4 bits, bucket of 16
    # Saving what was read loses nothing more: the decoded values sit on the quantisation grid.
    write_spz(back, tmp_path / "again.spz", version=version)
    again = load_scene(tmp_path / "again.spz")
    for k in ("means", "log_scales", "opacity_logits", "sh"):
        assert torch.equal(getattr(again, k), getattr(back, k)), k
    assert torch.allclose(again.quats, back.quats, atol=1e-6)


def test_hand_built_v3_file_decodes_to_the_spec_values(tmp_path):
    frac = 10
    positions = [(1.5, -0.25, 3.0), (-2.0, 0.0, 7.999)]

    def fixed24(v):
        i = round(v * (1 << frac))
        return struct.pack("<i", i)[:3]  # little-endian two's complement, low three bytes

    pos = b"".join(fixed24(v) for p in positions for v in p)
    alphas = bytes([191, 0])
    colors = bytes([128, 0, 255, 60, 200, 100])
    scales = bytes([128, 160, 0, 255, 96, 112])
    # Rotation 1: identity, largest = w (index 3), the other three zero.
    rot1 = struct.pack("<I", 3 << 30)
    # Rotation 2: (x, y, z, w) = (0.8, -0.36, 0.48, 0): largest x (index 0); then y, z, w as sign + 9 bits.
    mags = [round(511 * abs(c) / SQRT1_2) for c in (-0.36, 0.48, 0.0)]
    comp = 0
    for c, m in zip((-0.36, 0.48, 0.0), mags):
        comp = (comp << 10) | (int(c < 0) << 9) | m
    rot2 = struct.pack("<I", comp)
    sh = bytes([64 + 8 * i for i in range(9)]) + bytes([128] * 9)  # degree 1: coefficient-major, channel fastest
    path = write_gz(tmp_path / "hand.spz", spz_bytes(3, 2, 1, frac, 0, pos, alphas, colors, scales, rot1 + rot2, sh))

    s = load_scene(path)
    assert len(s) == 2 and s.sh_degree == 1
    assert torch.allclose(s.means, torch.tensor(positions), atol=0.5 / (1 << frac))
    assert torch.allclose(s.opacities(), torch.tensor([191 / 255, 0.0]), atol=1e-4)  # 0 is clamped a little to keep the logit finite
    assert torch.isfinite(s.opacity_logits).all()
    dc = (torch.tensor([[128, 0, 255], [60, 200, 100]]) / 255 - 0.5) / 0.15
    assert torch.allclose(s.sh[:, 0], dc, atol=1e-5)
    assert torch.allclose(s.log_scales, torch.tensor([[128, 160, 0], [255, 96, 112]]) / 16 - 10, atol=1e-6)
    assert torch.allclose(s.quats[0], torch.tensor([1.0, 0, 0, 0]), atol=1e-6)  # w first
    assert torch.allclose(s.quats[1], torch.tensor([0.0, 0.8, -0.36, 0.48]), atol=2e-3)
    expect_sh = (torch.tensor([64 + 8 * i for i in range(9)], dtype=torch.float32).reshape(3, 3) - 128) / 128
    assert torch.equal(s.sh[0, 1:], expect_sh)  # sh[:, 1 + k, c] = byte[3k + c]
    assert torch.equal(s.sh[1, 1:], torch.zeros(3, 3))
    assert (s.labels == -1).all()
    h = read_spz_header(path)
    assert (h.version, h.num_points, h.sh_degree, h.fractional_bits, h.antialiased) == (3, 2, 1, frac, False)


def test_hand_built_v2_file_and_extensions(tmp_path):
    # v2 rotations: x, y, z bytes of the quaternion with w >= 0, q * 127.5 + 127.5.
    pos = struct.pack("<i", 4096)[:3] + b"\0" * 6
    rot = bytes([204, 128, 128])  # x = 0.6
    body = spz_bytes(2, 1, 0, 12, 0x1 | 0x2, pos, bytes([255]), bytes([128] * 3), bytes([100] * 3), rot)
    path = write_gz(tmp_path / "v2.spz", body + b"vendor extension records")  # flag 0x2: trailing records are skipped
    s = load_scene(path)
    assert torch.allclose(s.means[0], torch.tensor([1.0, 0, 0]))
    w = math.sqrt(1 - 0.6**2 - 2 * (128 / 127.5 - 1) ** 2)
    assert torch.allclose(s.quats[0], torch.tensor([w, 0.6, 128 / 127.5 - 1, 128 / 127.5 - 1]), atol=1e-5)
    h = read_spz_header(path)
    assert h.version == 2 and h.antialiased and h.has_extensions


def test_writer_byte_layout_matches_the_spec(tmp_path):
    scene = GaussianScene.from_points(torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.25, -1.0]]),
                                      torch.tensor([[0.5, 0.5, 0.5], [1.0, 0.0, 0.25]]), scale=math.exp(-3.0), opacity=0.5,
                                      sh_degree=1)
    scene.sh[:, 1:] = torch.tensor([[0.5, -0.5, 0.25], [0.0, 0.0, 0.0], [-1.0, 0.9, 0.1]])
    scene.labels[:] = 3
    save_scene(scene, tmp_path / "w.spz")
    raw = gzip.decompress((tmp_path / "w.spz").read_bytes())
    magic, version, n, degree, frac, flags, reserved = struct.unpack_from("<IIIBBBB", raw)
    assert raw[:4] == b"NGSP" and (magic, version, n, degree, frac, flags, reserved) == (MAGIC, 3, 2, 1, 12, 0, 0)
    body = raw[16:]
    assert len(body) == 2 * (9 + 1 + 3 + 3 + 4 + 9)
    pos = np.frombuffer(body[:18], np.uint8).reshape(2, 3, 3).astype(np.int64)
    fixed = pos[..., 0] | pos[..., 1] << 8 | pos[..., 2] << 16
    fixed = np.where(fixed >= 1 << 23, fixed - (1 << 24), fixed)
    assert np.array_equal(fixed, np.array([[4096, -8192, 2048], [0, 1024, -4096]]))
    assert list(body[18:20]) == [128, 128]  # sigmoid(0) * 255 = 127.5, rounded half away from zero
    colors = list(body[20:26])
    sh0 = (np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.25]]) - 0.5) / 0.28209479177387814
    assert colors == [int(np.clip(np.floor(v * 0.15 * 255 + 127.5 + 0.5), 0, 255)) for v in sh0.reshape(-1)]
    assert list(body[26:32]) == [112] * 6  # (-3 + 10) * 16
    assert body[32:40] == struct.pack("<I", 3 << 30) * 2  # identity: largest is w, the rest zero
    sh = list(body[40:49])
    # round(x * 128) + 128 snapped to the nearest multiple of 8 (5 bits), clamped to [0, 255].
    assert sh == [192, 64, 160, 128, 128, 128, 0, 240, 144]
    assert body[49:58] == bytes(sh)


def test_large_scenes_use_fewer_fractional_bits(tmp_path):
    scene = quantisable_scene(20, degree=0)
    scene.means[0] = torch.tensor([3000.0, -5000.0, 10.0])  # beyond 2048 m, the 12-bit range
    save_scene(scene, tmp_path / "big.spz")
    frac = read_spz_header(tmp_path / "big.spz").fractional_bits
    assert frac == 10
    assert (load_scene(tmp_path / "big.spz").means - scene.means).abs().max() <= 0.5 / (1 << frac) + 1e-4
    scene.means[0, 0] = 1e8
    with pytest.raises(FormatError, match="24-bit fixed point"):
        save_scene(scene, tmp_path / "huge.spz")
    assert not (tmp_path / "huge.spz").exists()


def test_empty_scene_and_bad_writer_options(tmp_path):
    save_scene(GaussianScene.empty(), tmp_path / "e.spz")
    assert len(load_scene(tmp_path / "e.spz")) == 0
    with pytest.raises(FormatError, match="version 4"):
        write_spz(random_scene(2), tmp_path / "v4.spz", version=4)
    bad = random_scene(3)
    bad.means[1, 1] = float("nan")
    with pytest.raises(FormatError, match="refusing to write"):
        save_scene(bad, tmp_path / "nan.spz")


HEADER_OK = dict(version=3, n=1, degree=0, frac=12, flags=0)
ONE_POINT_V3 = b"\0" * 9 + b"\x80" * 7 + struct.pack("<I", 3 << 30)


def hostile_cases():
    def raw(body=ONE_POINT_V3, **kw):
        h = {**HEADER_OK, **kw}
        return gzip.compress(spz_bytes(h["version"], h["n"], h["degree"], h["frac"], h["flags"], body))

    good = raw()
    return [
        ("empty.spz", b"", "not gzip"),
        ("text.spz", b"hello, not a splat", "not gzip"),
        ("ply.spz", b"ply\nformat binary_little_endian 1.0\n", "not gzip"),
        ("truncated.spz", good[: len(good) // 2], "truncated"),
        ("no_trailer.spz", good[:-8], "truncated"),
        ("short_header.spz", gzip.compress(b"NGSP\x03\0\0\0"), "less than the 16-byte"),
        ("magic.spz", gzip.compress(spz_bytes(3, 1, 0, 12, 0, ONE_POINT_V3, magic=0x12345678)), "magic 0x12345678"),
        ("v1.spz", raw(version=1), "version 1"),
        ("v4_in_gzip.spz", raw(version=4), "version 4"),
        ("v99.spz", raw(version=99), "version 99"),
        ("v4_zstd.spz", struct.pack("<IIIBBBBI12x", MAGIC, 4, 1, 0, 12, 0, 6, 32), "version 4 .zstd"),
        ("sh5.spz", raw(degree=5), "invalid SH degree 5"),
        ("sh4.spz", raw(degree=4), "SH degree 4 is not supported"),
        ("frac.spz", raw(frac=40), "fractionalBits 40"),
        ("over_limit.spz", raw(n=MAX_POINTS + 1), f"over the limit of {MAX_POINTS}"),
        ("huge_claim.spz", raw(n=50_000_000), "more than a .*-byte gzip file can hold"),
        ("short_body.spz", raw(n=1000), "truncated: header declares 1000 Gaussians"),
        ("trailing.spz", raw(body=ONE_POINT_V3 + b"junk"), "4 bytes follow the 1 Gaussians"),
        ("corrupt.spz", good[:12] + bytes(b ^ 0x5A for b in good[12:-8]) + good[-8:], "corrupt gzip data|truncated|magic"),
        ("bad_crc.spz", good[:-8] + b"\0\0\0\0" + good[-4:], "corrupt gzip data"),
    ]


@pytest.mark.parametrize("name, data, message", hostile_cases())
def test_hostile_spz_files_get_one_clear_error(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(FormatError, match=message) as err:
        load_scene(path)
    assert isinstance(err.value, WorldgenError) and str(path) in str(err.value)


def test_gzip_bomb_stops_at_the_bound(tmp_path):
    """One Gaussian claimed, 256 MB of zeros after it (a 250 KB file): refused without inflating it all."""
    path = tmp_path / "bomb.spz"
    z = __import__("zlib").compressobj(9, 8, 16 + 15)
    chunks = [z.compress(spz_bytes(3, 1, 0, 12, 0x2, ONE_POINT_V3))]
    zeros = b"\0" * (1 << 20)
    chunks += [z.compress(zeros) for _ in range(256)]
    path.write_bytes(b"".join(chunks) + z.flush())
    assert path.stat().st_size < 400_000
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="decompresses to more than") as err:
            load_scene(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    assert peak < 16 << 20  # bounded by the 1 MB allowance for extensions, not the 256 MB the stream holds
    # ... and a claim that matches a bomb's body is refused by the limit before anything is inflated.
    (tmp_path / "claim.spz").write_bytes(gzip.compress(spz_bytes(3, 1 << 30, 3, 12, 0)))
    with pytest.raises(FormatError, match="over the limit"):
        load_scene(tmp_path / "claim.spz")


def _world_with_red_above_blue(root):
    from renderer import save_scene as save

    scene = GaussianScene.concat([
        GaussianScene.from_points(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[1.0, 0, 0]]), scale=0.2),
        GaussianScene.from_points(torch.tensor([[0.0, 0.0, -1.0]]), torch.tensor([[0, 0, 1.0]]), scale=0.2)])
    root.mkdir()
    save(scene, root / "scene.ply")
    (root / "world.json").write_text(json.dumps({"version": 1, "files": {"scene": "scene.ply"}}))
    return root


def test_exported_spz_is_y_up_as_spz_readers_expect(tmp_path):
    """Exported with the default axes, the file is RUB (+Y up, the spz reference's convention): the red
    Gaussian that is above the blue one in the world (+Z up) is at +Y, and renders on top for a +Y-up camera."""
    from worldgen.world import load_world

    world = load_world(_world_with_red_above_blue(tmp_path / "w"))
    out = world.export("spz", tmp_path / "out")  # the suffix is added
    assert out == tmp_path / "out.spz" and out.exists()
    s = load_scene(out)
    assert torch.allclose(s.means, torch.tensor([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]]), atol=1e-3)
    cam = Camera.look_at([0.0, 0.0, 6.0], [0, 0, 0], width=32, height=32, up=(0, 1, 0))
    img = render(s, cam).rgb[0]
    top, bottom = img[:16].sum((0, 1)), img[16:].sum((0, 1))
    assert top[0] > top[2] and bottom[2] > bottom[0]


def test_cli_export_and_info(tmp_path):
    world = _world_with_red_above_blue(tmp_path / "w")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "worldgen.cli", *args], capture_output=True, text=True, timeout=600)

    r = run("export", str(world), "--format", "spz", "--out", str(tmp_path / "x.spz"))
    assert r.returncode == 0, r.stderr
    r = run("info", str(tmp_path / "x.spz"), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["gaussians"] == 2 and info["sh_degree"] == 0 and info["labels"] == []
    assert info["bounds"][1][1] == pytest.approx(1.0, abs=1e-3)
    (tmp_path / "bad.spz").write_bytes(b"junk")
    r = run("info", str(tmp_path / "bad.spz"))
    assert r.returncode == 2 and "bad.spz" in r.stderr and "not gzip" in r.stderr
