"""Long, descriptive prompts of the kind people write for Marble, from composed layouts.

A prompt opens with a mood, a style and the scene, then walks through the layout's objects in
sentences of their own (material and age adjectives, colours, relations), interleaved with
sentences about light, surfaces, sounds and smells that name nothing to place, and, now and
then, a thing outside the vocabulary ("a brass telescope"), up to Marble's 2000 characters.
The truth is the layout's object groups (as a layout program, which never names the unknown
things: no reader may invent them) plus the unknown nouns with their counts, which a reader
should place as named generic objects.
"""

from __future__ import annotations

import numpy as np

from renderer.layout import Layout
from .composers import RELATION_WORDS, groups
from .program import program_lines
from .text_rules import LEXICON, MAX_PROMPT_CHARS
from .vocab import COUNT_WORDS, NOUNS, SCENE_TYPES

MOODS = ("calm", "inviting", "dreamy", "moody", "cheerful", "elegant", "serene", "playful", "welcoming", "peaceful")
STYLES = ("Scandinavian", "Japanese", "mid-century", "industrial", "Mediterranean", "Victorian", "bohemian",
          "coastal", "farmhouse", "minimalist")
ADJECTIVES = ("weathered", "polished", "handmade", "well-worn", "sleek", "chunky", "slender", "vintage", "brand-new",
              "faded", "sturdy", "elegant", "simple", "ornate", "rustic", "lovingly restored")
# Sentences that describe and name nothing to place (tests check that the rules read none of them).
ATMOSPHERE = (
    "Soft morning light pours in and everything feels {mood}.",
    "The scene is lit by a low golden sun that throws long shadows.",
    "It is late evening, and a warm glow settles over everything.",
    "Overcast daylight gives the whole place a muted, {mood} look.",
    "Everything is bathed in the blue glow of dusk.",
    "The air smells faintly of rain and fresh coffee.",
    "You can hear distant birdsong and the hum of the city.",
    "The palette is earthy: ochre, sage and terracotta, with touches of brass.",
    "Surfaces are matte and textured, never glossy or loud.",
    "It feels lived-in, as though someone stepped out a moment ago.",
    "The mood is quiet and contemplative.",
    "Dust motes drift through the beams of sunlight.",
    "The style is {style}, restrained and carefully balanced.",
    "There is a sense of calm order here, with plenty of breathing space.",
)
OBJECT_SENTENCES = ("There {is_} {obj}.", "You notice {obj}.", "{Obj} catches the eye.", "Nearby stands {obj}.",
                    "The space also holds {obj}.", "{Obj} is easy to miss.", "Look closer and you find {obj}.")
OPENINGS = ("{A} {mood} {style} {scene}.", "Imagine {a} {mood} {scene} in a {style} style.",
            "This is {a} {mood} {scene}, {style} in spirit.", "Picture {a} {mood}, {style} {scene}.")
UNKNOWN_THINGS = ("hammock", "telescope", "birdcage", "typewriter", "gramophone", "harp", "aquarium", "sundial",
                  "anvil", "easel", "bonsai", "lantern", "kayak", "trellis", "gazebo", "totem", "cauldron",
                  "jukebox", "treadmill", "xylophone")


def _unknown_things() -> tuple[str, ...]:
    """The things above that are still outside the vocabulary (it grows)."""
    known = {words[0] for words in LEXICON if len(words) == 1}
    return tuple(w for w in UNKNOWN_THINGS if w not in known and w + "s" not in known)


def _count_word(n: int, first: str) -> str:
    if n == 1:
        return "an" if first[0] in "aeiou" else "a"
    return COUNT_WORDS.get(n, str(n))


def _phrase(label: str, color: str, n: int, rel, rng: np.random.Generator) -> str:
    adjective = str(rng.choice(ADJECTIVES)) if rng.random() < 0.6 else ""
    first = adjective or color
    words = [_count_word(n, first), adjective, color, NOUNS[label][0 if n == 1 else 1]]
    phrase = " ".join(w for w in words if w)
    if rel is not None:
        phrase += f" {RELATION_WORDS[rel[0]]} the {NOUNS[rel[1]][0]}"
    return phrase


def descriptive_prompt(layout: Layout, relations, rng: np.random.Generator, max_chars: int = MAX_PROMPT_CHARS,
                       unknown: float = 0.5) -> tuple[str, str, list[tuple[str, int]]]:
    """(prompt, layout program of what it asks for, [(unknown noun, count)]): every object group
    of the layout in its own sentence among atmosphere sentences, with an unknown thing at a
    chance of `unknown`, filled towards a random length up to `max_chars`."""
    gs = groups(layout, relations)
    gs = [gs[i] for i in rng.permutation(len(gs))]
    mood, style = str(rng.choice(MOODS)), str(rng.choice(STYLES))
    scene = SCENE_TYPES[layout.scene_type][0]
    article = _count_word(1, mood)
    sentences = [str(rng.choice(OPENINGS)).format(a=article, A=article.capitalize(), mood=mood, style=style, scene=scene)]
    for label, color, n, rel in gs:
        obj = _phrase(label, color, n, rel, rng)
        sentences.append(str(rng.choice(OBJECT_SENTENCES)).format(obj=obj, Obj=obj[0].upper() + obj[1:],
                                                                    is_="is" if n == 1 else "are"))
        if rng.random() < 0.4:
            sentences.append(str(rng.choice(ATMOSPHERE)).format(mood=mood, style=style))
    things: list[tuple[str, int]] = []
    pool = _unknown_things()
    if pool and rng.random() < unknown:
        thing, n = str(rng.choice(pool)), int(rng.choice([1, 1, 2]))
        obj = f"{_count_word(n, 'x')} {rng.choice(ADJECTIVES)} {thing if n == 1 else thing + 's'}"
        sentences.insert(int(rng.integers(1, len(sentences) + 1)), f"Somewhere there is {obj}, a curious touch.")
        things.append((thing, n))
    target = int(rng.integers(300, max_chars + 1))
    while sum(len(s) + 1 for s in sentences) < target:
        extra = str(rng.choice(ATMOSPHERE)).format(mood=mood, style=style)
        if sum(len(s) + 1 for s in sentences) + len(extra) > max_chars:
            break
        sentences.insert(int(rng.integers(1, len(sentences) + 1)), extra)
    return " ".join(sentences), "\n".join(program_lines(layout.scene_type, gs)), things
