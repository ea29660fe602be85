"""Edits on Gaussian scenes (renderer.edit) and on world folders (worldgen.edit, asset_splats, regenerate).

Every expected value is computed here independently (numpy, per-point Python loops, the CSS
hue-rotate definition), not by the code under test."""

import copy
import json
import math
import shutil

import numpy as np
import pytest
import torch

from conftest import random_scene
from renderer import Camera, GaussianScene, load_scene, render
from renderer.edit import (MAX_EDITS, EditError, EditHistory, delete, duplicate, pack_mask, recolor, select_box,
                           select_instances, select_labels, select_sphere, transform)
from renderer.gaussians import SH_C0
from renderer.layout import LABEL_IDS, Box, Layout, Shell, hex_to_rgb
from worldgen.errors import WorldgenError

FIELDS = ("means", "quats", "log_scales", "opacity_logits", "sh", "labels")


def assert_same_scene(a: GaussianScene, b: GaussianScene) -> None:
    assert len(a) == len(b)
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and torch.equal(x, y), name


def dc_rgb(scene: GaussianScene) -> np.ndarray:
    return (scene.sh[:, 0].double().numpy() * SH_C0 + 0.5)


def mask_of(n: int, idx) -> torch.Tensor:
    m = torch.zeros(n, dtype=torch.bool)
    m[list(idx)] = True
    return m


# ---- selections ---------------------------------------------------------------------------------------
def _in_convex_xy(p, corners) -> bool:
    """Point in a counter-clockwise convex polygon: on the left of every edge."""
    for k in range(len(corners)):
        (x0, y0), (x1, y1) = corners[k], corners[(k + 1) % len(corners)]
        if (x1 - x0) * (p[1] - y0) - (y1 - y0) * (p[0] - x0) < 0:
            return False
    return True


@pytest.mark.parametrize("yaw", [0.0, 30.0, 125.0, -70.0])
def test_select_box_matches_a_per_point_loop(yaw):
    scene = random_scene(3000, seed=1, spread=1.0)
    center, size = [0.2, -0.1, 0.05], [1.4, 0.6, 0.9]
    got = select_box(scene, center, size, yaw)
    # the box as the layout describes it: its footprint polygon (Box.corners_xy) and z range
    corners = Box("bed", "#ffffff", center, size, yaw).corners_xy()
    want = []
    for p in scene.means.double().tolist():
        want.append(_in_convex_xy(p, corners) and abs(p[2] - center[2]) <= size[2] / 2)
    assert got.dtype == torch.bool and got.tolist() == want
    assert 50 < sum(want) < 2950  # both sides exercised
    if yaw == 30.0:  # a rotated box differs from the axis-aligned one
        assert not torch.equal(got, select_box(scene, center, size, 0.0))


def test_select_sphere_and_labels_and_instances():
    scene = random_scene(2000, seed=2)
    center, r = [0.1, 0.2, -0.1], 0.5
    want = [sum((a - b) ** 2 for a, b in zip(p, center)) <= r * r for p in scene.means.double().tolist()]
    got = select_sphere(scene, center, r)
    assert got.tolist() == want and 20 < sum(want) < 1980
    labs = select_labels(scene, [1, 3])
    assert labs.tolist() == [int(v) in (1, 3) for v in scene.labels]
    inst = torch.tensor([-1, 0, 1, 2, 1, -1])
    assert select_instances(inst, [1, -1]).tolist() == [False, False, True, False, True, False]


# ---- recolour -------------------------------------------------------------------------------------------
def test_recolor_replace_exact_and_keeping_shading():
    scene = random_scene(400, seed=3, sh_degree=2)
    m = mask_of(400, range(0, 400, 3))
    target = np.array([0.2, 0.7, 0.4])
    out = recolor(scene, m, mode="replace", color=target.tolist(), keep_shading=False)
    got = dc_rgb(out)
    np.testing.assert_allclose(got[m.numpy()], np.broadcast_to(target, (int(m.sum()), 3)), atol=1e-6)
    assert torch.equal(out.sh[~m], scene.sh[~m])  # unselected untouched, all bands
    assert (out.sh[m, 1:] == 0).all()  # no old colour at grazing angles
    for name in ("means", "quats", "log_scales", "opacity_logits", "labels"):
        assert torch.equal(getattr(out, name), getattr(scene, name))

    shaded = recolor(scene, m, mode="replace", color=target.tolist(), keep_shading=True)
    old = np.clip(dc_rgb(scene)[m.numpy()], 0, 1)
    lum = old.mean(axis=1)
    want = np.clip(target[None] * (lum / lum.mean())[:, None], 0, 1)
    np.testing.assert_allclose(dc_rgb(shaded)[m.numpy()], want, atol=1e-5)
    new = dc_rgb(shaded)[m.numpy()]
    ok = (want < 1).all(axis=1)  # where nothing clipped, brightness ratios between Gaussians are kept
    ratio = new[ok].mean(axis=1) / lum[ok]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    assert torch.equal(shaded.sh[~m], scene.sh[~m])


def test_recolor_tint_is_an_exact_blend_and_scales_higher_bands():
    scene = random_scene(300, seed=4, sh_degree=3)
    m = mask_of(300, range(1, 300, 2))
    target, amount = np.array([1.0, 0.1, 0.3]), 0.35
    out = recolor(scene, m, mode="tint", color=target.tolist(), amount=amount)
    old = np.clip(dc_rgb(scene), 0, 1)[m.numpy()]
    want = old * (1 - amount) + target * amount
    np.testing.assert_allclose(dc_rgb(out)[m.numpy()], want, atol=1e-5)
    ratio = (want + 0.05) / (old + 0.05)  # view-dependent bands follow the colour's change per channel
    np.testing.assert_allclose(out.sh[m, 1:].numpy(), scene.sh[m, 1:].numpy() * ratio[:, None, :], rtol=1e-4,
                               atol=1e-6)
    assert torch.equal(out.sh[~m], scene.sh[~m])
    with pytest.raises(EditError, match="amount"):
        recolor(scene, m, mode="tint", color=[1, 0, 0], amount=1.5)
    with pytest.raises(EditError, match="color"):
        recolor(scene, m, mode="tint", color=[1, 0, 2])
    with pytest.raises(EditError, match="mode"):
        recolor(scene, m, mode="paint", color=[1, 0, 0])


def css_hue_rotate(rgb: np.ndarray, deg: float) -> np.ndarray:
    """The filter-effects spec's feColorMatrix hueRotate: base + cos * A + sin * B, then clipped."""
    base = np.array([[0.213, 0.715, 0.072]] * 3)
    a = np.array([[0.787, -0.715, -0.072], [-0.213, 0.285, -0.072], [-0.213, -0.715, 0.928]])
    b = np.array([[-0.213, -0.715, 0.928], [0.143, 0.140, -0.283], [-0.787, 0.715, 0.072]])
    t = math.radians(deg)
    return np.clip(rgb @ (base + math.cos(t) * a + math.sin(t) * b).T, 0, 1)


def test_recolor_hue_rotation_follows_css():
    scene = random_scene(200, seed=5, sh_degree=1)
    scene.sh[:, 0] = scene.sh[:, 0].clamp(-1.7, 1.7)  # colours inside [0, 1], so no clamping in the input
    m = mask_of(200, range(0, 200, 2))
    for deg in (0.0, 360.0):
        out = recolor(scene, m, mode="hue", hue_deg=deg)
        np.testing.assert_allclose(out.sh.numpy(), scene.sh.numpy(), atol=1e-5)
    out = recolor(scene, m, mode="hue", hue_deg=75.0)
    np.testing.assert_allclose(dc_rgb(out)[m.numpy()], css_hue_rotate(dc_rgb(scene)[m.numpy()], 75.0), atol=1e-5)
    assert torch.equal(out.sh[~m], scene.sh[~m])

    red = GaussianScene.from_points(torch.zeros(4, 3), torch.tensor([[1.0, 0.0, 0.0]] * 4), scale=0.05, opacity=0.9,
                                    labels=torch.zeros(4, dtype=torch.int64))
    got = dc_rgb(recolor(red, torch.ones(4, dtype=torch.bool), mode="hue", hue_deg=120.0))
    want = css_hue_rotate(np.array([[1.0, 0.0, 0.0]]), 120.0)[0]
    np.testing.assert_allclose(got, np.broadcast_to(want, (4, 3)), atol=1e-5)
    assert got[0, 1] > 0.4 and got[0, 0] < 0.05 and got[0, 2] < 0.05  # red -> green
    with pytest.raises(EditError, match="hue_deg"):
        recolor(red, torch.ones(4, dtype=torch.bool), mode="hue", hue_deg=float("nan"))


# ---- transform, delete, duplicate -----------------------------------------------------------------------
def _rz(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _covariances(scene: GaussianScene) -> np.ndarray:
    q = scene.quats.double().numpy()
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    R = np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                  np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                  np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], 1)
    s2 = np.exp(2 * scene.log_scales.double().numpy())
    return R @ (s2[:, :, None] * np.transpose(R, (0, 2, 1)))


def test_transform_about_the_selection_centre():
    scene = random_scene(500, seed=6)
    m = scene.means[:, 0] > 0.2
    t, yaw, k = np.array([0.3, -0.2, 0.5]), 65.0, 1.7
    out = transform(scene, m, translate=t.tolist(), yaw_deg=yaw, scale=k)
    x = scene.means.double().numpy()
    sel = x[m.numpy()]
    c = (sel.min(0) + sel.max(0)) / 2
    want = k * (sel - c) @ _rz(yaw).T + c + t
    np.testing.assert_allclose(out.means[m].double().numpy(), want, atol=1e-5)
    assert torch.equal(out.means[~m], scene.means[~m]) and torch.equal(out.sh[~m], scene.sh[~m])
    R = _rz(yaw)
    np.testing.assert_allclose(_covariances(out)[m.numpy()], k * k * R @ _covariances(scene)[m.numpy()] @ R.T,
                               atol=1e-6, rtol=1e-4)
    assert torch.equal(out.opacity_logits, scene.opacity_logits) and torch.equal(out.labels, scene.labels)
    # yaw 90 turns +x into +y about the centre
    one = transform(scene, m, yaw_deg=90.0)
    np.testing.assert_allclose(one.means[m].double().numpy(), (sel - c) @ _rz(90).T + c, atol=1e-5)
    with pytest.raises(EditError):
        transform(scene, m, scale=0.0)
    with pytest.raises(EditError, match="translate"):
        transform(scene, m, translate=[1.0, 2.0])


def test_translated_selection_renders_where_expected():
    a = GaussianScene.from_points(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 0.0]]), scale=0.04, opacity=0.95,
                                  labels=torch.tensor([7]))
    b = GaussianScene.from_points(torch.tensor([[-0.6, 0.0, 0.4]]), torch.tensor([[0.0, 0.0, 1.0]]), scale=0.04,
                                  opacity=0.95, labels=torch.tensor([8]))
    scene = GaussianScene.concat([a, b])
    cam = Camera.look_at([0, -3, 0], [0, 0, 0], width=64, height=48)
    moved = transform(scene, torch.tensor([True, False]), translate=[0.5, 0.0, -0.3])

    def red_centroid(s):
        rgb = render(s, cam).rgb[0]
        w = (rgb[..., 0] - rgb[..., 2]).clamp_min(0)
        v, u = torch.meshgrid(torch.arange(48) + 0.5, torch.arange(64) + 0.5, indexing="ij")
        return torch.stack([(w * u).sum() / w.sum(), (w * v).sum() / w.sum()])

    uv, _ = cam.project(torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, -0.3]]))
    assert (red_centroid(scene) - uv[0]).norm() < 0.5
    assert (red_centroid(moved) - uv[1]).norm() < 0.5
    assert (uv[1] - uv[0]).norm() > 8


def test_delete_and_duplicate_keep_instance_ids():
    scene = random_scene(60, seed=7)
    inst = torch.tensor([0] * 20 + [1] * 20 + [-1] * 20)
    h = EditHistory(scene, inst)
    m = (inst == 1) | (torch.arange(60) >= 50)  # instance 1 and ten unassigned Gaussians
    out = h.apply("duplicate", m, translate=[1.0, 2.0, 3.0])
    assert len(out) == 90
    np.testing.assert_allclose(out.means[60:].numpy(), scene.means[m].numpy() + [1.0, 2.0, 3.0], atol=1e-6)
    assert h.instances[:60].tolist() == inst.tolist()
    assert h.instances[60:].tolist() == [2] * 20 + [-1] * 10  # the copy is a new object; -1 stays -1
    assert torch.equal(out.labels[60:], scene.labels[m])
    out = h.apply("delete", h.instances == 0)
    assert len(out) == 70 and (h.instances != 0).all()
    assert h.instances.tolist() == [1] * 20 + [-1] * 20 + [2] * 20 + [-1] * 10
    assert torch.equal(out.means[:40], scene.means[20:])
    assert len(delete(scene, torch.ones(60, dtype=torch.bool))) == 0
    assert len(duplicate(scene, mask_of(60, [3]))) == 61
    with pytest.raises(EditError, match="empty"):
        h.apply("delete", torch.zeros(70, dtype=torch.bool))
    with pytest.raises(EditError, match="mask"):
        h.apply("delete", torch.ones(60, dtype=torch.bool))  # made for an older scene


# ---- history ---------------------------------------------------------------------------------------------
def _edits(scene):
    """A sequence of every op, each as (op, mask function, kwargs)."""
    other = random_scene(25, seed=11, sh_degree=1)
    return [
        ("recolor", lambda s: s.means[:, 0] > 0, dict(mode="tint", color=[0.9, 0.2, 0.1], amount=0.5)),
        ("transform", lambda s: s.means[:, 1] > 0.1, dict(translate=[0.1, 0.2, -0.3], yaw_deg=33.0, scale=1.2)),
        ("duplicate", lambda s: s.labels == 2, dict(translate=[0.0, 0.5, 0.0], yaw_deg=10.0)),
        ("insert", None, dict(other=other)),
        ("delete", lambda s: s.means[:, 2] < -0.3, {}),
        ("recolor", lambda s: s.labels == 1, dict(mode="hue", hue_deg=90.0)),
        ("replace", lambda s: s.labels == 3, dict(other=random_scene(10, seed=12))),
        ("recolor", lambda s: s.labels == 4, dict(mode="replace", color=[0.1, 0.1, 0.8], keep_shading=False)),
    ]


def _run(h, edits):
    states = [(h.scene, h.instances)]
    for op, sel, kw in edits:
        h.apply(op, None if sel is None else sel(h.scene), **kw)
        states.append((h.scene, h.instances))
    return states


def test_undo_redo_and_a_new_edit_drops_the_redo_tail():
    scene = random_scene(300, seed=8)
    inst = torch.randint(-1, 4, (300,), generator=torch.Generator().manual_seed(0))
    h = EditHistory(scene, inst)
    states = _run(h, _edits(scene)[:4])
    assert h.done == 4 and h.can_undo and not h.can_redo
    assert_same_scene(h.undo(), states[3][0])
    assert_same_scene(h.undo(), states[2][0])
    assert torch.equal(h.instances, states[2][1])
    assert_same_scene(h.redo(), states[3][0])
    h.undo()
    h.undo()
    assert h.done == 1 and h.can_redo
    h.apply("delete", h.scene.labels == 0)
    assert h.done == 2 and len(h.log) == 2 and not h.can_redo and h.log[1]["op"] == "delete"
    assert len(h.scene) == 300 - int((scene.labels == 0).sum())
    with pytest.raises(EditError, match="redo"):
        h.redo()
    h.undo()
    h.undo()
    assert_same_scene(h.scene, scene)
    assert torch.equal(h.instances, inst)
    with pytest.raises(EditError, match="undo"):
        h.undo()


@pytest.mark.parametrize("keep", [1, 8])
def test_log_replays_bit_identically(keep):
    scene = random_scene(400, seed=9)
    inst = torch.randint(-1, 5, (400,), generator=torch.Generator().manual_seed(1))
    h = EditHistory(scene, inst, keep=keep)
    states = _run(h, _edits(scene))
    h.undo()
    h.undo()
    data = json.loads(json.dumps(h.to_dict()))
    again = EditHistory.from_dict(data, scene, inst)
    assert again.done == h.done == len(states) - 3 and len(again.log) == len(states) - 1
    for k in (again.done, 0, 3, len(states) - 1, 1):  # cached and rebuilt from older states, both histories
        assert_same_scene(again.state(k).scene, states[k][0])
        assert torch.equal(again.state(k).instances, states[k][1])
        assert_same_scene(h.state(k).scene, states[k][0])
        assert torch.equal(h.state(k).instances, states[k][1])
    assert len(h._states) <= keep + 1
    # redo on the reopened history goes on exactly as the original would
    assert_same_scene(again.redo(), states[-2][0])
    assert_same_scene(again.redo(), states[-1][0])


def test_history_refuses_more_than_max_edits(monkeypatch):
    import renderer.edit as edit

    assert MAX_EDITS >= 1000
    monkeypatch.setattr(edit, "MAX_EDITS", 3)
    scene = random_scene(50, seed=10)
    h = EditHistory(scene)
    for _ in range(3):
        h.apply("recolor", scene.labels >= 0, mode="hue", hue_deg=10.0)
    with pytest.raises(EditError, match="3 edits"):
        h.apply("recolor", scene.labels >= 0, mode="hue", hue_deg=10.0)
    h.undo()
    h.apply("delete", scene.labels == 0)  # room again after an undo
    data = h.to_dict()
    data["edits"].append(data["edits"][0])
    with pytest.raises(EditError, match="at most 3"):
        EditHistory.from_dict(data, scene)


@pytest.fixture(scope="module")
def logged():
    scene = random_scene(100, seed=13)
    h = EditHistory(scene)
    h.apply("insert", other=random_scene(7, seed=14, sh_degree=0))
    h.apply("transform", h.scene.means[:, 0] > 0, translate=[0.1, 0.0, 0.0])
    h.apply("recolor", h.scene.labels == 1, mode="tint", color=[1, 0, 0], amount=0.5)
    return scene, json.loads(json.dumps(h.to_dict()))


def _set(path, value):
    def mutate(d):
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return d
    return mutate


CORRUPT = [
    ("not a dict", lambda d: [d], "not a version 1"),
    ("not a dict", lambda d: "edits", "not a version 1"),
    ("wrong version", _set(["version"], 2), "not a version 1"),
    ("edits not a list", _set(["edits"], {"0": 1}), "not a version 1"),
    ("done too big", _set(["done"], 4), "'done'"),
    ("done negative", _set(["done"], -1), "'done'"),
    ("done a bool", _set(["done"], True), "'done'"),
    ("done a string", _set(["done"], "2"), "'done'"),
    ("edit not a dict", _set(["edits", 1], ["transform"]), "edit 1 is not an object"),
    ("unknown op", _set(["edits", 1, "op"], "explode"), "unknown edit operation 'explode'"),
    ("op missing", lambda d: (d["edits"][2].pop("op"), d)[1], "unknown edit operation None"),
    ("mask not base64", _set(["edits", 1, "mask"], "@@not base64@@"), "edit 1 .*packed bits"),
    ("mask not zlib", _set(["edits", 1, "mask"], "aGVsbG8="), "edit 1 .*packed bits"),
    ("mask too short", _set(["edits", 1, "mask"], pack_mask(torch.ones(40, dtype=torch.bool))),
     "edit 1 .*holds 40 bits"),
    ("mask not a string", _set(["edits", 2, "mask"], 12), "edit 2 cannot be replayed"),
    ("mask missing", lambda d: (d["edits"][1].pop("mask"), d)[1], "edit 1 cannot be replayed.*mask"),
    ("empty mask", _set(["edits", 1, "mask"], pack_mask(torch.zeros(107, dtype=torch.bool))), "selection is empty"),
    ("unknown param", _set(["edits", 1, "params", "spin"], 3), "edit 1 .*bad parameters"),
    ("params not a dict", _set(["edits", 1, "params"], [1, 2]), "edit 1 .*bad parameters"),
    ("translate too short", _set(["edits", 1, "params", "translate"], [1.0, 2.0]), "edit 1 .*translate"),
    ("translate a string", _set(["edits", 1, "params", "translate"], "up"), "edit 1 .*translate"),
    ("scale zero", _set(["edits", 1, "params", "scale"], 0), "edit 1 .*positive scale"),
    ("yaw a string", _set(["edits", 1, "params", "yaw_deg"], "left"), "edit 1 cannot be replayed"),
    ("colour out of range", _set(["edits", 2, "params", "color"], [2, 0, 0]), "edit 2 .*color"),
    ("colour missing", lambda d: (d["edits"][2]["params"].pop("color"), d)[1], "edit 2 .*color"),
    ("mode unknown", _set(["edits", 2, "params", "mode"], "paint"), "edit 2 .*recolor mode"),
    ("amount a string", _set(["edits", 2, "params", "amount"], "lots"), "edit 2 cannot be replayed"),
    ("payload missing", lambda d: (d["edits"][0].pop("payload"), d)[1], "edit 0 cannot be replayed.*payload"),
    ("payload not a dict", _set(["edits", 0, "payload"], [1]), "edit 0 cannot be replayed"),
    ("payload not base64", _set(["edits", 0, "payload", "means"], "%%%"), "edit 0 .*means"),
    ("payload not zlib", _set(["edits", 0, "payload", "means"], "aGVsbG8="), "edit 0 .*means"),
    ("payload n wrong", _set(["edits", 0, "payload", "n"], 8), "edit 0 .*bytes, expected"),
    ("payload n huge", _set(["edits", 0, "payload", "n"], 10**30), "edit 0 .*insert payload"),
    ("payload n negative", _set(["edits", 0, "payload", "n"], -3), "edit 0 .*insert payload"),
    ("payload n a string", _set(["edits", 0, "payload", "n"], "7"), "edit 0 .*insert payload"),
    ("payload sh_bases odd", _set(["edits", 0, "payload", "sh_bases"], 5), "edit 0 .*insert payload"),
]


@pytest.mark.parametrize("name,mutate,message", CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corrupted_logs_raise_edit_error(logged, name, mutate, message):
    scene, data = logged
    EditHistory.from_dict(copy.deepcopy(data), scene)  # the intact log replays
    bad = mutate(copy.deepcopy(data))
    with pytest.raises(EditError, match=message) as info:
        EditHistory.from_dict(json.loads(json.dumps(bad)), scene, source="w/edits.json")
    assert type(info.value) is EditError and isinstance(info.value, WorldgenError)
    assert "w/edits.json" in str(info.value)


def test_history_argument_errors():
    scene = random_scene(20, seed=15)
    with pytest.raises(EditError, match="instances"):
        EditHistory(scene, torch.zeros(19, dtype=torch.int64))
    h = EditHistory(scene)
    with pytest.raises(EditError, match="non-empty scene"):
        h.apply("insert")
    with pytest.raises(EditError, match="non-empty scene"):
        h.apply("insert", other=GaussianScene.empty())
    with pytest.raises(EditError, match="bool selection mask"):
        h.apply("delete", torch.ones(20))  # float, not bool
    with pytest.raises(EditError, match="unknown edit operation"):
        h.apply("explode", torch.ones(20, dtype=torch.bool))
    with pytest.raises(EditError, match="parameters"):
        h.apply("recolor", torch.ones(20, dtype=torch.bool), mode="tint", color=["a", "b", "c"])
    with pytest.raises(EditError, match="parameters"):
        h.apply("transform", torch.ones(20, dtype=torch.bool), translate=[0.0, 0.0, 0.0], yaw_deg=object())
    assert h.done == 0 and h.log == []  # a refused edit leaves no trace
    # numpy and torch scalars are logged as plain numbers: the log saves and replays as applied
    h.apply("recolor", torch.ones(20, dtype=torch.bool), mode="tint", color=np.array([1.0, 0.5, 0.0], np.float32),
            amount=np.float32(0.25))
    h.apply("recolor", torch.ones(20, dtype=torch.bool), mode="hue", hue_deg=torch.tensor(40.0))
    assert h.log[0]["params"]["amount"] == 0.25 and type(h.log[1]["params"]["hue_deg"]) is float
    assert_same_scene(EditHistory.from_dict(json.loads(json.dumps(h.to_dict())), scene).scene, h.scene)
    h.undo()
    h.undo()
    h.apply("insert", other=random_scene(3, seed=1).double())  # a float64 scene is logged as float32
    assert len(h.scene) == 23 and h.scene.means.dtype == torch.float32
    assert_same_scene(EditHistory.from_dict(h.to_dict(), scene).scene, h.scene)


# ---- instances from layout boxes --------------------------------------------------------------------------
def test_assign_instances_from_layout_boxes():
    from worldgen.edit import assign_instances

    chair, lamp = LABEL_IDS["chair"], LABEL_IDS["lamp"]
    layout = Layout(Shell("room", [6.0, 6.0, 3.0]), [
        Box("chair", "#c0392b", [1.0, 1.0, 0.45], [0.5, 0.5, 0.9], 0.0),
        Box("chair", "#27ae60", [-1.0, 0.5, 0.45], [1.0, 0.3, 0.9], 45.0),
        Box("lamp", "#f1c40f", [1.0, -1.5, 0.8], [0.3, 0.3, 1.6], 0.0),
    ])
    c, s = math.cos(math.radians(45)), math.sin(math.radians(45))
    pts = [
        ([1.0, 1.0, 0.45], chair, 0),        # centre of chair 0
        ([1.2, 0.8, 0.1], chair, 0),         # inside chair 0
        ([1.3, 1.0, 0.45], chair, 0),        # 0.05 outside chair 0: within the margin
        ([1.45, 1.0, 0.45], chair, -1),      # 0.2 outside: nobody's
        ([-1.0 + 0.45 * c, 0.5 + 0.45 * s, 0.3], chair, 1),   # along chair 1's rotated long axis
        ([-1.0 + 0.45 * c, 0.5 - 0.45 * s, 0.3], chair, -1),  # same distance across it: outside
        ([1.0, 1.0, 0.45 + 0.45 + 0.1], chair, 0),            # 0.1 above chair 0
        ([1.0, 1.0, 0.45], lamp, -1),        # a lamp Gaussian in a chair box: no lamp box near
        ([1.0, -1.5, 0.2], lamp, 2),
        ([1.0, -1.5, 0.2], LABEL_IDS["floor"], -1),  # structure has no instance
    ]
    scene = GaussianScene.from_points(torch.tensor([p for p, _, _ in pts]), torch.full((len(pts), 3), 0.5),
                                      scale=0.02, opacity=0.9, labels=torch.tensor([lab for _, lab, _ in pts]))
    assert assign_instances(scene, layout).tolist() == [want for _, _, want in pts]
    assert assign_instances(scene, layout, margin=0.0).tolist()[2] == -1
    assert assign_instances(scene, None).tolist() == [-1] * len(pts)


def test_phrases_select_generic_objects_by_their_noun():
    from worldgen.edit import EditError, assign_instances, select_phrase

    generic = LABEL_IDS["object"]
    layout = Layout(Shell("outdoor", [20.0, 20.0]), [
        Box("object", "#c0392b", [2.0, 0.0, 0.5], [2.0, 1.0, 1.0], 0.0, name="hammock"),
        Box("object", "#2e6fd1", [-2.0, 0.0, 0.5], [0.5, 0.5, 1.0], 0.0, name="telescope"),
    ])
    scene = GaussianScene.from_points(torch.tensor([[2.0, 0.0, 0.5], [2.5, 0.2, 0.6], [-2.0, 0.0, 0.5]]),
                                      torch.full((3, 3), 0.5), scale=0.02, opacity=0.9,
                                      labels=torch.full((3,), generic))
    instances = assign_instances(scene, layout)
    assert instances.tolist() == [0, 0, 1]
    for phrase in ("the hammock", "a red hammock", "hammock"):
        assert select_phrase(phrase, scene, instances, layout).mask.tolist() == [True, True, False], phrase
    assert select_phrase("the telescope and the hammock", scene, instances, layout).mask.all()
    with pytest.raises(EditError, match="no zeppelin"):
        select_phrase("a zeppelin", scene, instances, layout)


# ---- a generated world ------------------------------------------------------------------------------------
PROMPT = "a bedroom with a blue bed, a red chair, a green chair and two lamps"


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    import worldgen

    world = worldgen.generate(PROMPT, seed=1, frames=8, resolution=64, lift_steps=6, progress=False, engine="rules")
    return world.save(tmp_path_factory.mktemp("worlds") / "bedroom")


@pytest.fixture
def world(world_dir, tmp_path):
    """A private copy of the generated world folder."""
    return shutil.copytree(world_dir, tmp_path / "bedroom")


def _members(scene, layout, index, margin=0.12):
    """Gaussians of layout object `index` by a direct numpy test: its label, within `margin` of its box,
    and nearer it than any other box of that label."""
    def dist(box):
        c, s = math.cos(math.radians(box.yaw)), math.sin(math.radians(box.yaw))
        d = scene.means.double().numpy() - np.array(box.center)
        local = np.stack([d @ [c, s, 0], d @ [-s, c, 0], d[:, 2]], 1)
        return np.linalg.norm(np.clip(np.abs(local) - np.array(box.size) / 2, 0, None), axis=1)

    box = layout.objects[index]
    same = [i for i, b in enumerate(layout.objects) if b.label == box.label]
    d = np.stack([dist(layout.objects[i]) for i in same], 1)
    mine = d[:, same.index(index)]
    return torch.from_numpy((scene.labels.numpy() == LABEL_IDS[box.label]) & (mine <= margin) & (mine <= d.min(1)))


def test_phrases_select_the_objects_they_name(world):
    from worldgen.edit import WorldEditor

    ed = WorldEditor.open(world)
    layout, scene = ed.layout, ed.scene
    objs = layout.objects
    members = {i: _members(scene, layout, i) for i in range(len(objs))}
    assert torch.equal(ed.history.instances >= 0, torch.stack(list(members.values())).any(0))

    bed = ed.select("the bed")
    (bed_i,) = [i for i, o in enumerate(objs) if o.label == "bed"]
    assert bed.count > 100 and torch.equal(bed.mask, members[bed_i])

    chairs = [i for i, o in enumerate(objs) if o.label == "chair"]
    red = [i for i in chairs if np.argmax(hex_to_rgb(objs[i].color)) == 0]
    green = [i for i in chairs if np.argmax(hex_to_rgb(objs[i].color)) == 1]
    assert len(red) == 1 and len(green) == 1, [o.color for o in objs]
    assert members[red[0]].sum() > 20 and members[green[0]].sum() > 20, "both chairs need Gaussians for this test"
    rgb = scene.rgb()
    assert rgb[members[red[0]]].median(0).values[0] > rgb[members[green[0]]].median(0).values[0]
    for phrase in ("the red chair", "a red chair", "red chair"):
        sel = ed.select(phrase)
        assert torch.equal(sel.mask, members[red[0]]), phrase
        assert not (sel.mask & members[green[0]]).any()
    assert torch.equal(ed.select("the green chair").mask, members[green[0]])
    both = members[red[0]] | members[green[0]]
    for phrase in ("two chairs", "the chairs", "all chairs", "both chairs"):
        assert torch.equal(ed.select(phrase).mask, both), phrase
    one = ed.select("the chair")  # ambiguous: the larger one, with a warning
    assert torch.equal(one.mask, max((members[i] for i in chairs), key=lambda m: int(m.sum())))
    assert one.warnings and "all" in one.warnings[0]

    lamps = [i for i, o in enumerate(objs) if o.label == "lamp"]
    seen = [i for i in lamps if members[i].any()]
    assert len(lamps) == 2 and seen, "no lamp got Gaussians"
    want = torch.stack([members[i] for i in seen]).any(0)
    for phrase in ("all lamps", "the lamps", "every lamp"):
        assert torch.equal(ed.select(phrase).mask, want), phrase

    for phrase, label in (("the walls", "wall"), ("the floor", "floor"), ("the wall", "wall")):
        sel = ed.select(phrase)
        assert sel.count > 100 and torch.equal(sel.mask, scene.labels == LABEL_IDS[label]), phrase
    floor_lamp = ed.select("the floor lamp")  # a lamp, not the floor
    assert floor_lamp.count > 0 and not (floor_lamp.mask & ~want).any() and floor_lamp.objects[0].startswith("lamp")
    sel = ed.select("the bed and the walls")
    assert torch.equal(sel.mask, members[bed_i] | (scene.labels == LABEL_IDS["wall"]))


def test_colour_phrases_use_the_made_colour_until_an_object_is_recoloured(world):
    # Shaded, several-material splats are a weak guide to "the red chair"; the layout records the
    # colour each object was made with. Once recoloured, the object goes by what it shows.
    from worldgen.edit import WorldEditor

    ed = WorldEditor.open(world)
    objs = ed.layout.objects
    red, green = (next(i for i, o in enumerate(objs) if o.label == "chair" and np.argmax(hex_to_rgb(o.color)) == k)
                  for k in (0, 1))
    assert torch.allclose(ed._made_colour(red), torch.tensor(hex_to_rgb(objs[red].color)))
    red_mask = ed.select("the red chair").mask
    assert torch.equal(red_mask, ed.history.instances == red)
    ed.recolor(ed.select("the green chair"), mode="replace", color="#2040d0")
    assert ed._made_colour(green) is None and ed._made_colour(red) is not None
    assert torch.equal(ed.select("the blue chair").mask, ed.history.instances == green)
    assert torch.equal(ed.select("the red chair").mask, red_mask)
    ed.undo()
    assert ed._made_colour(green) is not None


def test_phrases_matching_nothing_say_what_the_world_holds(world):
    from worldgen.edit import WorldEditor

    ed = WorldEditor.open(world)
    absent = ("the car", "a hammock", "", "   ") + (() if (ed.scene.labels == LABEL_IDS["ceiling"]).any() else
                                                     ("the ceiling",))
    for phrase in absent:
        with pytest.raises(EditError) as info:
            ed.select(phrase)
        msg = str(info.value)
        assert ("bed" in msg and "chair" in msg) or "empty" in msg, msg
    with pytest.raises(EditError, match="no car"):
        ed.select("the car")
    with pytest.raises(EditError, match="characters"):  # refused by its length, before it is parsed
        ed.select("the red chair " * 80_000)
    with pytest.raises(EditError):
        ed.select(None)
    with pytest.raises(EditError, match="unknown labels"):
        ed.select(labels=["dragon"])
    with pytest.raises(EditError, match="no Gaussians"):
        ed.select(box=([100.0, 100.0, 100.0], [0.1, 0.1, 0.1]))
    lab = ed.select(labels=["bed", LABEL_IDS["lamp"]])
    assert torch.equal(lab.mask, (ed.scene.labels == LABEL_IDS["bed"]) | (ed.scene.labels == LABEL_IDS["lamp"]))
    bed = [o for o in ed.layout.objects if o.label == "bed"][0]
    box = ed.select(box=(bed.center, [2.0, 1.0, 0.5], 30.0))
    assert box.count > 10 and torch.equal(box.mask, select_box(ed.scene, bed.center, [2.0, 1.0, 0.5], 30.0))
    sph = ed.select(sphere=([0.0, 0.0, 0.0], 1.5))
    assert torch.equal(sph.mask, ed.scene.means.norm(dim=1) <= 1.5)


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_edit_save_reopen_keeps_scene_and_history(world, tmp_path):
    from worldgen.edit import WorldEditor

    original = load_scene(world / "scene.ply")
    ed = WorldEditor.open(world)
    bed = ed.select("the bed")
    ed.recolor(bed, mode="replace", color="#c0392b")
    new, target = ed.scene.rgb()[bed.mask].double().numpy(), np.array(hex_to_rgb("#c0392b"))
    f = new / target  # the new colour, scaled by each Gaussian's own shading
    ok = new.max(1) < 0.999
    assert ok.mean() > 0.5 and np.allclose(f[ok], f[ok, :1], rtol=1e-3, atol=1e-5)
    chair = ed.select("the green chair")
    ed.transform(chair, translate=(0.2, 0.0, 0.0), yaw_deg=15)
    ed.delete(ed.select("the red chair"))
    ed.undo()
    assert ed.history.done == 2 and len(ed.history.log) == 3
    edited, instances = ed.scene, ed.history.instances
    path = ed.save()
    assert path == world and not list(world.parent.glob(".bedroom*"))
    assert_same_scene(load_scene(world / "scene.ply"), edited)
    assert_same_scene(load_scene(world / "scene.base.ply"), original)
    manifest = json.loads((world / "world.json").read_text())
    assert manifest["files"]["scene_base"] == "scene.base.ply" and manifest["files"]["edits"] == "edits.json"
    assert manifest["edits"]["done"] == 2 and manifest["edits"]["count"] == 3

    again = WorldEditor.open(world)
    assert again.history.done == 2 and len(again.history.log) == 3
    assert_same_scene(again.scene, edited)
    assert torch.equal(again.history.instances, instances)
    assert_same_scene(again.history.base, original)
    assert_same_scene(again.redo(), ed.redo())
    assert len(again.scene) < len(original)
    again.undo()
    again.undo()
    again.undo()
    assert_same_scene(again.scene, original)
    again.save()  # a second save keeps the base as it was
    assert_same_scene(load_scene(world / "scene.base.ply"), original)
    assert_same_scene(load_scene(world / "scene.ply"), original)
    assert WorldEditor.open(world).history.done == 0

    (world / "edits.json").write_text("{not json")
    with pytest.raises(EditError, match="edits.json"):
        WorldEditor.open(world)


def test_derived_files_follow_the_edited_scene(world, tmp_path):
    """After an edit the mesh, collider, flythrough and metrics are marked stale, never silently old;
    `refresh` (and a glb export) rebuilds them from the edited splats."""
    import subprocess
    import sys

    import trimesh

    from worldgen.edit import WorldEditor
    from worldgen.export import export_world
    from worldgen.world import load_world

    before = json.loads((world / "world.json").read_text())
    assert before["stale"] == [] and "mesh" in before["files"]
    old_mesh = trimesh.load(export_world(load_world(world), "glb", tmp_path / "before.glb", axes="world"), force="mesh")
    ed = WorldEditor.open(world)
    ed.delete(ed.select("the bed"))
    ed.save()
    stale = json.loads((world / "world.json").read_text())["stale"]
    assert set(stale) == {"mesh", "collider", "flythrough", "metrics"} & ({"metrics"} | set(before["files"]))
    glb = export_world(load_world(world), "glb", tmp_path / "edited.glb", axes="world")  # rebuilt on export
    after = json.loads((world / "world.json").read_text())
    assert "mesh" not in after["stale"] and "collider" not in after["stale"] and "flythrough" in after["stale"]
    new_mesh = trimesh.load(glb, force="mesh")
    assert len(new_mesh.faces) != len(old_mesh.faces)  # the bed is gone from the mesh too
    r = subprocess.run([sys.executable, "-m", "worldgen.cli", "refresh", str(world), "--json"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)["rebuilt"]) == set(after["stale"])
    final = json.loads((world / "world.json").read_text())
    assert final["stale"] == [] and final["metrics"]["heldout_frames"] == before["metrics"]["heldout_frames"]


def test_failed_save_leaves_the_world_as_it_was(world, monkeypatch):
    import worldgen.edit as wedit
    from worldgen.edit import WorldEditor
    from worldgen.errors import OutputError

    ed = WorldEditor.open(world)
    ed.recolor(ed.select("the bed"), mode="hue", hue_deg=90)
    before = _snapshot(world)
    real = wedit.save_scene
    calls = []

    def failing(scene, path, *a, **kw):
        calls.append(path)
        real(scene, path, *a, **kw)  # the edited scene.ply is written into the temporary folder ...
        raise OSError("disk full")  # ... and then the save fails

    monkeypatch.setattr(wedit, "save_scene", failing)
    with pytest.raises(OutputError, match="bedroom: cannot write: disk full"):  # reported, naming the world
        ed.save()
    assert calls and _snapshot(world) == before
    assert sorted(p.name for p in world.parent.iterdir()) == ["bedroom"]  # no temporary folder left
    monkeypatch.setattr(wedit, "save_scene", real)
    ed.save()
    assert WorldEditor.open(world).history.done == 1


def test_stale_selection_and_bad_colours_are_refused(world):
    from worldgen.edit import WorldEditor

    ed = WorldEditor.open(world)
    bed = ed.select("the bed")
    ed.delete(ed.select("the green chair"))
    with pytest.raises(EditError, match="select again"):
        ed.recolor(bed, mode="tint", color=[1, 0, 0])
    with pytest.raises(EditError, match="select again"):
        ed.delete(bed)
    bed = ed.select("the bed")
    with pytest.raises(EditError, match="colour"):
        ed.recolor(bed, mode="replace", color="crimson")
    with pytest.raises(EditError, match="color"):
        ed.recolor(bed, mode="replace", color=[0.5, 0.5])
    assert ed.history.done == 1
    n = len(ed.scene)
    ed.duplicate(bed, translate=(0.0, 0.0, 1.5))
    assert len(ed.scene) == n + bed.count
    np.testing.assert_allclose(ed.scene.means[n:].numpy(), ed.scene.means[:n][bed.mask].numpy() + [0, 0, 1.5],
                               atol=1e-5)
    new = ed.history.instances[n:]
    assert len(torch.unique(new)) == 1 and int(new[0]) > int(ed.history.instances[:n].max())
    assert torch.equal(ed.select("the beds").mask, torch.cat([bed.mask, torch.ones(bed.count, dtype=torch.bool)]))


def test_insert_asset(world):
    from worldgen.edit import WorldEditor

    ed = WorldEditor.open(world)
    n = len(ed.scene)
    lamps_before = ed.select("all lamps").count
    center, size = [1.0, 0.5, 0.4], [0.3, 0.3, 0.8]
    ed.insert_asset("lamp", center=center, size=size, yaw_deg=20.0, color="#ffffff")
    new = ed.scene.subset(slice(n, None))
    assert len(new) > 500
    assert (new.labels == LABEL_IDS["lamp"]).all()
    near = select_box(new, center, [v + 0.1 for v in size], 20.0)  # its surface, a few cm of slack
    assert near.float().mean() > 0.97, near.float().mean()
    inst = ed.history.instances
    assert len(torch.unique(inst[n:])) == 1 and int(inst[n]) not in inst[:n].tolist()
    assert ed.select("all lamps").count == lamps_before + len(new)  # it is a lamp like the others
    ed.undo()
    assert len(ed.scene) == n
    for kw, err in ((dict(label="dragon"), EditError), (dict(label="sky"), EditError),
                    (dict(size=[0.3, 0.3, 5000.0]), WorldgenError), (dict(size=[-0.3, 0.3, 0.5]), WorldgenError),
                    (dict(center=[2000.0, 0.0, 0.5]), WorldgenError), (dict(center=[0.0, 0.0, -5.0]), WorldgenError)):
        args = dict(label="lamp", center=center, size=size) | kw
        with pytest.raises(err):
            ed.insert_asset(**args)
    assert ed.history.done == 0 and len(ed.history.log) == 1


@pytest.mark.slow
def test_regenerate_a_region(world, micro_checkpoint):
    from worldgen.edit import WorldEditor
    from worldgen.regenerate import REGION_MARGIN_M

    ed = WorldEditor.open(world)
    before, inst_before = ed.scene, ed.history.instances
    sel = ed.select("the red chair")
    chair_id = int(inst_before[sel.mask][0])
    pts = before.means[sel.mask]
    lo, hi = pts.amin(0) - 2 * REGION_MARGIN_M, pts.amax(0) + 2 * REGION_MARGIN_M
    after = ed.regenerate(sel, seed=0, checkpoint=micro_checkpoint, lift_steps=3)
    kept = len(before) - sel.count
    assert len(after) > kept
    assert_same_scene(after.subset(slice(0, kept)), before.subset(~sel.mask))  # the rest untouched
    fresh = after.means[kept:]
    assert len(fresh) > 100
    assert ((fresh >= lo - 1e-4) & (fresh <= hi + 1e-4)).all()  # the new Gaussians keep to the region
    assert (ed.history.instances[kept:] == chair_id).all()
    assert torch.equal(ed.history.instances[:kept], inst_before[~sel.mask])
    assert ed.history.log[-1]["op"] == "replace"
    ed.undo()
    assert_same_scene(ed.scene, before)
    # a region no camera sees: the chair lifted 200 m above the room
    ed.transform(ed.select("the red chair"), translate=(0.0, 0.0, 200.0))
    with pytest.raises(EditError, match="cameras"):
        ed.regenerate(ed.select("the red chair"), checkpoint=micro_checkpoint, lift_steps=3)
    assert ed.history.done == 1
