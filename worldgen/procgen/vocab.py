"""Words the procedural engine and the rule-based text -> layout share: colours, object
names and synonyms, default sizes, scene types. One table serves captions and parsing, so
whatever the engine writes, the rules can read back."""

from __future__ import annotations

from renderer.layout import hex_to_rgb

COLORS = {
    "red": "#c0392b", "orange": "#e67e22", "yellow": "#f1c40f", "green": "#27ae60", "blue": "#2e6fd1",
    "purple": "#8e44ad", "pink": "#e895b5", "brown": "#7b4a2a", "black": "#1e1e22", "white": "#f2f2ee",
    "gray": "#8a8d91", "beige": "#d8c8a8", "teal": "#16a0a0", "navy": "#1f3a68", "wooden": "#9a6b3f",
    "dark green": "#1f5a32", "light blue": "#8fc3ea", "olive": "#7a7d32", "maroon": "#7a1f2b", "cream": "#f3e9cf",
}
COLOR_ALIASES = {"grey": "gray", "wood": "wooden", "timber": "wooden", "golden": "yellow", "violet": "purple",
                 "crimson": "red", "scarlet": "red", "turquoise": "teal", "ivory": "cream", "tan": "beige",
                 "silver": "gray", "charcoal": "black", "lime": "green", "emerald": "green", "sky blue": "light blue",
                 "dark blue": "navy", "burgundy": "maroon", "oak": "wooden", "walnut": "brown"}

# label -> (singular, plural) as written in captions
NOUNS = {
    "bed": ("bed", "beds"), "sofa": ("sofa", "sofas"), "armchair": ("armchair", "armchairs"), "chair": ("chair", "chairs"),
    "table": ("table", "tables"), "desk": ("desk", "desks"), "lamp": ("lamp", "lamps"), "bookshelf": ("bookshelf", "bookshelves"),
    "wardrobe": ("wardrobe", "wardrobes"), "tv": ("tv", "tvs"), "plant": ("plant", "plants"), "rug": ("rug", "rugs"),
    "fridge": ("fridge", "fridges"), "kitchen_counter": ("kitchen counter", "kitchen counters"), "door": ("door", "doors"),
    "window": ("window", "windows"), "painting": ("painting", "paintings"), "pine_tree": ("pine tree", "pine trees"),
    "broadleaf_tree": ("tree", "trees"), "bush": ("bush", "bushes"), "rock": ("rock", "rocks"), "house": ("house", "houses"),
    "fence": ("fence", "fences"), "bench": ("bench", "benches"), "street_lamp": ("street lamp", "street lamps"),
    "car": ("car", "cars"), "path": ("path", "paths"), "pond": ("pond", "ponds"),
}
# Extra words (singular and plural) that name a label.
SYNONYMS = {
    "couch": "sofa", "couches": "sofa", "settee": "sofa", "loveseat": "sofa", "recliner": "armchair",
    "stool": "chair", "stools": "chair", "seat": "chair", "seats": "chair", "dining table": "table",
    "coffee table": "table", "side table": "table", "nightstand": "table", "nightstands": "table",
    "writing desk": "desk", "floor lamp": "lamp", "table lamp": "lamp", "light": "lamp", "lights": "lamp",
    "bookcase": "bookshelf", "bookcases": "bookshelf", "shelf": "bookshelf", "shelves": "bookshelf",
    "closet": "wardrobe", "closets": "wardrobe", "cupboard": "wardrobe", "television": "tv", "televisions": "tv",
    "houseplant": "plant", "houseplants": "plant", "potted plant": "plant", "carpet": "rug", "carpets": "rug",
    "refrigerator": "fridge", "refrigerators": "fridge", "counter": "kitchen_counter", "counters": "kitchen_counter",
    "countertop": "kitchen_counter", "cabinets": "kitchen_counter", "picture": "painting", "pictures": "painting",
    "poster": "painting", "posters": "painting", "artwork": "painting", "pine": "pine_tree", "pines": "pine_tree",
    "fir": "pine_tree", "firs": "pine_tree", "spruce": "pine_tree", "conifer": "pine_tree", "conifers": "pine_tree",
    "oak": "broadleaf_tree", "oaks": "broadleaf_tree", "maple": "broadleaf_tree", "maples": "broadleaf_tree",
    "shrub": "bush", "shrubs": "bush", "hedge": "bush", "hedges": "bush", "boulder": "rock", "boulders": "rock",
    "stone": "rock", "stones": "rock", "cottage": "house", "cottages": "house", "cabin": "house", "cabins": "house",
    "building": "house", "buildings": "house", "park bench": "bench", "lamppost": "street_lamp", "lampposts": "street_lamp",
    "streetlight": "street_lamp", "streetlights": "street_lamp", "lamp post": "street_lamp", "lamp posts": "street_lamp",
    "vehicle": "car", "vehicles": "car", "automobile": "car", "walkway": "path", "trail": "path", "footpath": "path",
    "lake": "pond", "pool": "pond",
}

# label -> ((min sx, max sx), (min sy, max sy), (min sz, max sz)) in metres; local x across, y depth.
SIZES = {
    "bed": ((1.4, 1.9), (1.95, 2.15), (0.9, 1.15)), "sofa": ((1.7, 2.4), (0.85, 1.0), (0.8, 0.95)),
    "armchair": ((0.75, 0.95), (0.75, 0.9), (0.8, 0.95)), "chair": ((0.42, 0.5), (0.42, 0.5), (0.85, 0.95)),
    "table": ((0.9, 1.6), (0.7, 1.0), (0.7, 0.76)), "desk": ((1.1, 1.5), (0.55, 0.7), (0.72, 0.76)),
    "lamp": ((0.3, 0.4), (0.3, 0.4), (1.3, 1.7)), "bookshelf": ((0.8, 1.2), (0.3, 0.38), (1.6, 2.0)),
    "wardrobe": ((1.0, 1.6), (0.55, 0.62), (1.9, 2.2)), "tv": ((1.0, 1.4), (0.25, 0.3), (0.6, 0.85)),
    "plant": ((0.4, 0.6), (0.4, 0.6), (0.8, 1.4)), "rug": ((1.6, 2.4), (1.2, 1.8), (0.01, 0.015)),
    "fridge": ((0.6, 0.75), (0.65, 0.72), (1.7, 1.9)), "kitchen_counter": ((1.8, 3.0), (0.6, 0.65), (0.88, 0.92)),
    "door": ((0.85, 0.95), (0.06, 0.08), (2.0, 2.1)), "window": ((1.0, 1.5), (0.06, 0.08), (1.0, 1.3)),
    "painting": ((0.6, 1.1), (0.03, 0.04), (0.45, 0.8)),
    "pine_tree": ((1.8, 2.6), (1.8, 2.6), (4.5, 7.0)), "broadleaf_tree": ((2.6, 3.6), (2.6, 3.6), (4.0, 6.0)),
    "bush": ((0.9, 1.5), (0.9, 1.5), (0.7, 1.1)), "rock": ((0.5, 1.2), (0.5, 1.1), (0.35, 0.8)),
    "house": ((6.0, 8.0), (5.0, 7.0), (5.0, 6.5)), "fence": ((4.0, 8.0), (0.08, 0.1), (1.0, 1.3)),
    "bench": ((1.5, 1.9), (0.55, 0.65), (0.8, 0.9)), "street_lamp": ((0.4, 0.5), (0.4, 0.5), (3.5, 4.5)),
    "car": ((4.0, 4.6), (1.75, 1.9), (1.4, 1.55)), "path": ((1.2, 1.6), (6.0, 12.0), (0.02, 0.03)),
    "pond": ((3.0, 5.0), (2.5, 4.0), (0.05, 0.06)),
}

# Colours a composer picks from, per label (names from COLORS).
PALETTES = {
    "bed": ["blue", "white", "gray", "beige", "green", "navy", "pink", "cream"],
    "sofa": ["gray", "blue", "green", "brown", "beige", "teal", "navy", "red"],
    "armchair": ["red", "gray", "blue", "beige", "green", "yellow", "teal"],
    "chair": ["wooden", "black", "white", "gray", "red", "brown"],
    "table": ["wooden", "brown", "white", "black"], "desk": ["wooden", "white", "black", "brown"],
    "lamp": ["white", "beige", "yellow", "black", "cream"], "bookshelf": ["wooden", "white", "brown", "black"],
    "wardrobe": ["wooden", "white", "brown", "gray"], "tv": ["black", "gray"],
    "plant": ["green", "dark green", "olive"], "rug": ["red", "beige", "blue", "gray", "maroon", "cream"],
    "fridge": ["white", "gray", "black"], "kitchen_counter": ["white", "wooden", "gray", "navy", "green"],
    "door": ["wooden", "white", "brown"], "window": ["white", "black", "brown"],
    "painting": ["blue", "red", "yellow", "green", "orange", "purple", "teal"],
    "pine_tree": ["dark green", "green"], "broadleaf_tree": ["green", "olive", "dark green", "orange"],
    "bush": ["green", "dark green", "olive"], "rock": ["gray", "beige", "brown"],
    "house": ["white", "red", "beige", "yellow", "blue", "cream"], "fence": ["wooden", "white", "brown"],
    "bench": ["wooden", "brown", "green"], "street_lamp": ["black", "gray", "dark green"],
    "car": ["red", "blue", "white", "black", "gray", "yellow", "green"], "path": ["gray", "beige", "brown"],
    "pond": ["blue", "teal", "navy"],
}

SCENE_TYPES = {
    "living_room": ("living room", "indoor"), "bedroom": ("bedroom", "indoor"), "kitchen": ("kitchen", "indoor"),
    "office": ("office", "indoor"), "dining_room": ("dining room", "indoor"),
    "park": ("park", "outdoor"), "forest_clearing": ("forest clearing", "outdoor"), "street": ("street", "outdoor"),
    "backyard": ("backyard", "outdoor"),
}
SCENE_SYNONYMS = {
    "lounge": "living_room", "living": "living_room", "sitting room": "living_room", "family room": "living_room",
    "bed room": "bedroom", "guest room": "bedroom", "kitchenette": "kitchen", "study": "office", "workspace": "office",
    "home office": "office", "studio": "office", "dining": "dining_room", "garden": "backyard", "yard": "backyard",
    "forest": "forest_clearing", "woods": "forest_clearing", "clearing": "forest_clearing", "woodland": "forest_clearing",
    "road": "street", "neighborhood": "street", "neighbourhood": "street", "town": "street", "playground": "park",
    "meadow": "park", "room": "living_room",
}

NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "pair": 2, "couple": 2, "three": 3, "four": 4,
                "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                "several": 3, "some": 2, "few": 3, "many": 6, "lots": 6, "dozen": 12}
COUNT_WORDS = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
               10: "ten", 11: "eleven", 12: "twelve"}


def plural(noun: str) -> str:
    """English plural of a (last) noun word: bench -> benches, shelf -> shelves, rug -> rugs."""
    if noun.endswith(("sh", "ch", "s", "x")):
        return noun + "es"
    if noun.endswith("f"):
        return noun[:-1] + "ves"
    return noun + "s"


def nearest_color_name(hex_color: str) -> str:
    """The COLORS name closest to a hex colour (Euclidean in RGB)."""
    target = hex_to_rgb(hex_color)
    return min(COLORS, key=lambda n: sum((a - b) ** 2 for a, b in zip(hex_to_rgb(COLORS[n]), target)))
