"""The open vocabulary: every object kind has a real asset that fits its box, every scene type
composes and captions readably, new words read as their kinds, and nothing that was read before
reads differently (the label ids and the old phrases are held here as literal data)."""

import math

import numpy as np
import pytest
import torch

from renderer.layout import (FLAT_LABELS, INDOOR_EXTRA_LABELS, LABEL_IDS, LABELS, OBJECT_LABELS, OUTDOOR_EXTRA_LABELS,
                             WALL_LABELS, Box, Layout)
from worldgen.procgen.assets import ASSETS, build_asset
from worldgen.procgen.composers import INDOOR, OUTDOOR, compose, ground_colors
from worldgen.procgen.paths import FreeSpace
from worldgen.procgen.program import LayoutGrammar, parse_program, program_from_layout
from worldgen.procgen.text_rules import DEFAULT_RULES, LEXICON, layout_from_prompt, parse_prompt
from worldgen.procgen.vocab import COLORS, NOUNS, PALETTES, SCENE_SYNONYMS, SCENE_TYPES, SIZES, SYNONYMS

# The integer labels of the first 33 kinds, baked into shipped checkpoints: never to change.
SHIPPED_LABELS = ["floor", "wall", "ceiling", "ground", "sky", "bed", "sofa", "armchair", "chair", "table", "desk",
                  "lamp", "bookshelf", "wardrobe", "tv", "plant", "rug", "fridge", "kitchen_counter", "door", "window",
                  "painting", "pine_tree", "broadleaf_tree", "bush", "rock", "house", "fence", "bench", "street_lamp",
                  "car", "path", "pond"]
NEW_KINDS = INDOOR_EXTRA_LABELS + OUTDOOR_EXTRA_LABELS

# The rule lexicon before the vocabulary grew (phrase -> label, scene or kind of word), taken from
# text_rules.LEXICON at the time: every one of these phrases must still read the same.
OLD_OBJECT_PHRASES = {
    'armchair': 'armchair|armchairs|recliner|recliners',
    'bed': 'bed|beds',
    'bench': 'bench|benches|park bench|park benches',
    'bookshelf': 'bookcase|bookcases|bookshelf|bookshelves|shelf|shelves',
    'broadleaf_tree': 'broadleaf tree|maple|maples|oak|oaks|tree|trees',
    'bush': 'bush|bushes|hedge|hedges|shrub|shrubs',
    'car': 'automobile|automobiles|car|cars|vehicle|vehicles',
    'chair': 'chair|chairs|seat|seats|stool|stools',
    'desk': 'desk|desks|writing desk|writing desks',
    'door': 'door|doors',
    'fence': 'fence|fences',
    'fridge': 'fridge|fridges|refrigerator|refrigerators',
    'house': 'building|buildings|cabin|cabins|cottage|cottages|house|houses',
    'kitchen_counter': 'cabinets|counter|counters|countertop|countertops|kitchen counter|kitchen counters',
    'lamp': 'floor lamp|floor lamps|lamp|lamps|light|lights|table lamp|table lamps',
    'painting': 'artwork|artworks|painting|paintings|picture|pictures|poster|posters',
    'path': 'footpath|footpaths|path|paths|trail|trails|walkway|walkways',
    'pine_tree': 'conifer|conifers|fir|firs|pine|pine tree|pine trees|pines|spruce|spruces',
    'plant': 'houseplant|houseplants|plant|plants|potted plant|potted plants',
    'pond': 'lake|lakes|pond|ponds|pool|pools',
    'rock': 'boulder|boulders|rock|rocks|stone|stones',
    'rug': 'carpet|carpets|rug|rugs',
    'sofa': 'couch|couches|loveseat|loveseats|settee|settees|sofa|sofas',
    'street_lamp': 'lamp post|lamp posts|lamppost|lampposts|street lamp|street lamps|streetlight|streetlights',
    'table': ('coffee table|coffee tables|dining table|dining tables|nightstand|nightstands|'
              'side table|side tables|table|tables'
             ),
    'tv': 'television|televisions|tv|tvs',
    'wardrobe': 'closet|closets|cupboard|cupboards|wardrobe|wardrobes',
    'window': 'window|windows',
}
OLD_SCENE_PHRASES = {
    'backyard': 'backyard|garden|yard',
    'bedroom': 'bed room|bedroom|guest room',
    'dining_room': 'dining|dining room',
    'forest_clearing': 'clearing|forest|forest clearing|woodland|woods',
    'kitchen': 'kitchen|kitchenette',
    'living_room': 'family room|living|living room|lounge|room|sitting room',
    'office': 'home office|office|studio|study|workspace',
    'park': 'meadow|park|playground',
    'street': 'neighborhood|neighbourhood|road|street|town',
}
OLD_OTHER_PHRASES = {
    'color': ('beige|black|blue|brown|burgundy|charcoal|cream|crimson|dark blue|dark green|'
              'emerald|golden|gray|green|grey|ivory|light blue|lime|maroon|navy|olive|orange|pink|'
              'purple|red|scarlet|silver|sky blue|tan|teal|timber|turquoise|violet|walnut|white|'
              'wood|wooden|yellow'
             ),
    'number': ('a|an|couple|dozen|eight|eleven|few|five|four|lots|many|nine|one|pair|seven|'
               'several|single|six|some|ten|three|twelve|two'
              ),
    'relation': ('across from|against a wall|against the wall|along|along the wall|'
                 'along the walls|alongside|around|atop|before|below|beneath|beside|besides|'
                 'by the wall|close to|facing|in a corner|in corners|in front of|in the center|'
                 'in the center of the room|in the centre|in the corner|in the corners|'
                 'in the middle|in the middle of the room|near|next to|on|on the wall|'
                 'on the walls|on top of|opposite|under|underneath'
                ),
    'size': 'big|giant|huge|large|little|long|low|narrow|short|small|tall|tiny|wide',
}


def _old(table: dict) -> dict[str, str]:
    return {phrase: value for value, phrases in table.items() for phrase in "".join(phrases).split("|")}


def test_the_first_33_label_ids_never_change_and_new_kinds_come_after():
    assert LABELS[:33] == SHIPPED_LABELS and all(LABEL_IDS[name] == i for i, name in enumerate(SHIPPED_LABELS))
    assert len(set(LABELS)) == len(LABELS) and LABELS[-1] == "object"
    assert OBJECT_LABELS == LABELS[5:] and len(OBJECT_LABELS) >= 62
    assert all(LABEL_IDS[k] >= 33 for k in NEW_KINDS)


def test_old_phrases_read_as_before():
    old = {**{p: ("object", v) for p, v in _old(OLD_OBJECT_PHRASES).items()},
           **{p: ("scene", v) for p, v in _old(OLD_SCENE_PHRASES).items()},
           **{p: (v, None) for p, v in _old(OLD_OTHER_PHRASES).items()}}
    assert len(old) >= 300
    for phrase, (kind, value) in old.items():
        entry = LEXICON[tuple(phrase.split())]
        assert entry[0] == kind, phrase
        if kind == "object":
            assert entry[1][0] == value, phrase
        elif kind == "scene":
            assert entry[1] == value, phrase
    # and whole prompts in the old words still read as they did
    read = lambda text: (parse_prompt(text).scene_type, [(r.label, r.count) for r in parse_prompt(text).requests])  # noqa: E731
    assert read("an office with a desk and a chair") == ("office", [("desk", 1), ("chair", 1)])
    assert read("a playground with two benches") == ("park", [("bench", 2)])
    assert read("a town with a house and a lamp post") == ("street", [("house", 1), ("street_lamp", 1)])
    assert read("a room with a floor lamp and a nightstand") == ("living_room", [("lamp", 1), ("table", 1)])
    assert read("a square table and two lights") == (None, [("table", 1), ("lamp", 2)])


def test_every_kind_has_words_sizes_colours_and_a_placement():
    for label in OBJECT_LABELS:
        assert label in ASSETS and label in SIZES and PALETTES[label], label
        assert all(name in COLORS for name in PALETTES[label]), label
        assert all(0 < lo <= hi for lo, hi in SIZES[label]), label
        if label != "object":  # the generic kind goes by the noun its box records
            assert label in NOUNS, label
    for label in NEW_KINDS:
        rule = DEFAULT_RULES.get(label, "anywhere")
        assert rule.partition(":")[0] in ("wall", "corner", "center", "anywhere", "edge", "wall_mount", "ceiling", "on",
                                          "front"), label
        assert rule.partition(":")[2] in ("",) + tuple(OBJECT_LABELS), label
    assert {"mirror", "whiteboard", "blackboard", "clock", "curtain"} <= WALL_LABELS
    assert FLAT_LABELS == {"rug", "path", "pond"}


@pytest.mark.parametrize("label", NEW_KINDS + ["object"])  # the first 28 kinds: tests/test_procgen.py
def test_every_new_kind_builds_a_multi_part_asset_inside_its_box(label):
    for seed, pick in ((0, 0), (1, 1), (2, None)):
        size = [float(r[pick] if pick is not None else np.mean(r)) for r in SIZES[label]]
        color = COLORS[PALETTES[label][seed % len(PALETTES[label])]]
        box = Box(label, color, [2.0, 1.0, size[2] / 2], size, 37.0)
        parts = build_asset(box, np.random.default_rng(seed))
        assert len(parts) >= 3, label  # several parts, not a plain box
        assert sum(len(p.mesh.faces) for p in parts) >= 36
        v = np.concatenate([p.mesh.vertices for p in parts])
        assert np.isfinite(v).all()
        c, s = math.cos(math.radians(-37)), math.sin(math.radians(-37))
        local = (v[:, :2] - [2.0, 1.0]) @ np.array([[c, s], [-s, c]])
        assert (np.abs(local) <= np.array(size[:2]) / 2 + 0.05).all(), label
        assert v[:, 2].min() >= -1e-6 and v[:, 2].max() <= size[2] + 0.05, label
        assert any(np.allclose(p.rgb, box.rgb, atol=0.02) for p in parts), label
        for p in parts:
            assert p.mesh.faces.min() >= 0 and p.mesh.faces.max() < len(p.mesh.vertices)
        # the silhouette spans most of the box's width and height, so the kind reads at its size
        assert local[:, 0].max() - local[:, 0].min() >= 0.5 * size[0] and v[:, 2].max() >= 0.6 * size[2], label


def test_new_nouns_and_synonyms_read_as_their_kinds():
    old = _old(OLD_OBJECT_PHRASES)
    words = {(singular, label, False) for label, (singular, _) in NOUNS.items() if label in NEW_KINDS}
    words |= {(plural, label, True) for label, (_, plural) in NOUNS.items() if label in NEW_KINDS}
    words |= {(word, label, word.endswith("s") and not word.endswith("ss")) for word, label in SYNONYMS.items() if word not in old}
    assert len(words) >= 150
    for word, label, is_plural in sorted(words):
        text = f"two red {word}" if is_plural else f"a red {word}"
        parsed = parse_prompt(text)
        assert [(r.label, r.count, r.color) for r in parsed.requests] == [(label, 2 if is_plural else 1, COLORS["red"])], text
        assert parsed.ignored == [], text


def test_new_scene_words_read_as_their_scene_types():
    assert len(SCENE_TYPES) >= 15
    for key, (name, _) in SCENE_TYPES.items():
        assert parse_prompt(f"a {name} with a bench").scene_type == key
    for word, key in SCENE_SYNONYMS.items():
        if word not in _old(OLD_SCENE_PHRASES):
            assert parse_prompt(f"a {word} with a bench").scene_type == key, word
    assert parse_prompt("a shore with palm trees and a boat").scene_type == "beach"
    assert parse_prompt("a coffee shop with four tables").scene_type == "cafe"


@pytest.mark.parametrize("scene_type", sorted(SCENE_TYPES))
def test_every_scene_type_composes_and_its_caption_reads_back(scene_type):
    specs = INDOOR[scene_type][2] if scene_type in INDOOR else OUTDOOR[scene_type][3]
    for seed in range(5):
        layout, relations = compose(scene_type, seed)
        Layout.from_dict(layout.to_dict(), f"{scene_type} {seed}")  # valid by the schema's own checks
        assert len(layout.objects) >= 4 and {o.label for o in layout.objects} <= {s.label for s in specs}
        parsed = parse_prompt(layout.caption)
        assert parsed.scene_type == scene_type and parsed.ignored == [], layout.caption
        read: dict[str, int] = {}
        for r in parsed.requests:
            read[r.label] = read.get(r.label, 0) + r.count
        assert read == layout.counts(), layout.caption
        # and the program of the layout is a valid program that reads back to the same groups
        program = parse_program(program_from_layout(layout, relations))
        assert program.scene == scene_type and sum(r.count for r in program.requests) == len(layout.objects)


def test_outdoor_scenes_keep_to_outdoor_kinds_and_their_own_ground():
    indoor_only = {s.label for v in INDOOR.values() for s in v[2]} - {s.label for v in OUTDOOR.values() for s in v[3]}
    for name in ("beach", "campsite", "farm", "town_square", "play_area", "downtown", "desert"):
        assert not {s.label for s in OUTDOOR[name][3]} & indoor_only, name  # text_rules.default_scene counts on it
    beach, _ = compose("beach", 0)
    assert beach.shell.ground_color in ground_colors("beach") and beach.shell.ground_color not in ground_colors("park")
    lay, _ = layout_from_prompt("a desert with three cacti", seed=0)
    assert lay.shell.ground_color in ground_colors("desert") and lay.counts()["cactus"] == 3


def test_new_placement_rules_put_things_where_they_belong():
    for seed in range(3):
        bath, _ = compose("bathroom", seed)
        sinks = [o for o in bath.objects if o.label == "sink"]
        for m in (o for o in bath.objects if o.label == "mirror"):  # over a sink, on its wall
            assert any(m.z_range[0] > s.z_range[1] and np.linalg.norm(np.subtract(m.center[:2], s.center[:2])) < s.size[1]
                       for s in sinks)
        room, _ = compose("classroom", seed)
        board = next(o for o in room.objects if o.label == "blackboard")
        desks = [o for o in room.objects if o.label == "desk" and o.size[0] == 0.7]
        assert len(desks) >= 4 and all(abs((o.yaw - board.yaw + 180) % 360 - 180) < 1e-6 for o in desks)  # rows face it
        for lamp in (o for o in room.objects if o.label == "ceiling_lamp"):
            assert lamp.z_range[1] == pytest.approx(room.shell.size[2], abs=0.01)
        free = FreeSpace(room)  # a ceiling lamp hangs above every camera: the floor under it stays free
        lamp = next((o for o in room.objects if o.label == "ceiling_lamp"), None)
        under = [o for o in room.objects if o is not lamp and o.z_range[0] < 1.95
                 and np.linalg.norm(np.subtract(o.center[:2], lamp.center[:2])) < 1.5] if lamp else [1]
        if not under and free.free.any():
            assert free.is_free(lamp.center)
        town, _ = compose("downtown", seed)
        road = next(o for o in town.objects if o.label == "path")
        along = np.array([-math.sin(math.radians(road.yaw)), math.cos(math.radians(road.yaw))])  # the road's long axis
        for v in (o for o in town.objects if o.label in ("bus", "truck", "car")):
            heading = np.array([math.cos(math.radians(v.yaw)), math.sin(math.radians(v.yaw))])
            assert abs(heading @ along) > 0.999 and v.z_range[0] == pytest.approx(road.z_range[1])
        camp, _ = compose("campsite", seed)
        fire = next(o for o in camp.objects if o.label == "campfire")
        for log in (o for o in camp.objects if o.label == "log"):  # round the fire, facing it
            d = np.subtract(fire.center[:2], log.center[:2])
            front = -np.array([-math.sin(math.radians(log.yaw)), math.cos(math.radians(log.yaw))])
            assert front @ d / np.linalg.norm(d) > 0.999


def test_chairs_round_a_table_face_it():
    for seed in range(3):
        layout, _ = compose("dining_room", seed)
        table = next(o for o in layout.objects if o.label == "table")
        for chair in (o for o in layout.objects if o.label == "chair"):
            back = np.array([-math.sin(math.radians(chair.yaw)), math.cos(math.radians(chair.yaw))])  # local +y
            to_table = np.subtract(table.center[:2], chair.center[:2])
            assert back @ to_table < 0  # the back is away from the table, the seat's front towards it


def test_outdoor_things_placed_next_to_solid_things_keep_their_clearance():
    lay, parsed = layout_from_prompt("a park with a bench next to a tree and a trash can next to the bench", seed=0)
    counts = lay.counts()
    assert counts["bench"] == counts["broadleaf_tree"] == counts["trash_can"] == 1
    assert not [w for w in parsed.warnings if "placed freely" in w or "no free spot" in w]
    bench, tree = (next(o for o in lay.objects if o.label == k) for k in ("bench", "broadleaf_tree"))
    assert np.linalg.norm(np.subtract(bench.center[:2], tree.center[:2])) < (bench.size[0] + tree.size[0]) / 2 + 1.0


def test_the_layout_grammar_knows_every_kind():
    grammar = LayoutGrammar()
    for label in OBJECT_LABELS:
        assert grammar.allows(f"scene beach\n{label} red 2 near palm_tree\nend"), label
    assert not grammar.allows("scene beach\nunicorn red 1\nend")


def test_models_built_with_fewer_labels_read_newer_ids_as_unknown():
    from rtfm.frame_model import FrameModel
    from rtfm.inputs import layout_grid

    torch.manual_seed(0)
    model = FrameModel(resolution=16, dim=16, depth=1, heads=2, encoder_depth=1, refine_channels=4, image_size=16,
                       image_patch=8, layout_grid=(8, 8, 4), text_dim=8, max_memory=2, num_labels=33).eval()
    pixels = torch.tensor([[[-1, 5, 33, LABEL_IDS["object"]]]])
    emb = model._labels(pixels)
    assert torch.equal(emb[..., 2], emb[..., 3]) and torch.equal(emb[..., 0], emb[..., 3])
    lay = Layout.from_dict({"version": 1, "shell": {"kind": "outdoor", "size": [6, 6]}, "objects": [
        {"label": "tent", "color": "#e67e22", "center": [0, 0, 0.7], "size": [2.4, 2.4, 1.4]}]})
    grid = layout_grid(lay, (8, 8, 4))
    assert grid.label.max() == LABEL_IDS["tent"] > 33
    label = grid.label[None]
    pos = grid.centres.permute(3, 0, 1, 2)[None]
    with torch.no_grad():
        newer = model.encoder._layout(label, grid.rgb[None], pos)
        unknown = model.encoder._layout(torch.where(label >= 33, torch.full_like(label, 33), label), grid.rgb[None], pos)
    assert torch.isfinite(newer).all() and torch.equal(newer, unknown)
