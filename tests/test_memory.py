import math

import pytest
import torch

from renderer import Camera
from rtfm.frame_model import FrameModel
from rtfm.inputs import MemoryFrame
from rtfm.memory import SpatialMemory, SpatialMemoryError
from rtfm.rollout import rollout

RES = 32


def wall_frame(yaw_deg: float, seed: int = 0) -> MemoryFrame:
    """A view from the origin at a given yaw inside a cylinder of radius 4 m (so depth is known)."""
    import math

    target = [4 * math.cos(math.radians(yaw_deg)), 4 * math.sin(math.radians(yaw_deg)), 1.0]
    cam = Camera.look_at([0, 0, 1.0], target, width=RES, height=RES, fov_y_deg=60)
    _, d = cam.rays()
    d_cam = d @ cam.w2c[:3, :3].T
    horiz = d_cam[..., [0, 2]].norm(dim=-1)  # a level camera: x and z are horizontal, the wall 4 m away
    depth = 4.0 * d_cam[..., 2] / horiz  # z of the hit at ray length 4 / horiz
    g = torch.Generator().manual_seed(seed)
    return MemoryFrame(cam, torch.rand(RES, RES, 3, generator=g), depth)


def test_retrieval_is_by_overlap_not_recency():
    mem = SpatialMemory(capacity=8)
    for yaw in (0, 90, 180, 270, 10):
        mem.add(wall_frame(yaw))
    got = mem.retrieve(wall_frame(85).camera, 2)
    assert got[0].camera is mem.frames[1].camera  # the 90 degree view, added long ago
    assert len(mem.retrieve(wall_frame(85).camera, 8)) < 5  # frames facing away never come back
    assert mem.retrieve(wall_frame(85).camera, 0) == []


def test_kept_points_give_the_same_coverage_as_lifting_afresh():
    """Memory lifts each frame's points once; coverage from them equals view_overlap's, the
    overlap matrix too, and a replaced frame (regeneration cuts a region out) is lifted again."""
    from renderer.warp import view_overlap

    frames = [wall_frame(yaw) for yaw in (0, 30, 75, 200)]
    mem = SpatialMemory(capacity=8)
    for f in frames:
        mem.add(f)
    depth, cams = torch.stack([f.depth for f in frames]), [f.camera for f in frames]
    target = wall_frame(50).camera
    assert torch.equal(mem._coverage_of(target), view_overlap(depth, cams, target, stride=2))
    matrix = view_overlap(depth, cams, cams, stride=2)
    off = ~torch.eye(4, dtype=torch.bool)
    assert torch.equal(mem.overlap[off], matrix[off])
    blank = frames[1].depth.clone()
    blank[:, : RES // 2] = 0  # half the view loses its depth
    mem.replace(1, MemoryFrame(frames[1].camera, frames[1].rgb, blank))
    depth = torch.stack([f.depth for f in mem.frames])
    assert torch.equal(mem._coverage_of(target), view_overlap(depth, cams, target, stride=2))
    assert torch.equal(mem.overlap[off], view_overlap(depth, cams, cams, stride=2)[off])


def test_eviction_keeps_coverage_and_the_bound():
    mem = SpatialMemory(capacity=4)
    for yaw in (0, 90, 180, 270):
        mem.add(wall_frame(yaw))
    mem.add(wall_frame(2))  # nearly a copy of the first view: one of the two goes
    assert len(mem) == 4 and mem.evicted == 1
    yaws = sorted(round(float(torch.atan2(f.camera.forward[1], f.camera.forward[0]).rad2deg())) % 360 for f in mem.frames)
    assert yaws[1:] == [90, 180, 270] and yaws[0] in (0, 2)
    for _ in range(20):
        mem.add(wall_frame(45))
    assert len(mem) == 4 and mem.overlap.shape == (4, 4)


def test_generated_frames_are_stored_only_as_keyframes():
    """A generated frame whose view memory already covers is not stored (no resampling loop);
    one that sees new ground is; given frames are always stored; None keeps every frame."""
    mem = SpatialMemory(capacity=8, keyframe_coverage=0.9)
    assert mem.add(wall_frame(0))
    assert mem.covered(wall_frame(2).camera) > 0.9 and mem.covered(wall_frame(40).camera) < 0.5
    assert not mem.add(wall_frame(2, seed=1), generated=True) and len(mem) == 1
    assert mem.add(wall_frame(2, seed=1)) and len(mem) == 2  # a given frame is kept regardless
    assert mem.add(wall_frame(40), generated=True) and len(mem) == 3
    everything = SpatialMemory(capacity=8, keyframe_coverage=None)
    for seed in range(3):
        assert everything.add(wall_frame(0, seed), generated=True)
    assert len(everything) == 3
    with pytest.raises(SpatialMemoryError, match="keyframe coverage"):
        SpatialMemory(keyframe_coverage=1.5)


def test_memory_saves_and_loads(tmp_path):
    mem = SpatialMemory(capacity=5, keyframe_coverage=0.7)
    for yaw in (0, 60, 120):
        mem.add(wall_frame(yaw))
    mem.save(tmp_path)
    back = SpatialMemory.load(tmp_path)
    assert len(back) == 3 and back.capacity == 5 and torch.equal(back.overlap, mem.overlap)
    assert back.keyframe_coverage == 0.7
    assert torch.equal(back.frames[2].rgb, mem.frames[2].rgb) and torch.allclose(back.frames[1].camera.c2w, mem.frames[1].camera.c2w)
    (tmp_path / "memory.safetensors").write_bytes(b"junk")
    with pytest.raises(SpatialMemoryError, match="cannot read"):
        SpatialMemory.load(tmp_path)


def test_bad_memory_input():
    with pytest.raises(SpatialMemoryError, match="capacity"):
        SpatialMemory(0)
    f = wall_frame(0)
    with pytest.raises(SpatialMemoryError, match="depth"):
        SpatialMemory().add(MemoryFrame(f.camera, f.rgb))


def test_rollout_yields_frames_and_writes_them_back():
    torch.manual_seed(0)
    model = FrameModel(resolution=RES, dim=32, depth=1, heads=2, encoder_depth=1, refine_channels=8, image_size=32,
                       layout_grid=(8, 8, 4), max_memory=4).eval()
    mem = SpatialMemory(capacity=3)
    mem.add(wall_frame(0))
    cams = [wall_frame(yaw).camera for yaw in (20, 40, 60, 80)]  # each sees new wall: all are keyframes
    frames = list(rollout(model, cams, memory=mem, k=2, steps=2))
    assert len(frames) == 4 and all(f.rgb.shape == (RES, RES, 3) and f.depth.shape == (RES, RES) for f in frames)
    assert len(mem) == 3 and mem.frames[-1] is frames[-1]
    again = list(rollout(model, cams, memory=None, k=2, steps=2))
    assert torch.equal(again[0].rgb, list(rollout(model, cams[:1], k=2, steps=2))[0].rgb)  # seeded
    with pytest.raises(ValueError, match="k must be"):
        next(rollout(model, cams, k=9))


def test_session_actions_move_the_camera_and_fill_memory():
    from rtfm.session import WorldSession, moved

    start = wall_frame(0).camera
    assert torch.allclose(moved(start, "move", 1.0).position, start.position + torch.tensor([1.0, 0, 0]), atol=1e-6)
    assert torch.allclose(moved(start, "strafe", 1.0).position, start.position + torch.tensor([0, -1.0, 0]), atol=1e-6)
    turned = moved(start, "turn", 90)
    assert torch.allclose(turned.forward, torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    assert float(moved(start, "look", 200).forward[2]) == pytest.approx(math.sin(math.radians(85)), abs=1e-6)
    with pytest.raises(ValueError, match="unknown action"):
        moved(start, "fly", 1)
    torch.manual_seed(0)
    model = FrameModel(resolution=RES, dim=32, depth=1, heads=2, encoder_depth=1, refine_channels=8, image_size=32,
                       layout_grid=(8, 8, 4), max_memory=4).eval()
    session = WorldSession(model, start, memory=SpatialMemory(capacity=2), steps=1)
    for action, amount in (("turn", 30), ("turn", 30), ("look", -40)):  # each turn sees new ground
        f = session.step(action, amount)
        assert f.camera is session.camera
    assert len(session.frames) == 3 and len(session.memory) == 2


def test_rollout_bad_and_extreme_paths():
    """A zero-length path yields nothing; a memory that does not overlap the target is not used;
    a long lazy path is consumed frame by frame with the memory held to its bound."""
    import itertools

    torch.manual_seed(0)
    model = FrameModel(resolution=RES, dim=32, depth=1, heads=2, encoder_depth=1, refine_channels=8, image_size=32,
                       layout_grid=(8, 8, 4), max_memory=4).eval()
    assert list(rollout(model, [], k=2, steps=1)) == []
    mem = SpatialMemory(capacity=4)
    mem.add(wall_frame(0))
    behind = wall_frame(180).camera  # looking away from the wall: nothing in memory overlaps
    assert mem.retrieve(behind, 4) == []
    lone = next(rollout(model, [behind], memory=mem, k=2, steps=1))
    fresh = next(rollout(model, [behind], memory=SpatialMemory(), k=2, steps=1))
    assert torch.equal(lone.rgb, fresh.rgb)

    def endless():  # a path that never ends: only what is consumed is made
        for i in itertools.count():
            yield wall_frame(i * 37 % 360).camera  # new ground again and again

    walk = rollout(model, endless(), memory=mem, k=2, steps=1)
    frames = list(itertools.islice(walk, 60))
    assert len(frames) == 60 and len(mem) == 4 and mem.evicted > 20
