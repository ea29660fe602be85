"""Captions in word orders the rule parser was not written for, with the programs they mean.

`describe` shuffles objects and swaps words; `reword` changes the syntax around them, the way
people write when they are not listing things:

- a colour after its noun: "two lamps in white", "a bed that is blue", "a fence painted brown",
  "four chairs, all black";
- a count after its noun: "black chairs, four of them", "white lamps (2)", "rocks x3";
- a relation before its object, in its own sentence: "Under the table lies a red rug.";
- several sentences: "A bedroom with a blue bed. It also has two lamps.";
- things that are not there: "no tv", "without a rug" (the program leaves them out).

With `few`, the prompt asks for a handful of the objects, as `paraphrase.request` does: colours
often left out, other counts, and a relation's target that is never asked for becomes one more
object. The program lists object groups in the order the text mentions them. The rule parser
reads these words one phrase at a time, left to right, so a colour or count that comes after its
noun lands on the next object; `bench/lm.py` measures both engines on them.
"""

from __future__ import annotations

import numpy as np

from renderer.layout import Layout
from .composers import INDOOR, OUTDOOR, RELATION_WORDS, groups
from .paraphrase import COLOR_SYNONYMS, SCENE_WORDS, _article, _count, _noun
from .program import program_lines
from .vocab import COUNT_WORDS, NOUNS, SCENE_TYPES

PAINTED = {"bed", "sofa", "armchair", "chair", "table", "desk", "lamp", "bookshelf", "wardrobe", "fridge",
           "kitchen_counter", "door", "window", "house", "fence", "bench", "street_lamp", "car",
           "stove", "kitchen_island", "filing_cabinet", "dresser", "piano", "fireplace", "coat_rack", "mailbox",
           "trash_can", "bicycle", "bus_stop", "fire_hydrant", "truck", "bus", "picnic_table", "sun_lounger", "boat",
           "swing", "slide", "barn", "windmill"}
WOOD_WORDS = ("wood", "oak", "timber")
PAINT_WORDS = ("painted", "coloured", "colored", "done in", "finished in")
RELATION_FIRST_VERBS = {False: ("is", "sits", "stands", "there is", "you'll find"),  # by plural
                        True: ("are", "sit", "stand", "there are")}
OPENINGS = ["{a} {scene} with {objects}.", "This {scene} has {objects}.", "In the {scene} there {be} {objects}.",
            "Imagine {a} {scene}: {objects}.", "{A} {scene}. It has {objects}.", "{objects}, all in {a} {scene}.",
            "Inside {a} {scene} you see {objects}."]
MORE = ("It also has {objects}.", "There are also {objects}.", "Also {objects}.", "Plus {objects}.",
        "Add {objects}.")


def _scene_labels(scene_type: str) -> set[str]:
    specs = INDOOR[scene_type][2] if scene_type in INDOOR else OUTDOOR[scene_type][3]
    return {s.label for s in specs}


def _object_phrase(label: str, color: str | None, n: int, rng: np.random.Generator) -> str:
    """One group, its colour (None: not said) and count before or after the noun."""
    if color is None:
        noun = _noun(label, n, rng, 0.4)
        return f"{_count(n, noun, rng)} {noun}" if n == 1 or rng.random() < 0.7 else \
            str(rng.choice([f"{noun}, {COUNT_WORDS.get(n, str(n))} of them", f"{noun} ({n})", f"{noun} x{n}"]))
    col = color
    if rng.random() < 0.3 and color in COLOR_SYNONYMS:
        col = str(rng.choice(COLOR_SYNONYMS[color]))
    after = str(rng.choice(WOOD_WORDS)) if color == "wooden" else col  # "a desk in oak", not "in wooden"
    noun = _noun(label, n, rng, 0.4)
    count = _count(n, col, rng)
    plain = f"{_count(n, noun, rng)} {noun}"  # count and noun, no colour
    forms = ["before", "in", "that", "painted" if label in PAINTED else "in"] + (["all", "count_after"] if n > 1 else [])
    form = "before" if rng.random() < 0.3 else str(rng.choice(forms))
    if form == "in":
        return f"{plain} {'made of' if color == 'wooden' and rng.random() < 0.5 else 'in'} {after}"
    if form == "that":
        return f"{plain} {'that' if rng.random() < 0.6 else 'which'} {'are' if n > 1 else 'is'} {col}"
    if form == "painted":
        return f"{plain} {'made of' if color == 'wooden' else rng.choice(PAINT_WORDS)} {after}"
    if form == "all":
        return f"{plain}, all {col}"
    if form == "count_after":
        how = int(rng.integers(3))
        said = COUNT_WORDS.get(n, str(n)) if rng.random() < 0.5 else str(n)
        return (f"{col} {noun}, {said} of them", f"{col} {noun} ({n})", f"{col} {noun} x{n}")[how]
    return f"{count} {col} {noun}"


def _join(phrases: list[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    comma = "; " if any("," in p for p in phrases) else ", "  # "four chairs, all black; a bed and ..."
    return comma.join(phrases[:-1]) + " and " + phrases[-1]


def _few(gs: list, rng: np.random.Generator) -> tuple[list, dict]:
    """A request's worth of groups (one to five, colours often left out, other counts), and for
    each a relation target that is not asked for, which becomes one more object."""
    chosen = []
    for label, color, n, rel in gs[: int(rng.integers(1, min(len(gs), 5) + 1))]:
        n = int(rng.integers(1, 13)) if rng.random() < 0.3 else n
        chosen.append((label, None if rng.random() < 0.4 else color, n, rel))
    asked, implied = {g[0] for g in chosen}, {}
    for g in chosen:
        if g[3] is not None and g[3][1] not in asked and g[3][1] not in implied.values():
            implied[g] = g[3][1]
    return chosen, implied


def reword(layout: Layout, relations, rng: np.random.Generator, few: bool = False) -> tuple[str, str]:
    """A caption in varied syntax, and its program: of the whole layout, or with `few` of a
    handful of its objects, as a request ("a bedroom with a bed in blue; no tv")."""
    gs = groups(layout, relations)
    gs = [gs[i] for i in rng.permutation(len(gs))]
    implied: dict = {}
    if few:
        gs, implied = _few(gs, rng)
    scene = SCENE_TYPES[layout.scene_type][0]
    if rng.random() < 0.3 and layout.scene_type in SCENE_WORDS:
        scene = str(rng.choice(SCENE_WORDS[layout.scene_type]))
    listed, fronted = [], []  # (group, text): in the object list, or in a sentence of their own
    for g in gs:
        label, color, n, rel = g
        phrase = _object_phrase(label, color, n, rng)
        where = rel and f"{RELATION_WORDS[rel[0]]} the {NOUNS[rel[1]][0]}"  # "next to the bed"
        if where and rng.random() < 0.4:
            verb = str(rng.choice(RELATION_FIRST_VERBS[n > 1]))
            if label == "rug" and rng.random() < 0.5:
                verb = "lies" if n == 1 else "lie"
            fronted.append((g, f"{where[0].upper()}{where[1:]} {verb} {phrase}."))
        else:
            listed.append((g, f"{phrase} {where}" if where else phrase))
    if not listed:  # every group went to its own sentence: the first one opens the caption
        listed = [(fronted[0][0], fronted.pop(0)[1].rstrip("."))] if fronted else []
    split = int(rng.integers(1, len(listed))) if len(listed) > 2 and rng.random() < 0.4 else len(listed)
    opening = str(rng.choice(OPENINGS))
    a = _article(scene)
    be = "is" if listed and listed[0][0][2] == 1 and split == 1 else "are"
    objects = _join([p for _, p in listed[:split]]) if listed else "nothing"
    sentences = [opening.format(a=a, A=a.capitalize(), scene=scene, be=be, objects=objects)]
    sentences[0] = sentences[0][0].upper() + sentences[0][1:]
    if split < len(listed):
        sentences.append(str(rng.choice(MORE)).format(objects=_join([p for _, p in listed[split:]])))
    sentences += [t for _, t in fronted]
    absent = sorted(_scene_labels(layout.scene_type) - {o.label for o in layout.objects})
    if absent and rng.random() < 0.35:
        label = str(rng.choice(absent))
        sentences.append(str(rng.choice(["There is no {one}.", "No {many}.", "And no {many}, please.",
                                         "It has no {many}.", "Without {a} {one}."]))
                         .format(one=NOUNS[label][0], many=NOUNS[label][1], a=_article(NOUNS[label][0])))
    text = " ".join(sentences)
    if rng.random() < 0.3:
        text = text.lower()
    order = []
    for g in [g for g, _ in listed] + [g for g, _ in fronted]:
        order.append(g)
        if g in implied:  # "next to the bed" with no bed asked for: one bed, as the rule parser reads it
            order.append((implied[g], None, 1, None))
    return text, "\n".join(program_lines(layout.scene_type, order))
