"""(prompt, layout program) training pairs with paraphrases.

Each composed layout is described several ways: object phrases in shuffled order, counts as
digits or words, synonyms for nouns and colours, and different sentence templates. The target
program lists the object groups in the order the caption mentions them, so the model learns a
reading, not a sorting.

Captions describe a whole layout; people ask for a few things. `request` writes prompts of that
kind from the same layouts: a handful of the objects, colours often left out (`any`), other
counts, size words, relation and placement phrases from the rule parser's own table, optional
scene words and filler. Its program means what the rule parser reads from the same words
(a relation's target that is never asked for becomes one more object), so both engines are
scored against one truth.
"""

from __future__ import annotations

import re

import numpy as np

from renderer.layout import WALL_LABELS, Layout
from .composers import RELATION_WORDS, compose, groups
from .program import TARGET_RELATIONS, program_line, program_lines
from .text_rules import DEFAULT_RULES, LEXICON, RELATIONS, SIZE_WORDS, STOP_WORDS, ObjectRequest, default_scene
from .vocab import COLOR_ALIASES, COLORS, COUNT_WORDS, NOUNS, SCENE_SYNONYMS, SCENE_TYPES, SYNONYMS, plural

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
RELATION_PHRASES: dict[str, list[str]] = {}  # relation or place -> phrases the rule parser reads as it
for _phrase, (_rel, _) in RELATIONS.items():
    if _rel != "wall_mount" and not _phrase.endswith(("corners", "walls")):
        RELATION_PHRASES.setdefault(_rel, []).append(_phrase)
FLOOR_PLACES = ("corner", "wall", "center")
DESCRIPTIVE_TRAINING_CHARS = 700  # about the 192 prompt tokens the tiny model reads at inference
WALL_OBJECTS = tuple(sorted(WALL_LABELS))  # never given a floor place ("a mirror in the corner")
MOUNTED = tuple(sorted(label for label, rule in DEFAULT_RULES.items() if rule == "wall_mount"))  # "... on the wall"
REQUEST_TEMPLATES = ["{a} {scene} with {objects}", "{scene} with {objects}", "{a} {adj} {scene} with {objects}",
                     "{objects} in {a} {scene}", "{a} {scene}: {objects}", "{a} {scene} that has {objects}",
                     "i want {a} {scene} with {objects}", "make {a} {scene} with {objects}",
                     "{a} {adj} {scene} featuring {objects}", "{a} {scene}, {objects}", "{objects}"]
ADJECTIVES = ("cozy", "modern", "nice", "beautiful", "simple", "bright", "sunny", "quiet", "spacious")
COUNT_IDIOMS = {2: ["a pair of", "a couple of", "some"], 3: ["a few", "several"], 12: ["a dozen"]}  # as the parser reads them
TEMPLATES = ["{a} {scene} with {objects}", "{objects} in {a} {scene}", "there is {objects} in the {scene}",
             "{a} {scene} containing {objects}", "{a} {scene}: {objects}", "{objects}"]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _noun(label: str, n: int, rng: np.random.Generator, synonym_p: float) -> str:
    noun = NOUNS[label][0 if n == 1 else 1]
    if synonym_p and rng.random() < synonym_p and label in NOUN_SYNONYMS:
        noun = str(rng.choice(NOUN_SYNONYMS[label]))
        noun = noun if n == 1 else plural(noun)
    return noun


def _count(n: int, first_word: str, rng: np.random.Generator, plain: bool = False) -> str:
    if n == 1:
        return _article(first_word) if plain or rng.random() < 0.85 else str(rng.choice(["one", "a single"]))
    return COUNT_WORDS.get(n, str(n)) if plain or rng.random() < 0.5 else str(n)


def _join(phrases: list[str], rng: np.random.Generator | None = None) -> str:
    if len(phrases) <= 1:
        return phrases[0] if phrases else "nothing"
    last = " and " if rng is None or rng.random() < 0.8 else str(rng.choice([", ", " plus ", ", and "]))
    return ", ".join(phrases[:-1]) + last + phrases[-1]


def describe(layout: Layout, relations, rng: np.random.Generator, plain: bool = False) -> tuple[str, list]:
    """A caption and the groups in the order it mentions them. `plain` gives the engine's own
    wording (no synonyms, the composer's order, counts as words)."""
    gs = groups(layout, relations)
    if not plain:
        gs = [gs[i] for i in rng.permutation(len(gs))]
    phrases = []
    for label, color, n, rel in gs:
        noun = _noun(label, n, rng, 0.0 if plain else 0.4)
        col = color
        if not plain and rng.random() < 0.3 and color in COLOR_SYNONYMS:
            col = str(rng.choice(COLOR_SYNONYMS[color]))
        phrase = f"{_count(n, col, rng, plain=plain or n == 1)} {col} {noun}"
        if rel is not None:
            phrase += f" {RELATION_WORDS[rel[0]]} the {NOUNS[rel[1]][0]}"
        phrases.append(phrase)
    objects = _join(phrases)
    scene = SCENE_TYPES[layout.scene_type][0]
    if not plain and rng.random() < 0.3 and layout.scene_type in SCENE_WORDS:
        scene = str(rng.choice(SCENE_WORDS[layout.scene_type]))
    template = TEMPLATES[0] if plain else str(rng.choice(TEMPLATES[:-1] if rng.random() < 0.95 else TEMPLATES))
    text = template.format(a=_article(scene), scene=scene, objects=objects)
    return text, gs


def training_pairs(n_layouts: int, variants: int = 4, requests: int = 0, seed: int = 0,
                   typos: float = 0.0, reworded: int = 0, descriptive: int = 0) -> list[tuple[str, str]]:
    """(prompt, program) pairs: `variants` descriptions of each of `n_layouts` composed layouts
    (the first in the engine's plain wording), `requests` user-style prompts and `reworded`
    prompts in other word orders (`reword.reword`, alternately of the whole layout and of a
    few of its objects) and `descriptive` long descriptive prompts (`descriptive.descriptive_prompt`,
    cut to what the model reads at inference) from each. A `typos` share of the non-plain prompts is
    misspelled (`misspell`); the program stays the same."""
    from .descriptive import descriptive_prompt
    from .reword import reword

    rng = np.random.default_rng(seed)
    typo_rng = np.random.default_rng([seed, 7])  # own streams: typos=0, reworded=0 give the same pairs as before
    reword_rng = np.random.default_rng([seed, 11])
    long_rng = np.random.default_rng([seed, 13])
    types = list(SCENE_TYPES)
    pairs = []
    for i in range(n_layouts):
        layout, relations = compose(types[i % len(types)], int(rng.integers(2**31)))
        for v in range(variants):
            text, gs = describe(layout, relations, rng, plain=v == 0)
            pairs.append((text, "\n".join(program_lines(layout.scene_type, gs))))
        pairs.extend(request(layout, relations, rng) for _ in range(requests))
        pairs.extend(reword(layout, relations, reword_rng, few=j % 2 == 1) for j in range(reworded))
        pairs.extend(descriptive_prompt(layout, relations, long_rng, max_chars=DESCRIPTIVE_TRAINING_CHARS)[:2]
                     for _ in range(descriptive))
    if typos > 0:
        plain = set(range(0, len(pairs), variants + requests + reworded + descriptive))
        pairs = [(misspell(text, typo_rng) if k not in plain and typo_rng.random() < typos else text, program)
                 for k, (text, program) in enumerate(pairs)]
    return pairs


def request(layout: Layout, relations, rng: np.random.Generator) -> tuple[str, str]:
    """A short user-style prompt asking for some of the layout's objects, and its program."""
    gs = groups(layout, relations)
    chosen = [gs[i] for i in rng.permutation(len(gs))[: int(rng.integers(1, min(len(gs), 6) + 1))]]
    indoor = SCENE_TYPES[layout.scene_type][1] == "indoor"
    asks = []  # (label, colour or None, colour as written, count, size, relation)
    for label, color, n, rel in chosen:
        if rng.random() < 0.3:
            n = int(rng.integers(1, 13))
        col = None if rng.random() < 0.4 else (color if rng.random() < 0.8 else str(rng.choice(list(COLORS))))
        col_word = col
        if col is not None and rng.random() < 0.3 and col in COLOR_SYNONYMS:
            col_word = str(rng.choice(COLOR_SYNONYMS[col]))
        elif col is not None and rng.random() < 0.06:
            col = col_word = f"#{int(rng.integers(2**24)):06x}"
        size = str(rng.choice(list(SIZE_WORDS))) if rng.random() < 0.12 else None
        if rel is not None and rng.random() < 0.3:
            rel = None
        if rel is None and indoor and label not in WALL_OBJECTS and rng.random() < 0.2:
            rel = (str(rng.choice(FLOOR_PLACES)), None)
        asks.append([label, col, col_word, n, size, rel])
    # Relations to any other asked-for object (a bench next to the pond), not only the composer's.
    for ask in asks:
        free = [a[0] for a in asks if a[5] is None and a[0] != ask[0] and a[0] not in WALL_OBJECTS]
        if ask[5] is None and ask[0] not in WALL_OBJECTS and free and rng.random() < 0.15:
            ask[5] = (str(rng.choice(TARGET_RELATIONS)), str(rng.choice(free)))
    # Asked-for targets mostly go first ("a table and a lamp on the table"); where relations form a
    # cycle, a target named before it is asked for is that same object ("a lamp on the table ...
    # a table" is one table), as the rule parser reads it.
    asked = {a[0] for a in asks}
    asks.sort(key=lambda a: a[5] is not None and a[5][1] in asked)
    phrases, lines, named, requests = [], [], set(), []
    for label, col, col_word, n, size, rel in asks:
        words = [w for w in (size, col_word) if w]
        noun = _noun(label, n, rng, 0.4)
        count = _count(n, (words or [noun])[0], rng)
        if n in COUNT_IDIOMS and rng.random() < 0.15:
            count = str(rng.choice(COUNT_IDIOMS[n]))  # "a pair of", "some" (2), "a few" (3), "a dozen"
        elif n <= 2 and rng.random() < 0.1:
            count = ""  # a bare noun ("grey sofa facing a tv"): the parser reads one, or two for a plural
        phrase = " ".join([w for w in [count] + words + [noun] if w])
        if rel is None and label in MOUNTED and rng.random() < 0.25:
            phrase += " on the wall"  # the parser's wall_mount: these labels' default placement
        if rel is not None:
            phrase += " " + str(rng.choice(RELATION_PHRASES[rel[0]]))
            if rel[1] is not None:
                # "next to a table" only for a table not asked for yet: after one, "a" would be another
                fresh = rel[1] not in named and rel[1] not in asked
                phrase += f" {_article(rel[1]) if fresh and rng.random() < 0.3 else 'the'} {NOUNS[rel[1]][0]}"
        phrases.append(phrase)
        named.add(label)
        lines.append(program_line(label, col, n, size, rel))
        requests.append(ObjectRequest(label, n))
        if rel is not None and rel[1] is not None and rel[1] not in named and rel[1] not in asked:
            named.add(rel[1])
            lines.append(program_line(rel[1], None, 1))
            requests.append(ObjectRequest(rel[1], 1))
    template = str(rng.choice(REQUEST_TEMPLATES))
    scene_word = SCENE_TYPES[layout.scene_type][0]
    if rng.random() < 0.3 and layout.scene_type in SCENE_WORDS:
        scene_word = str(rng.choice(SCENE_WORDS[layout.scene_type]))
    adj = str(rng.choice(ADJECTIVES))
    text = template.format(a=_article(adj if "{adj}" in template else scene_word), adj=adj, scene=scene_word,
                           objects=_join(phrases, rng))
    scene = layout.scene_type
    if "{scene}" not in template:  # no scene named: the one the rule parser would choose
        scene = default_scene(requests)
    if rng.random() < 0.2:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.2:
        text += "."
    return text, "\n".join([f"scene {scene}"] + lines + ["end"])


KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {c: "".join(row[max(i - 1, 0) : i + 2].replace(c, "")) for row in KEYBOARD_ROWS for i, c in enumerate(row)}
_WORD = re.compile(r"[A-Za-z]{4,}")


def misspell(text: str, rng: np.random.Generator, rate: float = 0.15) -> str:
    """Typing mistakes: each word of four or more letters is, with probability `rate`, given one
    edit after its first letter (a dropped, doubled or swapped letter, or a neighbouring key). An
    edit that makes another known word ("four" -> "for", "lamps" -> "lamp") is not used, so the
    text still means its program. At least one word is changed when the text has one."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    hit = {m.start() for m in words if rng.random() < rate} or {words[int(rng.integers(len(words)))].start()}
    out, last = [], 0
    for m in words:
        if m.start() in hit:
            out += [text[last : m.start()], _typo(m.group(), rng)]
            last = m.end()
    return "".join(out + [text[last:]])


def _typo(word: str, rng: np.random.Generator) -> str:
    for _ in range(4):
        k, kind = int(rng.integers(1, len(word))), int(rng.integers(4))
        if kind == 0:
            w = word[:k] + word[k + 1 :]
        elif kind == 1:
            w = word[:k] + word[k] + word[k:]
        elif kind == 2 and k < len(word) - 1:
            w = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
        else:
            w = word[:k] + str(rng.choice(list(_NEIGHBOURS.get(word[k].lower(), word[k])))) + word[k + 1 :]
        if w != word and (w.lower(),) not in LEXICON and w.lower() not in STOP_WORDS:
            return w
    return word
