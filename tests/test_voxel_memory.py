"""The hashed voxel memory: fusion by 3D position, O(1) lookup, bounded size, renders, files."""

import pytest
import torch

from renderer import Camera
from rtfm.inputs import MemoryFrame
from rtfm.voxel_memory import VoxelMemory, VoxelMemoryError


def wall_frame(size=32, x=2.0, colour=(0.8, 0.2, 0.1), label=5):
    """A camera at the origin looking along +X at a flat wall x = `x` (depth is z along the view)."""
    cam = Camera.look_at([0.0, 0.0, 1.0], [1.0, 0.0, 1.0], width=size, height=size, fov_y_deg=60.0)
    rgb = torch.tensor(colour).expand(size, size, 3).clone()
    return MemoryFrame(cam, rgb, torch.full((size, size), x), torch.full((size, size), label))


def test_a_frame_renders_back_from_its_own_camera():
    mem = VoxelMemory(voxel_size=0.02)
    frame = wall_frame()
    assert mem.add(frame) == 32 * 32 and len(mem) > 0
    seen = mem.render(frame.camera)
    covered = seen.depth > 0
    assert covered.float().mean() > 0.95  # voxels are splatted at their footprint: no pinholes
    assert torch.allclose(seen.rgb[covered], frame.rgb[covered], atol=1e-5)
    assert (seen.depth[covered] - 2.0).abs().max() < 0.02 and (seen.label[covered] == 5).all()


def test_lookup_by_position_and_fusion_of_the_same_voxel():
    mem = VoxelMemory(voxel_size=0.05)
    mem.add(wall_frame(colour=(1.0, 0.0, 0.0)))
    mem.add(wall_frame(colour=(0.0, 0.0, 1.0)))  # the same wall seen again: colours average
    rgb, label, found = mem.lookup(torch.tensor([[2.0, 0.0, 1.0], [5.0, 0.0, 1.0]]))
    assert found.tolist() == [True, False]
    assert torch.allclose(rgb[0], torch.tensor([0.5, 0.0, 0.5]), atol=1e-5) and label.tolist() == [5, -1]


def test_the_table_is_bounded_and_newer_voxels_take_over_a_slot():
    from renderer.warp import unproject

    mem = VoxelMemory(voxel_size=0.01, table_bits=8)  # 256 slots for ~1,000 voxels a wall
    mem.add(wall_frame(colour=(1.0, 0.0, 0.0)))
    assert len(mem) <= 256
    far = wall_frame(x=3.0, colour=(0.0, 1.0, 0.0))
    mem.add(far)
    assert len(mem) <= 256
    points, _ = unproject(far.depth[None], [far.camera])
    slots = mem._slots(mem._voxels(points.reshape(-1, 3)))
    # every slot the new wall hashes to now holds one of its voxels (x = 3 m), none of the old wall's
    assert (mem.voxel[slots][:, 0] >= 299).all()
    rgb, _, found = mem.lookup(points.reshape(-1, 3))
    assert found.any() and torch.allclose(rgb[found], torch.tensor([0.0, 1.0, 0.0]).expand(int(found.sum()), 3))


def test_empty_memory_and_views_that_see_nothing():
    mem = VoxelMemory()
    cam = wall_frame().camera
    assert mem.render(cam) is None
    mem.add(wall_frame())
    away = Camera.look_at([0.0, 0.0, 1.0], [-1.0, 0.0, 1.0], width=16, height=16)
    assert mem.render(away) is None
    with pytest.raises(VoxelMemoryError, match="depth"):
        mem.add(MemoryFrame(cam, torch.zeros(32, 32, 3)))


@pytest.mark.parametrize("kwargs", [{"voxel_size": 0}, {"voxel_size": float("nan")}, {"table_bits": 40}, {"table_bits": 2.5}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(VoxelMemoryError):
        VoxelMemory(**kwargs)


def test_save_load_round_trip_and_bad_files(tmp_path):
    mem = VoxelMemory(voxel_size=0.04, table_bits=12)
    mem.add(wall_frame())
    mem.save(tmp_path / "v")
    back = VoxelMemory.load(tmp_path / "v")
    assert back.voxel_size == 0.04 and len(back) == len(mem)
    cam = wall_frame().camera
    assert torch.equal(back.render(cam).rgb, mem.render(cam).rgb)
    (tmp_path / "v" / "voxels.safetensors").write_bytes(b"junk")
    with pytest.raises(VoxelMemoryError, match="voxels"):
        VoxelMemory.load(tmp_path / "v")
    with pytest.raises(VoxelMemoryError):
        VoxelMemory.load(tmp_path / "missing")


def test_rollout_with_voxels_fuses_keyframes_and_uses_them():
    from conftest import MICRO_FRAME_MODEL
    from rtfm.frame_model import FrameModel
    from rtfm.memory import SpatialMemory
    from rtfm.rollout import rollout

    torch.manual_seed(0)
    model = FrameModel(**MICRO_FRAME_MODEL).eval()
    start = wall_frame(size=model.cfg.resolution)
    memory, voxels = SpatialMemory(), VoxelMemory()
    memory.add(start)
    voxels.add(start)
    before = len(voxels)
    cams = [Camera.look_at([0.0, 0.1 * i, 1.0], [1.0, 0.4 * i, 1.0], width=start.camera.width,
                           height=start.camera.height, fov_y_deg=60.0) for i in range(1, 4)]
    frames = list(rollout(model, cams, memory=memory, voxels=voxels, k=2))
    assert len(frames) == 3 and len(voxels) >= before
    assert len(voxels) > before or len(memory) == 1  # keyframes (and only they) are fused


def test_the_voxel_view_joins_memory_as_a_token_frame():
    from rtfm.rollout import _voxel_view

    whole = wall_frame(size=32)
    voxels = VoxelMemory(voxel_size=0.02)
    assert _voxel_view(voxels, whole.camera) is None  # nothing stored: nothing added
    voxels.add(whole)
    view = _voxel_view(voxels, whole.camera)
    assert view.depth is None and view.camera is whole.camera  # attended to, not warped
    drawn = view.rgb.sum(-1) > 0
    assert drawn.float().mean() > 0.95 and torch.allclose(view.rgb[drawn], whole.rgb[drawn], atol=1e-5)
