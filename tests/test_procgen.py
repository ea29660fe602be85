import json

import numpy as np
import pytest
import torch
import trimesh

from renderer import Camera
from renderer.guide import GuideRenderer
from renderer.layout import LABEL_IDS, Box, Layout
from renderer.raycast import raycast
from worldgen.procgen.assets import ASSETS, build_asset
from worldgen.procgen.composers import compose
from worldgen.procgen.dataset import ProcgenStream
from worldgen.procgen.paraphrase import describe, request
from worldgen.procgen.paths import PATH_KINDS, FreeSpace, camera_path
from worldgen.procgen.text_rules import layout_from_prompt, parse_prompt
from worldgen.procgen.vocab import COLORS, SCENE_TYPES, SIZES
from worldgen.procgen.world import build_world


@pytest.mark.parametrize("label", sorted(ASSETS))
def test_every_asset_fills_its_box(label):
    rng = np.random.default_rng(0)
    size = [float(np.mean(r)) for r in SIZES[label]]
    box = Box(label, "#3366cc", [1.0, -2.0, size[2] / 2], size, 30.0)
    parts = build_asset(box, rng)
    assert len(parts) >= 1 and sum(len(p.mesh.faces) for p in parts) >= 12
    v = np.concatenate([p.mesh.vertices for p in parts])
    # In the box frame every vertex lies inside the box (a little slack for handles and knobs).
    c, s = np.cos(np.radians(-30)), np.sin(np.radians(-30))
    local = (v[:, :2] - [1.0, -2.0]) @ np.array([[c, s], [-s, c]])
    assert (np.abs(local) <= np.array(size[:2]) / 2 + 0.05).all()
    assert v[:, 2].min() >= -1e-6 and v[:, 2].max() <= size[2] + 0.05
    # ... and the layout colour is used for some part.
    assert any(np.allclose(p.rgb, box.rgb, atol=0.02) for p in parts)


def test_every_asset_builds_in_odd_boxes():
    # A layout file or an editor insert can give any label any box: flat, thin, tiny, huge. Every
    # builder makes finite geometry for each (a plant in a 3 x 3 x 0.3 m box once raised ValueError).
    shapes = [(3, 3, 0.3), (0.3, 0.3, 3), (0.05, 0.05, 0.05), (20, 20, 20), (5, 0.1, 1), (0.1, 5, 1), (1, 1, 0.02)]
    for label in sorted(ASSETS):
        for size in shapes:
            parts = build_asset(Box(label, "#3366cc", [0.0, 0.0, size[2] / 2], list(size), 0.0), np.random.default_rng(1))
            v = np.concatenate([p.mesh.vertices for p in parts])
            assert len(v) and np.isfinite(v).all(), (label, size)


def test_flat_objects_follow_hilly_ground():
    # A 20 m path on a hillside stood at the lowest ground under it, so its uphill end was buried
    # (its splats then read as ground). Flat objects now follow the terrain.
    layout = Layout.from_dict({"version": 1, "shell": {"kind": "outdoor", "size": [30.0, 30.0], "terrain": "hilly"},
                               "objects": [{"label": "path", "color": "#9a8f80", "center": [6.0, 2.0, 0.015],
                                            "size": [2.0, 20.0, 0.03], "yaw": 0.0}]})
    world = build_world(layout, seed=0)
    rays = np.array([[x, y, 5.0, 0, 0, -1] for x in np.linspace(5.5, 6.5, 5) for y in np.linspace(-7, 11, 19)], np.float32)
    import open3d as o3d

    hit = world.scene.cast_rays(o3d.core.Tensor(rays))["primitive_ids"].numpy()
    assert (world.label[hit] == LABEL_IDS["path"]).all()  # seen from above, the path everywhere


@pytest.mark.parametrize("scene_type", sorted(SCENE_TYPES))
def test_composers_make_valid_captioned_layouts(scene_type):
    lay, _ = compose(scene_type, seed=3)
    assert len(lay.objects) >= 4
    Layout.from_dict(lay.to_dict())  # valid by the schema's own checks
    assert lay.caption.startswith(("a ", "an ")) and SCENE_TYPES[scene_type][0] in lay.caption
    again, _ = compose(scene_type, seed=3)
    assert again.to_json() == lay.to_json()


def test_text_rules_counts_colours_sizes_relations():
    lay, parsed = layout_from_prompt("A bedroom with 2 blue beds, three #ff8800 chairs, a big wooden wardrobe "
                                     "and a white lamp on the desk, plus glittering unicorns", seed=1)
    counts = lay.counts()
    assert lay.scene_type == "bedroom"
    assert counts["bed"] == 2 and counts["chair"] == 3 and counts["wardrobe"] == 1 and counts["desk"] == 1 and counts["lamp"] == 1
    assert all(o.color == "#2e6fd1" for o in lay.objects if o.label == "bed")
    assert all(o.color == "#ff8800" for o in lay.objects if o.label == "chair")
    desk = next(o for o in lay.objects if o.label == "desk")
    lamp = next(o for o in lay.objects if o.label == "lamp")
    assert lamp.z_range[0] == pytest.approx(desk.z_range[1]) and lamp.color == "#f2f2ee"
    wardrobe = next(o for o in lay.objects if o.label == "wardrobe")
    assert wardrobe.size[2] > SIZES["wardrobe"][2][1]  # "big"
    assert parsed.ignored == ["glittering", "unicorns"]


def test_text_rules_synonyms_and_outdoor_default():
    lay, parsed = layout_from_prompt("four oaks, a couple of boulders and a lamppost", seed=0, complete=False)
    assert lay.shell.kind == "outdoor" and parsed.ignored == []
    assert lay.counts() == {"broadleaf_tree": 4, "rock": 2, "street_lamp": 1}


def test_text_rules_oak_as_a_colour_around_and_an_article_before_a_target():
    read = lambda text: [(r.label, r.count, r.color, r.rule) for r in parse_prompt(text).requests]  # noqa: E731
    wooden = COLORS["wooden"]
    assert read("an oak table and two oaks") == [("table", 1, wooden, None), ("broadleaf_tree", 2, None, None)]
    assert read("three oak trees") == [("broadleaf_tree", 3, None, None)]  # oak trees are trees, not wooden ones
    assert read("eight chairs around the table") == [("chair", 8, None, "near:table"), ("table", 1, None, None)]
    assert read("a rug under a table") == [("rug", 1, None, "under:table"), ("table", 1, None, None)]
    assert read("two chairs next to two tables") == [("chair", 2, None, None), ("table", 2, None, None)]


def test_scene_completion_furnishes_without_contradicting_the_prompt():
    lay, _ = layout_from_prompt("a bedroom with a blue bed and no wardrobe", seed=2)
    asked = [o for o in lay.objects if o.source == "prompt"]
    added = [o for o in lay.objects if o.source == "completion"]
    assert [o.label for o in asked] == ["bed"] and len(added) >= 3
    assert {"bed", "wardrobe"}.isdisjoint(o.label for o in added)  # named kinds keep their count; "no" stays out
    assert Layout.from_dict(json.loads(lay.to_json())).objects == lay.objects  # the source survives the file
    for text in ["a bedroom with only a blue bed", "an empty bedroom with a bed"]:
        assert [o.label for o in layout_from_prompt(text, seed=2)[0].objects] == ["bed"], text
    assert [o.label for o in layout_from_prompt("a bedroom with a bed", seed=2, complete=False)[0].objects] == ["bed"]
    assert layout_from_prompt("", seed=0)[0].objects == []  # nothing asked: nothing completed
    park, _ = layout_from_prompt("a park with a red hammock", seed=0)
    hammock = next(o for o in park.objects if o.label == "object")
    assert hammock.name == "hammock" and hammock.source == "prompt" and "red hammock" in park.caption


def test_text_rules_read_negation_and_only():
    kitchen = parse_prompt("a kitchen with a fridge and no tv or plants")
    assert [r.label for r in kitchen.requests] == ["fridge"] and kitchen.excluded == ["plant", "tv"] and not kitchen.doubts
    desk = parse_prompt("a desk without a chair, not a single lamp")
    assert [r.label for r in desk.requests] == ["desk"] and desk.excluded == ["chair", "lamp"] and desk.complete
    assert not parse_prompt("a bedroom with only a bed").complete and not parse_prompt("an empty office").complete
    assert parse_prompt("not only a bed but a lamp").complete


def test_text_rules_place_unknown_nouns_as_named_generic_objects():
    read = lambda text: [(r.label, r.count, r.name) for r in parse_prompt(text).requests]  # noqa: E731
    assert read("a red hammock by the pond") == [("object", 1, "hammock"), ("pond", 1, "")]
    assert read("two vintage brass telescopes, a sofa") == [("object", 2, "telescope"), ("sofa", 1, "")]
    assert read("zeppelins and a sofa") == [("sofa", 1, "")]  # no determiner, count or colour opened the phrase
    assert read("some zeppelins") == [("object", 2, "zeppelin")]
    assert read("a glass vase on a table") == [("object", 1, "vase"), ("table", 1, "")]  # a material, then its noun
    parsed = parse_prompt("a red hammock")
    assert parsed.requests[0].color == "#c0392b" and "hammock" in parsed.warnings[0] and parsed.ignored == []
    # descriptions, light, surfaces, proper adjectives and other languages never become objects
    for text in ["bathed in warm afternoon light", "grey stone walls", "a cozy Scandinavian feel", "a very quiet mood",
                 "une chambre avec un lit bleu", "a beautifully lit, spacious and airy interior"]:
        assert parse_prompt(text).requests == [], text
    foreign = parse_prompt("une chambre avec un lit bleu")
    assert foreign.warnings and "chambre" in foreign.warnings[-1]


def test_text_rules_survive_hostile_prompts():
    # "¹" and "²" are str.isdigit() but not int(): a count must be decimal digits (found by the editor fuzz)
    for text in ["🌲🌲🏕️", "\x00\x07\x1b[31m a bed", "a" * 10_000, "x " * 5000, "é" * 3000, "😀 a red chair 😀",
                 "¹", "a room with ² chairs"]:
        parsed = parse_prompt(text)
        assert isinstance(parsed.requests, list)
    assert "emoji" in " ".join(parse_prompt("😀 a red chair").warnings)
    assert "control" in " ".join(parse_prompt("a bed\x00").warnings)
    assert "10000 characters" in parse_prompt("a" * 10_000).warnings[0]


def test_text_rules_say_where_word_order_leaves_them_guessing():
    doubts = lambda text: parse_prompt(text).doubts  # noqa: E731
    assert "before the count 'two'" in doubts("a bedroom with a bed in blue and two lamps")[0]
    assert doubts("white lamps, two of them, and a rug")  # a count after its noun lands on the rug
    assert "'except'" in doubts("every kind of chair except the red one")[0]  # negation the rules do not read
    assert "'under'" in doubts("A bedroom with a bed. Under the bed lies a red rug.")[0]
    assert doubts("a lamp that is white") == ["a color word was not followed by an object it could apply to"]
    # what the rules were written for reads without doubts: articles before idioms, relations mid-sentence
    for text in ["a pair of chairs, a few rocks and a dozen bushes", "a rug under the bed; not only a bed but a lamp",
                 "Cozy living room: grey sofa facing a tv, a plant in the corner", "two big red chairs next to a table"]:
        assert doubts(text) == [], text
    rng = np.random.default_rng(0)
    for i, scene in enumerate(SCENE_TYPES):
        layout, relations = compose(scene, i)
        for plain in (True, False):
            assert doubts(describe(layout, relations, rng, plain=plain)[0]) == []
        assert doubts(request(layout, relations, rng)[0]) == []


def test_text_rules_bad_prompts_never_hang():
    lay, parsed = layout_from_prompt("", seed=0)
    assert lay.objects == [] and any("empty" in w for w in parsed.warnings)
    lay, parsed = layout_from_prompt("chair " * 500_000, seed=0)  # about 3 MB
    assert any("only the first 2000" in w for w in parsed.warnings)
    lay, parsed = layout_from_prompt("a room with 99999999 chairs", seed=0)
    assert lay.counts()["chair"] <= 24 and any("at most 24" in w for w in parsed.warnings)
    assert parse_prompt("on the table").ignored == ["on"]
    doubts = parse_prompt("blue two " * 300).doubts  # every count after a colour: listed up to a cap
    assert len(doubts) == 11 and doubts[-1].endswith("more doubts")


def small_room() -> Layout:
    return Layout.from_dict({"version": 1, "scene_type": "bedroom", "shell": {"kind": "room", "size": [4.0, 3.5, 2.7]},
                             "objects": [{"label": "bed", "color": "#2e6fd1", "center": [-0.8, 0.7, 0.5], "size": [1.6, 2.0, 1.0]},
                                         {"label": "wardrobe", "color": "#9a6b3f", "center": [1.4, -1.4, 1.0], "size": [1.0, 0.6, 2.0], "yaw": 180}]})


def test_ray_cast_depth_matches_trimesh_intersection():
    lay = small_room()
    world = build_world(lay, seed=0)
    cam = Camera.look_at([1.2, 1.0, 1.6], [-0.5, -0.5, 0.5], width=64, height=48)
    out = raycast(world, cam)
    mesh = trimesh.Trimesh(world.vertices, world.faces, process=False)
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(0, 48, 300), rng.integers(0, 64, 300)
    K = cam.K.numpy().astype(np.float64)
    d_cam = np.stack([(xs + 0.5 - K[0, 2]) / K[0, 0], (ys + 0.5 - K[1, 2]) / K[1, 1], np.ones(300)], 1)
    R, t = cam.c2w[:3, :3].double().numpy(), cam.c2w[:3, 3].double().numpy()
    dirs = d_cam @ R.T
    locs, ray_idx, _ = trimesh.ray.ray_triangle.RayMeshIntersector(mesh).intersects_location(
        np.repeat(t[None], 300, 0), dirs / np.linalg.norm(dirs, axis=1, keepdims=True), multiple_hits=False)
    depth_ref = np.full(300, np.inf)
    depth_ref[ray_idx] = (locs - t) @ R[:, 2]  # metric z along the optical axis
    assert np.isfinite(depth_ref).all()
    assert np.abs(out["depth"][ys, xs] - depth_ref).max() < 1e-4


def test_ray_cast_labels_instances_and_determinism():
    lay = small_room()
    cam = Camera.look_at([1.0, -0.5, 1.5], [-0.8, 0.7, 0.5], width=32, height=32)
    a = raycast(build_world(lay, seed=4), cam)
    b = raycast(build_world(lay, seed=4), cam)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert a["label"][16, 16] == LABEL_IDS["bed"] and a["instance"][16, 16] == 1
    assert set(np.unique(a["label"])) <= {LABEL_IDS[k] for k in ("floor", "wall", "ceiling", "bed", "wardrobe")}
    assert a["rgb"].dtype == np.float32 and 0 <= a["rgb"].min() and a["rgb"].max() <= 1


def test_guide_render_shows_the_boxes():
    lay = small_room()
    cam = Camera.look_at([1.0, -0.5, 1.5], [-0.8, 0.7, 0.5], width=32, height=32)
    g = GuideRenderer(lay).render(cam)
    assert g["label"][16, 16] == LABEL_IDS["bed"]
    assert np.allclose(g["rgb"][16, 16], lay.objects[0].rgb, atol=1e-6)  # flat layout colour
    assert 0 < g["depth"][16, 16] < 3


@pytest.mark.parametrize("kind", PATH_KINDS)
@pytest.mark.parametrize("scene_type", ["bedroom", "kitchen", "park", "forest_clearing"])
def test_camera_paths_are_collision_free(kind, scene_type):
    lay, _ = compose(scene_type, seed=2)
    free = FreeSpace(lay)
    cams = camera_path(lay, kind, 12, width=32, height=32, seed=5, free=free)
    assert len(cams) == 12
    lo, hi = lay.bounds()
    for c in cams:
        p = c.position.numpy()
        assert free.is_free(p) and (p[:2] > lo[:2]).all() and (p[:2] < hi[:2]).all()
        assert p[2] > lay.shell.ground_height(p[0], p[1]) + 1.0
        if lay.shell.kind == "room":
            assert p[2] < hi[2]
    if kind == "loop":  # A -> B -> A revisits the outbound poses
        for i in range(5):
            assert torch.allclose(cams[i].c2w, cams[len(cams) - 1 - i].c2w, atol=1e-5)


def test_stream_workers_differ_and_repeat_with_the_seed():
    ds = ProcgenStream(resolution=16, frames=3, seed=7, scene_types=["bedroom", "park"], sequences_per_world=2)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    it = iter(loader)
    samples = [next(it) for _ in range(4)]
    assert samples[0]["rgb"].shape == (3, 16, 16, 3) and samples[0]["c2w"].shape == (3, 4, 4)
    assert samples[0]["guide_label"].shape == (3, 16, 16) and isinstance(samples[0]["caption"], str)
    assert not torch.equal(samples[0]["rgb"], samples[1]["rgb"])  # worker 0 and worker 1
    again = next(iter(ProcgenStream(resolution=16, frames=3, seed=7, scene_types=["bedroom", "park"], sequences_per_world=2)))
    assert torch.equal(again["rgb"], samples[0]["rgb"]) and again["caption"] == samples[0]["caption"]


def test_ray_cast_anti_aliasing_is_the_mean_of_shifted_sub_pixel_renders():
    """samples_per_pixel=2 against an independent construction: four renders at the same size whose
    principal points are shifted by a quarter pixel each way. Geometry stays the centre ray's."""
    world = build_world(small_room(), seed=1)
    cam = Camera.look_at([1.2, 1.0, 1.6], [-0.5, -0.5, 0.5], width=40, height=30)
    plain, aa = raycast(world, cam), raycast(world, cam, samples_per_pixel=2)
    for key in ("depth", "normal", "label", "instance"):
        assert np.array_equal(plain[key], aa[key])
    shifted = []
    for dx in (-0.25, 0.25):
        for dy in (-0.25, 0.25):
            K = cam.K.clone()
            K[0, 2] -= dx  # moving the principal point left moves every pixel's ray right by dx pixels
            K[1, 2] -= dy
            shifted.append(raycast(world, Camera(K, cam.c2w, cam.width, cam.height))["rgb"])
    assert np.abs(aa["rgb"] - np.mean(shifted, 0)).max() < 1e-4
    assert np.abs(aa["rgb"] - plain["rgb"]).max() > 0.01  # edges and textures really are filtered
    with pytest.raises(ValueError, match="samples_per_pixel"):
        raycast(world, cam, samples_per_pixel=0)


def test_a_thing_wider_than_every_wall_is_left_out_with_a_warning():
    """bench/lm.py's realistic prompts reached this: a wall spot for an object wider than the wall
    drew from an empty range (numpy's ValueError) before checking the width."""
    from worldgen.procgen.text_rules import ObjectRequest, layout_from_requests

    warnings: list[str] = []
    layout = layout_from_requests("bathroom", [ObjectRequest("wardrobe", 2, None, (8.0, 1.0, 1.0), "wall")], warnings, 0)
    assert not [o for o in layout.objects if o.label == "wardrobe"]
    assert any("did not fit" in w for w in warnings)
