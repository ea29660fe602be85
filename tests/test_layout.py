import json

import numpy as np
import pytest

from renderer.layout import (MAX_OBJECTS, MAX_VOXELS, Layout, LayoutError, Shell, VoxelGrid, layout_to_voxels,
                             voxel_grid_from_parts, voxels_to_layout)


def room(*objects, size=(4.0, 3.0, 2.8)):
    return {"version": 1, "scene_type": "bedroom", "shell": {"kind": "room", "size": list(size)},
            "objects": [dict(label=l, color=c, center=ce, size=s, yaw=y) for l, c, ce, s, y in objects]}


BED = ("bed", "#3355aa", [0.0, 0.5, 0.5], [1.6, 2.0, 1.0], 0.0)
LAMP_ON_TABLE = [("table", "#aa7744", [1.5, -1.0, 0.3], [0.5, 0.5, 0.6], 0.0), ("lamp", "#ffffff", [1.5, -1.0, 0.8], [0.3, 0.3, 0.4], 0.0)]


def test_json_round_trip(tmp_path):
    lay = Layout.from_dict(room(BED, *LAMP_ON_TABLE))
    lay.save(tmp_path / "l.json")
    back = Layout.load(tmp_path / "l.json")
    assert back.to_dict() == lay.to_dict() and back.counts() == {"bed": 1, "table": 1, "lamp": 1}


@pytest.mark.parametrize("doc, message", [
    (room(BED, ("sofa", "#000000", [0.3, 0.5, 0.4], [1.8, 0.9, 0.8], 0.0)), "objects 0 .bed. and 1 .sofa. overlap"),
    (room(("bed", "#000000", [1.8, 0.5, 0.5], [1.6, 2.0, 1.0], 0.0)), "outside the room bounds"),
    (room(("bed", "#000000", [0.0, 0.0, 0.5], [1.6, 2.0, 1.0], 45.0)), None),  # rotated but inside: fine
    (room(("dragon", "#000000", [0, 0, 0.5], [1, 1, 1], 0.0)), "unknown label 'dragon'"),
    (room(("bed", "#000000", [0, 0, 0.5], [float("nan"), 1, 1], 0.0)), "finite"),
    (room(("bed", "red", [0, 0, 0.5], [1, 1, 1], 0.0)), "#rrggbb"),
    (room(("bed", "#000000", [0, 0, 0.5], [1, -1, 1], 0.0)), "positive"),
    ({**room(), "version": 7}, "version 7 is not supported"),
    ({"version": 1, "shell": {"kind": "cave"}}, "shell must be"),
])
def test_bad_layouts_are_refused(doc, message):
    if message is None:
        Layout.from_dict(doc)
        return
    with pytest.raises(LayoutError, match=message):
        Layout.from_dict(doc)


def test_resting_on_top_and_rugs_under_are_allowed():
    rug = ("rug", "#aa0000", [0.0, 0.0, 0.005], [2.0, 2.4, 0.01], 0.0)
    Layout.from_dict(room(BED, rug, *LAMP_ON_TABLE))


def test_a_million_boxes_is_refused_quickly():
    doc = room()
    doc["objects"] = [{"label": "chair"}] * 1_000_000
    with pytest.raises(LayoutError, match=f"at most {MAX_OBJECTS}"):
        Layout.from_dict(doc)


def test_bad_files_name_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(LayoutError, match="bad.json: not valid JSON"):
        Layout.load(tmp_path / "bad.json")
    with pytest.raises(LayoutError, match="missing.json: cannot read"):
        Layout.load(tmp_path / "missing.json")


def test_voxel_round_trip_recovers_axis_aligned_boxes(tmp_path):
    lay = Layout.from_dict(room(("bed", "#3355aa", [-0.5, 0.5, 0.5], [1.6, 2.0, 1.0], 0.0),
                                ("wardrobe", "#885522", [1.5, -1.0, 1.0], [0.8, 0.6, 2.0], 0.0)))
    vox = layout_to_voxels(lay, voxel_size=0.1)
    assert vox.grid.shape == (40, 30, 28)
    vox.save(tmp_path / "v.npy")
    back = voxels_to_layout(VoxelGrid.load(tmp_path / "v.npy"))
    got = {o.label: o for o in back.objects}
    for o in lay.objects:
        assert np.allclose(got[o.label].center, o.center, atol=0.051) and np.allclose(got[o.label].size, o.size, atol=0.101)
        assert got[o.label].color == o.color


def test_bad_voxel_grids(tmp_path):
    meta = {"voxel_size": 0.1, "table": {"1": {"label": "bed", "color": "#ffffff"}}}
    with pytest.raises(LayoutError, match="integer"):
        voxel_grid_from_parts(np.zeros((4, 4, 4), np.float32), meta)
    with pytest.raises(LayoutError, match="not in the label table"):
        voxel_grid_from_parts(np.full((4, 4, 4), 2, np.int32), meta)
    with pytest.raises(LayoutError, match="voxel_size"):
        voxel_grid_from_parts(np.zeros((4, 4, 4), np.int32), {**meta, "voxel_size": -1})
    # A header claiming an absurd grid is refused before anything is allocated.
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1, 1), np.int32))
    header["shape"] = (100_000, 100_000, 100_000)
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
    (tmp_path / "huge.json").write_text(json.dumps(meta))
    with pytest.raises(LayoutError, match=f"more than {MAX_VOXELS}"):
        VoxelGrid.load(tmp_path / "huge.npy")
    np.save(tmp_path / "f.npy", np.zeros((2, 2, 2), np.float64))
    with pytest.raises(LayoutError, match="must hold integers"):
        VoxelGrid.load(tmp_path / "f.npy")


def test_hilly_ground_is_non_negative_and_flat_elsewhere():
    hills = Shell("outdoor", [30.0, 30.0], terrain="hilly")
    xs, ys = np.meshgrid(np.linspace(-15, 15, 50), np.linspace(-15, 15, 50))
    h = hills.ground_height(xs, ys)
    assert h.min() >= 0 and h.max() > 0.3
    assert (Shell("outdoor", [30.0, 30.0]).ground_height(xs, ys) == 0).all()
