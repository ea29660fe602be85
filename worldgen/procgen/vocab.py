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
    # indoor kinds added with the open vocabulary
    "toilet": ("toilet", "toilets"), "bathtub": ("bathtub", "bathtubs"), "shower": ("shower", "showers"),
    "sink": ("sink", "sinks"), "mirror": ("mirror", "mirrors"), "stove": ("stove", "stoves"),
    "microwave": ("microwave", "microwaves"), "kitchen_island": ("kitchen island", "kitchen islands"),
    "office_chair": ("office chair", "office chairs"), "filing_cabinet": ("filing cabinet", "filing cabinets"),
    "computer": ("computer", "computers"), "whiteboard": ("whiteboard", "whiteboards"), "printer": ("printer", "printers"),
    "dresser": ("dresser", "dressers"), "piano": ("piano", "pianos"), "fireplace": ("fireplace", "fireplaces"),
    "ceiling_lamp": ("ceiling lamp", "ceiling lamps"), "curtain": ("curtain", "curtains"), "clock": ("clock", "clocks"),
    "ottoman": ("ottoman", "ottomans"), "coat_rack": ("coat rack", "coat racks"), "guitar": ("guitar", "guitars"),
    "blackboard": ("blackboard", "blackboards"), "globe": ("globe", "globes"),
    # outdoor kinds added with the open vocabulary
    "traffic_light": ("traffic light", "traffic lights"), "stop_sign": ("stop sign", "stop signs"),
    "mailbox": ("mailbox", "mailboxes"), "trash_can": ("trash can", "trash cans"), "bicycle": ("bicycle", "bicycles"),
    "bus_stop": ("bus stop", "bus stops"), "fire_hydrant": ("fire hydrant", "fire hydrants"), "truck": ("truck", "trucks"),
    "bus": ("bus", "buses"), "flower_bed": ("flower bed", "flower beds"), "palm_tree": ("palm tree", "palm trees"),
    "birch_tree": ("birch tree", "birch trees"), "cactus": ("cactus", "cacti"), "tree_stump": ("tree stump", "tree stumps"),
    "log": ("log", "logs"), "mushroom": ("mushroom", "mushrooms"), "tent": ("tent", "tents"),
    "campfire": ("campfire", "campfires"), "picnic_table": ("picnic table", "picnic tables"),
    "beach_umbrella": ("beach umbrella", "beach umbrellas"), "sun_lounger": ("sun lounger", "sun loungers"),
    "boat": ("boat", "boats"), "fountain": ("fountain", "fountains"), "swing": ("swing", "swings"),
    "slide": ("slide", "slides"), "statue": ("statue", "statues"), "barn": ("barn", "barns"),
    "hay_bale": ("hay bale", "hay bales"), "windmill": ("windmill", "windmills"), "scarecrow": ("scarecrow", "scarecrows"),
    "water_well": ("water well", "water wells"),
    # The generic "object" has no entry: its noun is the box's own name, and the words "object"
    # and "thing" stay out of the lexicon (procgen.nouns reads unknown nouns).
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
    # Synonyms of the kinds added later. None may shadow a phrase the lexicon already had (tests/
    # test_vocabulary.py holds the old readings); some keep an old reading against a new word.
    "log cabin": "house", "computer desk": "desk",
    "loo": "toilet", "wc": "toilet", "tub": "bathtub", "bath": "bathtub", "shower stall": "shower",
    "washbasin": "sink", "basin": "sink", "wash basin": "sink", "cooker": "stove", "oven": "stove", "hob": "stove",
    "cooktop": "stove", "microwave oven": "microwave", "breakfast bar": "kitchen_island", "swivel chair": "office_chair",
    "file cabinet": "filing_cabinet", "monitor": "computer", "pc": "computer", "desktop computer": "computer",
    "copier": "printer", "photocopier": "printer", "bureau": "dresser", "sideboard": "dresser",
    "grand piano": "piano", "upright piano": "piano", "hearth": "fireplace", "mantelpiece": "fireplace",
    "chandelier": "ceiling_lamp", "pendant lamp": "ceiling_lamp", "ceiling light": "ceiling_lamp",
    "pendant light": "ceiling_lamp", "drape": "curtain", "wall clock": "clock", "pouffe": "ottoman",
    "footstool": "ottoman", "hassock": "ottoman", "coat stand": "coat_rack", "hat stand": "coat_rack",
    "hatstand": "coat_rack", "acoustic guitar": "guitar", "chalkboard": "blackboard",
    "traffic signal": "traffic_light", "stoplight": "traffic_light", "postbox": "mailbox", "letterbox": "mailbox",
    "post box": "mailbox", "mail box": "mailbox", "bin": "trash_can", "trash bin": "trash_can",
    "garbage can": "trash_can", "garbage bin": "trash_can", "dustbin": "trash_can", "litter bin": "trash_can",
    "rubbish bin": "trash_can", "waste bin": "trash_can", "bike": "bicycle", "bus shelter": "bus_stop",
    "hydrant": "fire_hydrant", "lorry": "truck", "lorries": "truck", "flowerbed": "flower_bed", "flowers": "flower_bed",
    "palm": "palm_tree", "birch": "birch_tree", "cactuses": "cactus", "saguaro": "cactus", "stump": "tree_stump",
    "fallen log": "log", "toadstool": "mushroom", "bonfire": "campfire", "fire pit": "campfire", "camp fire": "campfire",
    "parasol": "beach_umbrella", "sunshade": "beach_umbrella", "umbrella": "beach_umbrella",
    "deck chair": "sun_lounger", "deckchair": "sun_lounger", "lounger": "sun_lounger", "sunbed": "sun_lounger",
    "rowboat": "boat", "rowing boat": "boat", "canoe": "boat", "kayak": "boat", "taxi": "car", "cab": "car",
    "bonsai": "plant", "bonsai tree": "plant", "lounge chair": "sun_lounger", "dinghy": "boat", "dinghies": "boat",
    "swing set": "swing",
    "swingset": "swing", "sculpture": "statue", "monument": "statue", "hay": "hay_bale", "haystack": "hay_bale",
    "bale": "hay_bale", "wishing well": "water_well",
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
    "toilet": ((0.38, 0.45), (0.65, 0.75), (0.75, 0.85)), "bathtub": ((1.5, 1.8), (0.7, 0.8), (0.5, 0.6)),
    "shower": ((0.8, 1.0), (0.8, 1.0), (2.0, 2.2)), "sink": ((0.5, 0.7), (0.42, 0.5), (0.95, 1.05)),
    "mirror": ((0.5, 0.9), (0.02, 0.03), (0.6, 0.9)), "stove": ((0.6, 0.76), (0.6, 0.65), (0.88, 0.95)),
    "microwave": ((0.45, 0.55), (0.35, 0.4), (0.27, 0.32)), "kitchen_island": ((1.4, 2.2), (0.8, 1.0), (0.88, 0.92)),
    "office_chair": ((0.6, 0.68), (0.6, 0.68), (0.95, 1.15)), "filing_cabinet": ((0.4, 0.5), (0.55, 0.65), (1.0, 1.35)),
    "computer": ((0.5, 0.65), (0.3, 0.36), (0.38, 0.48)), "whiteboard": ((1.2, 1.8), (0.04, 0.06), (0.9, 1.2)),
    "printer": ((0.55, 0.65), (0.55, 0.65), (0.95, 1.15)), "dresser": ((1.0, 1.5), (0.45, 0.55), (0.8, 1.0)),
    "piano": ((1.4, 1.55), (0.55, 0.65), (1.1, 1.3)), "fireplace": ((1.2, 1.6), (0.35, 0.5), (1.0, 1.3)),
    "ceiling_lamp": ((0.4, 0.7), (0.4, 0.7), (0.35, 0.6)), "curtain": ((1.2, 2.0), (0.08, 0.12), (1.6, 2.0)),
    "clock": ((0.3, 0.45), (0.04, 0.06), (0.3, 0.45)), "ottoman": ((0.5, 0.8), (0.5, 0.8), (0.4, 0.48)),
    "coat_rack": ((0.45, 0.55), (0.45, 0.55), (1.7, 1.9)), "guitar": ((0.36, 0.42), (0.3, 0.4), (1.0, 1.1)),
    "blackboard": ((1.8, 3.0), (0.04, 0.06), (1.0, 1.2)), "globe": ((0.45, 0.6), (0.45, 0.6), (0.85, 1.05)),
    "traffic_light": ((0.4, 0.5), (0.4, 0.5), (3.2, 4.0)), "stop_sign": ((0.6, 0.75), (0.1, 0.15), (2.1, 2.5)),
    "mailbox": ((0.22, 0.3), (0.45, 0.55), (1.05, 1.25)), "trash_can": ((0.5, 0.6), (0.5, 0.6), (0.8, 1.0)),
    "bicycle": ((1.6, 1.8), (0.45, 0.6), (0.95, 1.1)), "bus_stop": ((2.5, 3.5), (1.2, 1.6), (2.4, 2.7)),
    "fire_hydrant": ((0.35, 0.45), (0.35, 0.45), (0.6, 0.8)), "truck": ((6.0, 7.5), (2.3, 2.5), (2.8, 3.3)),
    "bus": ((10.0, 12.0), (2.5, 2.6), (3.0, 3.3)), "flower_bed": ((1.5, 3.0), (0.8, 1.5), (0.3, 0.45)),
    "palm_tree": ((3.5, 5.0), (3.5, 5.0), (5.0, 8.0)), "birch_tree": ((2.0, 3.0), (2.0, 3.0), (5.0, 8.0)),
    "cactus": ((0.6, 1.2), (0.4, 0.8), (1.2, 2.5)), "tree_stump": ((0.5, 0.8), (0.5, 0.8), (0.35, 0.6)),
    "log": ((1.8, 3.0), (0.35, 0.5), (0.35, 0.5)), "mushroom": ((0.3, 0.6), (0.3, 0.6), (0.2, 0.4)),
    "tent": ((2.0, 2.6), (2.0, 2.6), (1.2, 1.6)), "campfire": ((0.8, 1.1), (0.8, 1.1), (0.5, 0.8)),
    "picnic_table": ((1.6, 2.0), (1.5, 1.8), (0.72, 0.78)), "beach_umbrella": ((1.8, 2.4), (1.8, 2.4), (2.1, 2.5)),
    "sun_lounger": ((0.6, 0.75), (1.8, 2.0), (0.7, 0.9)), "boat": ((3.0, 4.5), (1.0, 1.4), (0.6, 0.9)),
    "fountain": ((2.5, 4.0), (2.5, 4.0), (1.6, 2.4)), "swing": ((2.0, 2.8), (1.4, 1.8), (2.0, 2.4)),
    "slide": ((0.6, 0.8), (2.8, 3.6), (1.8, 2.2)), "statue": ((0.9, 1.3), (0.9, 1.3), (2.2, 3.0)),
    "barn": ((8.0, 11.0), (6.0, 8.0), (6.0, 7.5)), "hay_bale": ((1.2, 1.5), (1.2, 1.5), (1.0, 1.3)),
    "windmill": ((6.0, 8.0), (3.5, 5.0), (9.0, 12.0)), "scarecrow": ((1.0, 1.3), (0.3, 0.4), (1.7, 2.0)),
    "water_well": ((1.2, 1.6), (1.2, 1.6), (1.8, 2.2)),
    "object": ((0.5, 1.0), (0.5, 1.0), (0.4, 1.0)),  # an unknown noun: a thing of middling size
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
    "toilet": ["white", "cream"], "bathtub": ["white", "cream", "light blue"], "shower": ["white", "gray", "light blue"],
    "sink": ["white", "cream", "gray"], "mirror": ["wooden", "black", "white", "yellow"],
    "stove": ["white", "black", "gray", "cream"], "microwave": ["white", "black", "gray"],
    "kitchen_island": ["white", "wooden", "gray", "navy", "green"], "office_chair": ["black", "gray", "blue", "red"],
    "filing_cabinet": ["gray", "black", "white", "beige"], "computer": ["black", "gray", "white"],
    "whiteboard": ["gray", "white", "black"], "printer": ["white", "gray", "black"],
    "dresser": ["wooden", "white", "brown", "gray", "cream"], "piano": ["black", "brown", "white", "wooden"],
    "fireplace": ["white", "gray", "brown", "beige", "red"], "ceiling_lamp": ["white", "black", "yellow", "cream", "gray"],
    "curtain": ["beige", "white", "blue", "red", "green", "gray", "cream", "maroon"], "clock": ["white", "black", "wooden", "cream"],
    "ottoman": ["gray", "beige", "brown", "blue", "red", "teal"], "coat_rack": ["wooden", "black", "brown"],
    "guitar": ["wooden", "red", "black", "orange"], "blackboard": ["dark green", "black"],
    "globe": ["blue", "light blue", "teal"],
    "traffic_light": ["black", "gray", "dark green"], "stop_sign": ["red"], "mailbox": ["blue", "red", "black", "gray"],
    "trash_can": ["green", "gray", "black", "dark green", "blue"], "bicycle": ["red", "blue", "black", "green", "yellow", "white"],
    "bus_stop": ["gray", "dark green", "black", "red"], "fire_hydrant": ["red", "yellow"],
    "truck": ["white", "red", "blue", "gray", "yellow", "green"], "bus": ["red", "yellow", "blue", "white", "green"],
    "flower_bed": ["red", "yellow", "pink", "purple", "orange", "white"], "palm_tree": ["green", "dark green", "olive"],
    "birch_tree": ["green", "olive", "yellow"], "cactus": ["green", "dark green", "olive"],
    "tree_stump": ["brown", "wooden", "beige"], "log": ["brown", "wooden"], "mushroom": ["red", "brown", "beige", "orange"],
    "tent": ["orange", "green", "blue", "red", "yellow", "olive"], "campfire": ["orange", "red", "yellow"],
    "picnic_table": ["wooden", "brown", "green"], "beach_umbrella": ["red", "blue", "yellow", "orange", "teal", "white"],
    "sun_lounger": ["white", "blue", "wooden", "teal", "yellow"], "boat": ["white", "red", "blue", "wooden", "yellow"],
    "fountain": ["gray", "beige", "white"], "swing": ["red", "blue", "yellow", "green"],
    "slide": ["red", "yellow", "blue", "green", "orange"], "statue": ["gray", "beige", "white", "olive"],
    "barn": ["red", "maroon", "brown", "gray"], "hay_bale": ["yellow", "beige"], "windmill": ["white", "beige", "gray", "brown"],
    "scarecrow": ["blue", "red", "brown", "olive"], "water_well": ["gray", "beige", "brown"],
    "object": ["gray", "brown", "beige", "blue", "red", "green", "white", "black"],
}

SCENE_TYPES = {
    "living_room": ("living room", "indoor"), "bedroom": ("bedroom", "indoor"), "kitchen": ("kitchen", "indoor"),
    "office": ("office", "indoor"), "dining_room": ("dining room", "indoor"),
    "park": ("park", "outdoor"), "forest_clearing": ("forest clearing", "outdoor"), "street": ("street", "outdoor"),
    "backyard": ("backyard", "outdoor"),
    "bathroom": ("bathroom", "indoor"), "library": ("library", "indoor"), "classroom": ("classroom", "indoor"),
    "cafe": ("cafe", "indoor"), "hallway": ("hallway", "indoor"), "music_room": ("music room", "indoor"),
    "beach": ("beach", "outdoor"), "campsite": ("campsite", "outdoor"), "farm": ("farm", "outdoor"),
    "town_square": ("town square", "outdoor"), "play_area": ("play area", "outdoor"), "downtown": ("downtown", "outdoor"),
    "desert": ("desert", "outdoor"),
}
SCENE_SYNONYMS = {
    "lounge": "living_room", "living": "living_room", "sitting room": "living_room", "family room": "living_room",
    "bed room": "bedroom", "guest room": "bedroom", "kitchenette": "kitchen", "study": "office", "workspace": "office",
    "home office": "office", "studio": "office", "dining": "dining_room", "garden": "backyard", "yard": "backyard",
    "forest": "forest_clearing", "woods": "forest_clearing", "clearing": "forest_clearing", "woodland": "forest_clearing",
    "road": "street", "neighborhood": "street", "neighbourhood": "street", "town": "street", "playground": "park",
    "meadow": "park", "room": "living_room",
    # "playground" keeps meaning a park and "town" a street; a lone "square" is a shape ("a square table").
    "restroom": "bathroom", "washroom": "bathroom", "bath room": "bathroom", "reading room": "library",
    "bookshop": "library", "bookstore": "library", "class room": "classroom", "schoolroom": "classroom",
    "coffee shop": "cafe", "café": "cafe", "coffeehouse": "cafe", "bistro": "cafe", "diner": "cafe",
    "cafeteria": "cafe", "hall": "hallway", "entrance hall": "hallway", "entryway": "hallway", "foyer": "hallway",
    "corridor": "hallway", "practice room": "music_room", "seaside": "beach", "shore": "beach", "coast": "beach",
    "seashore": "beach", "camp": "campsite", "campground": "campsite", "camping": "campsite",
    "farmyard": "farm", "ranch": "farm", "farmland": "farm", "plaza": "town_square", "piazza": "town_square",
    "market square": "town_square", "village square": "town_square", "schoolyard": "play_area", "play ground": "play_area",
    "city centre": "downtown", "city center": "downtown", "dunes": "desert", "sand dunes": "desert",
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
