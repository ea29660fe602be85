import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from renderer import Camera
from worldgen.frames import FramesError, PosedFrames, _distort, read_colmap, read_transforms, undistort, write_transforms


def frames(n=3, w=24, h=16, seed=0) -> PosedFrames:
    rng = np.random.default_rng(seed)
    cams = [Camera.orbit([0, 0, 0.5], 3.0, 40 * i, 20, width=w, height=h) for i in range(n)]
    return PosedFrames(cams, rng.random((n, h, w, 3), dtype=np.float32), [],
                       rng.uniform(0.5, 5, (n, h, w)).astype(np.float32), rng.integers(0, 30, (n, h, w)).astype(np.int32))


def test_transforms_round_trip(tmp_path):
    f = frames()
    write_transforms(tmp_path, f, extra={"caption": "x"})
    meta = json.loads((tmp_path / "transforms.json").read_text())
    assert meta["frames"][0]["file_path"] == "images/00000.png" and meta["worldgen"]["caption"] == "x"
    # nerfstudio's transform_matrix is OpenGL-style: its third column points backwards.
    assert np.allclose(np.array(meta["frames"][0]["transform_matrix"])[:3, 2], -f.cameras[0].c2w[:3, 2].numpy(), atol=1e-6)
    back = read_transforms(tmp_path)
    assert len(back) == 3 and back.names[1] == "images/00001.png"
    for a, b in zip(back.cameras, f.cameras):
        assert torch.allclose(a.c2w, b.c2w, atol=1e-6) and torch.allclose(a.K, b.K)
    assert np.abs(back.images - f.images).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(back.depths, f.depths) and np.array_equal(back.labels, f.labels)


def test_downscaling_follows_intrinsics(tmp_path):
    write_transforms(tmp_path, frames(w=40, h=20))
    back = read_transforms(tmp_path, size=20)
    assert back.images.shape == (3, 10, 20, 3) and back.depths.shape == (3, 10, 20)
    full = read_transforms(tmp_path)
    assert torch.allclose(back.cameras[0].K[:2], full.cameras[0].K[:2] * 0.5)


def edit(tmp_path, fn):
    path = tmp_path / "transforms.json"
    meta = json.loads(path.read_text())
    fn(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m["frames"][1].update(file_path="../../etc/passwd"), "points outside the folder"),
    (lambda m: m["frames"][2].update(file_path="images/nope.png"), "1 frame files are missing: images/nope.png"),
    (lambda m: m["frames"][0].update(transform_matrix=[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]), r"frame 0 \(images/00000.png\): bad camera"),
    (lambda m: m["frames"][0].update(transform_matrix="up"), "frame 0"),
    (lambda m: m["frames"][1].update(w=99), "frame 1 .*image is 24x16 but transforms.json says 99x16"),
    (lambda m: (m.pop("fl_x"), m["frames"][1].pop("fl_x")), r"frame 1 .*missing or non-numeric intrinsics"),
    (lambda m: m.update(k1=float("inf")), "not valid JSON"),  # Infinity is not JSON
    (lambda m: m["frames"][0].update(k1="nan"), r"frame 0 .*intrinsics and distortion must be finite"),
])
def test_bad_folders_name_the_frame(tmp_path, mutate, message):
    write_transforms(tmp_path, frames())
    edit(tmp_path, mutate)
    with pytest.raises(FramesError, match=message):
        read_transforms(tmp_path)


def test_the_frames_together_are_capped_in_pixels(tmp_path, monkeypatch):
    write_transforms(tmp_path, frames(n=3, w=24, h=16))
    monkeypatch.setenv("WORLDGEN_MAX_TOTAL_PIXELS", str(24 * 16 * 2))  # two frames' worth
    with pytest.raises(FramesError, match="more than 768 pixels in all"):
        read_transforms(tmp_path)
    monkeypatch.setenv("WORLDGEN_MAX_TOTAL_PIXELS", str(24 * 16 * 3))
    assert len(read_transforms(tmp_path)) == 3


def test_nan_depth_and_mismatched_sizes(tmp_path):
    write_transforms(tmp_path, frames())
    d = np.load(tmp_path / "depth/00001.npy")
    d[3, 3] = np.nan
    np.save(tmp_path / "depth/00001.npy", d)
    with pytest.raises(FramesError, match=r"frame 1 .*depth has NaN"):
        read_transforms(tmp_path)
    write_transforms(tmp_path / "b", frames())
    Image.new("RGB", (12, 8)).save(tmp_path / "b/images/00002.png")
    edit(tmp_path / "b", lambda m: m["frames"][2].update(w=12, h=8, cx=6.0, cy=4.0))
    with pytest.raises(FramesError, match="mismatched sizes"):
        read_transforms(tmp_path / "b")


def test_undistort_inverts_the_lens_model():
    # A smooth image seen through a distorting lens, then undistorted, matches the original.
    h, w = 60, 80
    K = np.array([[70.0, 0, 40.0], [0, 70.0, 30.0], [0, 0, 1]])
    dist = (-0.2, 0.05, 0.001, -0.002)
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    truth = lambda x, y: np.stack([0.5 + 0.4 * np.sin(x * 8), 0.5 + 0.4 * np.cos(y * 9), 0.5 + 0.2 * x * y], -1)  # noqa: E731
    x, y = (xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1]
    # Build the distorted photo by inverting the model numerically (fixed-point iteration).
    xu, yu = x.copy(), y.copy()
    for _ in range(50):
        xd, yd = _distort(xu, yu, *dist)
        xu, yu = xu + (x - xd), yu + (y - yd)
    photo = truth(xu, yu).astype(np.float32)
    fixed = undistort(photo, K, dist)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(fixed[inner] - truth(x, y)[inner]).max() < 0.03
    assert np.abs(photo[inner] - truth(x, y)[inner]).max() > 0.05  # the lens did matter


def test_colmap_text_model(tmp_path):
    f = frames(n=2, w=32, h=24)
    (tmp_path / "images").mkdir()
    lines = []
    for i, cam in enumerate(f.cameras):
        Image.fromarray((f.images[i] * 255).astype(np.uint8)).save(tmp_path / "images" / f"im{i}.png")
        w2c = cam.w2c.double().numpy()
        R, t = w2c[:3, :3], w2c[:3, 3]
        qw = np.sqrt(1 + np.trace(R)) / 2
        q = [qw, (R[2, 1] - R[1, 2]) / (4 * qw), (R[0, 2] - R[2, 0]) / (4 * qw), (R[1, 0] - R[0, 1]) / (4 * qw)]
        lines += [f"{i + 1} {' '.join(map(str, q))} {' '.join(map(str, t))} 1 im{i}.png", "10.5 11.5 -1"]
    K = f.cameras[0].K
    (tmp_path / "cameras.txt").write_text(f"# comment\n1 PINHOLE 32 24 {K[0, 0]} {K[1, 1]} {K[0, 2]} {K[1, 2]}\n")
    (tmp_path / "images.txt").write_text("# header\n" + "\n".join(lines) + "\n")
    back = read_colmap(tmp_path, tmp_path / "images")
    assert back.names == ["im0.png", "im1.png"]
    poses_only = [line for line in lines if line.endswith(".png")]  # some writers leave out the POINTS2D lines
    (tmp_path / "images.txt").write_text("\n".join(poses_only) + "\n")
    assert read_colmap(tmp_path, tmp_path / "images").names == ["im0.png", "im1.png"]
    (tmp_path / "images.txt").write_text("# header\n" + "\n".join(lines) + "\n")
    for a, b in zip(back.cameras, f.cameras):
        assert torch.allclose(a.c2w, b.c2w, atol=1e-4)
    (tmp_path / "images" / "im1.png").unlink()
    with pytest.raises(FramesError, match="1 images named in images.txt are missing: im1.png"):
        read_colmap(tmp_path, tmp_path / "images")
    long_name = "x" * 300 + ".png"  # the OS refuses to stat it (ENAMETOOLONG): a FramesError, not an OSError
    (tmp_path / "images.txt").write_text(lines[0].replace("im0.png", long_name) + "\n")
    with pytest.raises(FramesError, match="image name is longer than a file name may be"):
        read_colmap(tmp_path, tmp_path / "images")
    (tmp_path / "cameras.txt").write_text("1 FISHEYE_WEIRD 32 24 1 2 3\n")
    with pytest.raises(FramesError, match="cameras.txt: line 1: unsupported camera"):
        read_colmap(tmp_path, tmp_path / "images")


@pytest.mark.parametrize("pose", ["nan 0 0 0 0 0 0", "0 0 0 0 0 0 0", "1 0 0 0 inf 0 0", "1e300 1e300 0 0 0 0 0",
                                  "1 0 0 0 1e308 1e308 1e308"])
def test_colmap_poses_that_are_not_finite_are_refused_before_any_arithmetic(tmp_path, pose):
    (tmp_path / "images").mkdir()
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(tmp_path / "images" / "im0.png")
    (tmp_path / "cameras.txt").write_text("1 PINHOLE 32 24 30 30 16 12\n")
    (tmp_path / "images.txt").write_text(f"1 {pose} 1 im0.png\n\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from NaN or overflow reaching numpy
        with pytest.raises(FramesError, match=r"line 1 \(im0.png\): the pose needs finite numbers"):
            read_colmap(tmp_path, tmp_path / "images")


def test_a_non_finite_transform_matrix_is_refused_before_any_arithmetic(tmp_path):
    write_transforms(tmp_path, frames())
    edit(tmp_path, lambda m: m["frames"][0].update(transform_matrix=[[1e308] * 4] * 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FramesError, match="frame 0"):
            read_transforms(tmp_path)
