"""(caption, layout program) training pairs with paraphrases.

Each composed layout is described several ways: object phrases in shuffled order, counts as
digits or words, synonyms for nouns and colours, and different sentence templates. The target
program lists the object groups in the order the caption mentions them, so the model learns a
reading, not a sorting.
"""

from __future__ import annotations

import numpy as np

from renderer.layout import Layout
from .composers import RELATION_WORDS, compose, groups
from .program import program_lines
from .vocab import COLOR_ALIASES, COUNT_WORDS, NOUNS, SCENE_SYNONYMS, SCENE_TYPES, SYNONYMS

NOUN_SYNONYMS: dict[str, list[str]] = {}
for _word, _label in SYNONYMS.items():
    if not _word.endswith("s") or _word.endswith("ss"):
        NOUN_SYNONYMS.setdefault(_label, []).append(_word)
COLOR_SYNONYMS: dict[str, list[str]] = {}
for _alias, _name in COLOR_ALIASES.items():
    COLOR_SYNONYMS.setdefault(_name, []).append(_alias)
SCENE_WORDS: dict[str, list[str]] = {}
for _word, _scene in SCENE_SYNONYMS.items():
    if _word != "room":
        SCENE_WORDS.setdefault(_scene, []).append(_word)
TEMPLATES = ["{a} {scene} with {objects}", "{objects} in {a} {scene}", "there is {objects} in the {scene}",
             "{a} {scene} containing {objects}", "{a} {scene}: {objects}", "{objects}"]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def describe(layout: Layout, relations, rng: np.random.Generator, plain: bool = False) -> tuple[str, list]:
    """A caption and the groups in the order it mentions them. `plain` gives the engine's own
    wording (no synonyms, the composer's order, counts as words)."""
    gs = groups(layout, relations)
    if not plain:
        gs = [gs[i] for i in rng.permutation(len(gs))]
    phrases = []
    for label, color, n, rel in gs:
        noun = NOUNS[label][0 if n == 1 else 1]
        if not plain and rng.random() < 0.4 and label in NOUN_SYNONYMS:
            noun = str(rng.choice(NOUN_SYNONYMS[label]))
            noun = noun if n == 1 else noun + ("es" if noun.endswith(("sh", "ch", "s")) else "s")
        col = color
        if not plain and rng.random() < 0.3 and color in COLOR_SYNONYMS:
            col = str(rng.choice(COLOR_SYNONYMS[color]))
        if n == 1:
            count = _article(col)
        elif plain or rng.random() < 0.5:
            count = COUNT_WORDS.get(n, str(n))
        else:
            count = str(n)
        phrase = f"{count} {col} {noun}"
        if rel is not None:
            phrase += f" {RELATION_WORDS[rel[0]]} the {NOUNS[rel[1]][0]}"
        phrases.append(phrase)
    objects = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1] if phrases else "nothing"
    scene = SCENE_TYPES[layout.scene_type][0]
    if not plain and rng.random() < 0.3 and layout.scene_type in SCENE_WORDS:
        scene = str(rng.choice(SCENE_WORDS[layout.scene_type]))
    template = TEMPLATES[0] if plain else str(rng.choice(TEMPLATES[:-1] if rng.random() < 0.95 else TEMPLATES))
    text = template.format(a=_article(scene), scene=scene, objects=objects)
    return text, gs


def training_pairs(n_layouts: int, variants: int = 4, seed: int = 0) -> list[tuple[str, str]]:
    """(caption, program) pairs: `variants` descriptions of each of `n_layouts` composed layouts."""
    rng = np.random.default_rng(seed)
    types = list(SCENE_TYPES)
    pairs = []
    for i in range(n_layouts):
        layout, relations = compose(types[i % len(types)], int(rng.integers(2**31)))
        for v in range(variants):
            text, gs = describe(layout, relations, rng, plain=v == 0)
            pairs.append((text, "\n".join(program_lines(layout.scene_type, gs))))
    return pairs
