import struct

import numpy as np
import pytest
import torch
from plyfile import PlyData

from conftest import random_scene
from renderer import FormatError, GaussianScene, load_scene, save_scene
from renderer.formats.ply import ply_header


def inria_load_ply(path):
    """The reading code of graphdeco-inria/gaussian-splatting `GaussianModel.load_ply`, restated with plyfile."""
    el = PlyData.read(str(path)).elements[0]
    xyz = np.stack([np.asarray(el["x"]), np.asarray(el["y"]), np.asarray(el["z"])], axis=1)
    opacities = np.asarray(el["opacity"])[..., None]
    dc = np.stack([np.asarray(el[f"f_dc_{i}"]) for i in range(3)], axis=1)
    rest_names = sorted([p.name for p in el.properties if p.name.startswith("f_rest_")], key=lambda x: int(x.split("_")[-1]))
    rest = np.stack([np.asarray(el[n]) for n in rest_names], axis=1).reshape(len(xyz), 3, -1)
    scales = np.stack([np.asarray(el[f"scale_{i}"]) for i in range(3)], axis=1)
    rots = np.stack([np.asarray(el[f"rot_{i}"]) for i in range(4)], axis=1)
    return xyz, dc, rest, opacities, scales, rots


def assert_scenes_equal(a: GaussianScene, b: GaussianScene, atol=0.0):
    for k in ("means", "quats", "log_scales", "opacity_logits", "sh"):
        assert torch.allclose(getattr(a, k), getattr(b, k), atol=atol, rtol=0), k


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_ply_round_trip_is_exact(tmp_path, degree):
    scene = random_scene(50, sh_degree=degree)
    save_scene(scene, tmp_path / "s.ply")
    back = load_scene(tmp_path / "s.ply")
    assert back.sh_degree == degree
    assert_scenes_equal(scene, back)
    assert torch.equal(back.labels, scene.labels)


def test_our_ply_reads_in_the_inria_layout(tmp_path):
    scene = random_scene(40, sh_degree=3)
    save_scene(scene, tmp_path / "s.ply")
    xyz, dc, rest, opacities, scales, rots = inria_load_ply(tmp_path / "s.ply")
    assert np.array_equal(xyz, scene.means.numpy())
    assert np.array_equal(dc, scene.sh[:, 0].numpy())
    assert np.array_equal(rest, scene.sh[:, 1:].transpose(1, 2).numpy())  # [N, 3, 15]: grouped by channel
    assert np.array_equal(opacities[:, 0], scene.opacity_logits.numpy())
    assert np.array_equal(scales, scene.log_scales.numpy()) and np.array_equal(rots, scene.quats.numpy())
    names = [p.name for p in PlyData.read(str(tmp_path / "s.ply")).elements[0].properties]
    assert names[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] and names[-1] == "label"


def gsplat_export(scene: GaussianScene, fmt: str, path):
    from gsplat import export_splats

    export_splats(scene.means, scene.log_scales, scene.quats, scene.opacity_logits, scene.sh[:, :1], scene.sh[:, 1:],
                  format=fmt, save_to=str(path))


def test_gsplat_ply_export_loads(tmp_path):
    scene = random_scene(60, sh_degree=3)
    gsplat_export(scene, "ply", tmp_path / "g.ply")
    back = load_scene(tmp_path / "g.ply")
    assert_scenes_equal(scene, back)
    assert (back.labels == -1).all()
    # ... and our file carries every property gsplat writes, in gsplat's order (normals and label extra).
    ours = tmp_path / "o.ply"
    save_scene(scene, ours)
    gs_names = [p.name for p in PlyData.read(str(tmp_path / "g.ply")).elements[0].properties]
    our_names = [p.name for p in PlyData.read(str(ours)).elements[0].properties]
    assert [n for n in our_names if n in gs_names] == gs_names


def test_splat_round_trip_and_gsplat_splat_loads(tmp_path):
    scene = random_scene(80, sh_degree=0)
    scene.quats = torch.nn.functional.normalize(scene.quats, dim=1)
    scene.sh = scene.sh.clamp(-1.7, 1.7)  # colours inside [0, 1]: what 8 bits can carry
    for path in (tmp_path / "o.splat", tmp_path / "g.splat"):
        if path.name == "o.splat":
            save_scene(scene, path)
        else:
            gsplat_export(scene, "splat", path)
        back = load_scene(path)
        assert len(back) == len(scene)
        # Records are reordered; match them by position.
        order = torch.cdist(scene.means, back.means).argmin(1)
        b = back.subset(order)
        assert torch.allclose(b.means, scene.means)
        assert torch.allclose(b.log_scales, scene.log_scales, atol=1e-5)
        assert torch.allclose(b.rgb(), scene.rgb(), atol=1 / 255 + 1e-6)
        assert torch.allclose(b.opacities(), scene.opacities(), atol=1 / 255 + 1e-6)
        q = torch.nn.functional.normalize(b.quats, dim=1)
        assert ((q * scene.quats).sum(1).abs() > 0.995).all()


def write_raw_ply(path, header: str, body: bytes = b""):
    path.write_bytes(header.encode() + body)
    return path


GOOD_PROPS = "".join(f"property float {p}\n" for p in
                     ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
                      "rot_0", "rot_1", "rot_2", "rot_3"])


@pytest.mark.parametrize(
    "name, header, body, message",
    [
        ("not_ply.ply", "hello world\n", b"", "not a PLY file"),
        ("empty.ply", "", b"", "not a PLY file"),
        ("ascii.ply", "ply\nformat ascii 1.0\nelement vertex 1\n" + GOOD_PROPS + "end_header\n", b"0 " * 14, "ASCII"),
        ("huge.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 99999999999999\n" + GOOD_PROPS + "end_header\n",
         b"\0" * 56, "declares 99999999999999 vertices"),
        ("truncated.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 10\n" + GOOD_PROPS + "end_header\n",
         b"\0" * (56 * 9 + 3), "truncated"),
        ("wrong_rest.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 1\n" + GOOD_PROPS
         + "".join(f"property float f_rest_{i}\n" for i in range(7)) + "end_header\n", b"\0" * 84, "7 f_rest"),
        ("missing.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n",
         b"\0" * 4, "missing: y, z"),
        ("mesh.ply", "ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int vertex_indices\n"
         "element vertex 1\n" + GOOD_PROPS + "end_header\n", b"\0" * 80, "precedes the vertices"),
        ("noend.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 1\n" + GOOD_PROPS, b"\0" * 70000, "end_header"),
        ("badtype.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty quaternion q\nend_header\n", b"", "malformed property"),
        ("novertex.ply", "ply\nformat binary_little_endian 1.0\nend_header\n", b"", "no 'vertex' element"),
    ],
)
def test_hostile_ply_files_get_one_clear_error(tmp_path, name, header, body, message):
    path = write_raw_ply(tmp_path / name, header, body)
    with pytest.raises(FormatError, match=message) as err:
        load_scene(path)
    assert str(path) in str(err.value)


def test_nan_values_are_reported(tmp_path):
    scene = random_scene(10)
    save_scene(scene, tmp_path / "s.ply")
    data = bytearray((tmp_path / "s.ply").read_bytes())
    start = data.index(b"end_header\n") + len(b"end_header\n")
    data[start + 4 : start + 8] = struct.pack("<f", float("nan"))  # y of the first Gaussian
    (tmp_path / "nan.ply").write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"nan\.ply: invalid Gaussians: means has NaN"):
        load_scene(tmp_path / "nan.ply")


def test_big_endian_and_double_properties_load(tmp_path):
    props = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    header = "ply\nformat binary_big_endian 1.0\nelement vertex 2\n" + "".join(f"property double {p}\n" for p in props) + "end_header\n"
    values = (np.arange(28) / 10).astype(">f8")
    path = write_raw_ply(tmp_path / "be.ply", header, values.tobytes())
    s = load_scene(path)
    assert torch.allclose(s.means[1], torch.tensor([1.4, 1.5, 1.6]))


def test_bad_splat_size_is_refused(tmp_path):
    (tmp_path / "x.splat").write_bytes(b"\0" * 33)
    with pytest.raises(FormatError, match="multiple of the 32-byte"):
        load_scene(tmp_path / "x.splat")


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(FormatError, match="unknown splat format"):
        load_scene(tmp_path / "x.obj")
    with pytest.raises(FormatError, match="cannot read"):
        load_scene(tmp_path / "missing.ply")


def test_failed_write_leaves_existing_file_untouched(tmp_path):
    path = tmp_path / "s.ply"
    save_scene(random_scene(5), path)
    before = path.read_bytes()
    bad = random_scene(5)
    bad.means[2, 0] = float("inf")
    with pytest.raises(FormatError, match="refusing to write"):
        save_scene(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.ply"]  # no temporary left behind


def test_header_writer_matches_property_count():
    assert ply_header(3, 16).count(b"property float") == 3 + 3 + 3 + 45 + 1 + 3 + 4


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    save_scene(random_scene(3), tmp_path / "s.ply")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "s.ply").stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("ply_type, np_type, value", [("float", "<f4", float("nan")), ("float", "<f4", 2.5),
                                                       ("double", "<f8", 2.0**40), ("uint", "<u4", 2**32 - 1)])
def test_ply_labels_that_would_wrap_are_refused(tmp_path, ply_type, np_type, value):
    props = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
             "rot_0", "rot_1", "rot_2", "rot_3"]
    header = ("ply\nformat binary_little_endian 1.0\nelement vertex 1\n" + "".join(f"property float {p}\n" for p in props)
              + f"property {ply_type} label\nend_header\n").encode()
    row = np.zeros(1, dtype=[("f", "<f4", len(props)), ("label", np_type)])
    row["f"][0, 10] = 1.0  # a unit quaternion
    row["label"] = value
    (tmp_path / "l.ply").write_bytes(header + row.tobytes())
    with pytest.raises(FormatError, match="label values are not integers in the int32 range"):
        load_scene(tmp_path / "l.ply")
