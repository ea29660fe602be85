"""The editor's server-side pieces without a browser: session folders, names from requests, the box
editor, the camera controls, and the download route's refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.views import CONTROLS, control, render_view, start_camera
from app.workspace import SessionError, Workspace, new_owner_token
from app.ui import boxes_to_layout, layout_preview
from renderer import Camera
from renderer.errors import WorldgenError


def _fake_world(ws: Workspace, owner: str) -> str:
    world_id, path = ws.new_world_path(owner)
    path.mkdir()
    (path / "world.json").write_text(json.dumps({"version": 1, "files": {}}))
    return world_id


def test_owners_see_only_their_worlds(tmp_path):
    ws = Workspace(tmp_path)
    a, b = new_owner_token(), new_owner_token()
    wa = _fake_world(ws, a)
    assert ws.worlds(a) == [wa] and ws.worlds(b) == []
    assert ws.world_dir(a, wa).is_dir()
    with pytest.raises(SessionError, match="not one of yours"):
        ws.world_dir(b, wa)
    for bad_owner in (None, "", "../" * 10, "A" * 32, "0" * 31, 5):
        with pytest.raises(SessionError, match="no editor session"):
            ws.owner_dir(bad_owner)
    for bad_id in (None, "", "../w000000000000", "w00000000000/..", "w" + "0" * 11, "/etc/passwd", wa + "/"):
        with pytest.raises(SessionError):
            ws.world_dir(a, bad_id)


def test_downloads_only_from_the_owners_exports(tmp_path):
    ws = Workspace(tmp_path)
    a, b = new_owner_token(), new_owner_token()
    wa = _fake_world(ws, a)
    (ws.exports_dir(a, wa) / f"{wa}.ply").write_bytes(b"ply")
    assert ws.export_file(a, wa, f"{wa}.ply").read_bytes() == b"ply"
    (tmp_path / "secret.ply").write_bytes(b"x")
    (ws.exports_dir(a, wa) / "link.ply").symlink_to(tmp_path / "secret.ply")
    for owner, name in ((b, f"{wa}.ply"), (a, "../world.json"), (a, "world.json"), (a, "link.ply"), (a, ".hidden.ply"),
                        (a, f"{wa}.PLY"), (a, "x" * 70 + ".ply"), (None, f"{wa}.ply")):
        with pytest.raises(SessionError, match="no such file in your session"):
            ws.export_file(owner, wa, name)


def test_world_limit_and_delete(tmp_path):
    ws = Workspace(tmp_path, max_worlds=2)
    a = new_owner_token()
    first = _fake_world(ws, a)
    _fake_world(ws, a)
    with pytest.raises(SessionError, match="the most a session keeps"):
        ws.new_world_path(a)
    ws.delete_world(a, first)
    assert first not in ws.worlds(a)
    ws.new_world_path(a)


def test_one_edit_at_a_time_per_world(tmp_path):
    ws = Workspace(tmp_path)
    a = new_owner_token()
    w = _fake_world(ws, a)
    with ws.editing(a, w):
        with pytest.raises(SessionError, match="another tab"):
            with ws.editing(a, w):
                pass
    with ws.editing(a, w):  # released after the first
        pass


def test_box_editor_rows_become_a_layout():
    layout = boxes_to_layout([["bed", "#3355aa", 0.0, 0.0, 0.0, 1.6, 2.0, 1.0, 0.0],
                              ["lamp", "#222222", 2.0, 1.5, 0.0, 0.3, 0.3, 1.5, 30.0]], "room", "my room")
    assert [b.label for b in layout.objects] == ["bed", "lamp"]
    assert layout.objects[1].center == [2.0, 1.5, 0.75]  # z is the box's bottom in the editor
    assert layout.objects[1].yaw == 30.0 and layout.caption == "my room"
    img = layout_preview([["bed", "#3355aa", 0.0, 0.0, 0.0, 1.6, 2.0, 1.0, 0.0]], "room")
    assert img.shape == (320, 320, 3) and (img == np.array([0x33, 0x55, 0xaa])).all(axis=-1).any()


@pytest.mark.parametrize("rows, match", [
    ([], "empty"),
    ([["bed", "#3355aa", "x", 0, 0, 1, 1, 1, 0]], "must be numbers"),
    ([["bed", "#3355aa", 0, 0]], "needs 9 values"),
    ([["hammock", "#3355aa", 0, 0, 0, 1, 1, 1, 0]], "unknown label"),
    ([["bed", "blue-ish", 0, 0, 0, 1, 1, 1, 0]], "color"),
    ([["bed", "#3355aa", 50, 0, 0, 1, 1, 1, 0]], "outside"),
])
def test_box_editor_refuses_bad_rows(rows, match):
    with pytest.raises(WorldgenError, match=match):
        boxes_to_layout(rows, "room", None)
    assert layout_preview(rows, "room").shape == (320, 320, 3)  # the preview says what is wrong


def test_camera_controls_move_as_named():
    from tests.conftest import random_scene

    scene = random_scene(500, seed=0, sh_degree=0)
    cam = start_camera([], scene)
    assert (cam.width, cam.height) == (384, 288)
    fwd = control(cam, "forward", scene)
    heading = torch.nn.functional.normalize(cam.forward[:2], dim=0)
    assert torch.allclose((fwd.position - cam.position)[:2], 0.4 * heading, atol=1e-4)
    orbited = control(cam, "orbit left", scene)
    pivot = ((scene.means.amin(0) + scene.means.amax(0)) / 2)
    # orbiting keeps the distance to the scene's centre (about its vertical axis)
    d0 = (cam.position - pivot)[:2].norm()
    assert abs(float((orbited.position - pivot)[:2].norm() - d0)) < 0.05 * float(d0)
    for name in CONTROLS:
        moved = control(cam, name, scene)
        assert isinstance(moved, Camera) and torch.isfinite(moved.c2w).all()
    img = render_view(scene, cam, torch.zeros(len(scene), dtype=torch.bool))
    assert img.dtype == np.uint8 and img.shape == (288, 384, 3)


def test_the_app_sweeps_gradio_cache(tmp_path):
    """A long-running shared editor must not fill the disk with gradio's copies of served files."""
    from app.ui import Editor, build_blocks

    blocks = build_blocks(Editor(Workspace(tmp_path), None, None))
    assert blocks.delete_cache is not None and blocks.delete_cache[1] <= 6 * 3600
