"""Rule-based text -> layout: the deterministic fallback the learned language model must beat.

A prompt's scene type, objects, counts (words and digits), colours (names and #hex), sizes
(small, large, tall, ...) and simple relations (on, next to, around, in front of, facing, under,
in the corner, along the wall, in the middle) become placement specs for the composers' placer.
Every word the rules cannot use is reported back in `ignored`, never silently dropped; an
empty or over-long prompt still gives a valid (possibly empty) world plus warnings. Word orders
the rules only guess at (a colour or count after its noun, a negation, a sentence opening with a
relation) are reported in `doubts`; `unsure` says whether a prompt is better read by the model.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from renderer.layout import GENERIC_LABEL, WALL_LABELS, Layout, Shell
from .composers import FLOOR_COLORS, INDOOR, OUTDOOR, WALL_COLORS, Placer, Spec, caption, ground_colors
from .completion import complete_scene
from .nouns import MATERIALS, heads_phrase, names_an_object, singular
from .vocab import (COLOR_ALIASES, COLORS, NOUNS, NUMBER_WORDS, SCENE_SYNONYMS, SCENE_TYPES, SIZES, SYNONYMS,
                    plural)

MAX_PROMPT_CHARS = 2000
MAX_COUNT = 24
MAX_IGNORED_LISTED = 100
MAX_DOUBTS_LISTED = 10
STOP_WORDS = {"the", "with", "and", "of", "in", "is", "are", "there", "that", "this", "it", "its", "to", "at", "for",
              "has", "have", "having", "containing", "contains", "featuring", "plus", "also", "some", "one's", "my",
              "our", "their", "his", "her", "filled", "full", "furnished", "place", "scene", "world", "view", "which",
              "where", "inside", "outside", "into", "onto", "from", "by", "be", "as", "lots", "lot", "bunch", "set",
              "made", "color", "coloured", "colored", "colour", "standing", "sitting", "placed", "stands", "sits",
              "cozy", "cosy", "nice", "beautiful", "modern", "simple", "small-ish", "each", "both", "other", "another",
              # requests: "i want", "i'd like", "make me", "please give us"
              "i", "i'd", "i'm", "me", "us", "we", "want", "wants", "like", "would", "make", "give", "please", "need",
              "create", "build", "generate", "show", "bright", "sunny", "quiet", "spacious", "round", "dark", "them"}
SIZE_WORDS = {"tiny": (0.6, 0.6, 0.6), "small": (0.75, 0.75, 0.75), "little": (0.75, 0.75, 0.75),
              "big": (1.3, 1.3, 1.3), "large": (1.3, 1.3, 1.3), "huge": (1.5, 1.5, 1.5), "giant": (1.6, 1.6, 1.6),
              "tall": (1.0, 1.0, 1.3), "short": (1.0, 1.0, 0.8), "low": (1.0, 1.0, 0.8), "long": (1.3, 1.0, 1.0),
              "wide": (1.3, 1.0, 1.0), "narrow": (0.8, 1.0, 1.0)}
# phrase -> (relation, needs a target)
RELATIONS = {"on top of": ("on", True), "on": ("on", True), "atop": ("on", True), "next to": ("near", True),
             "beside": ("near", True), "besides": ("near", True), "near": ("near", True), "close to": ("near", True),
             "alongside": ("near", True), "along": ("near", True), "around": ("near", True),
             "in front of": ("front", True), "before": ("front", True),
             "facing": ("facing", True), "opposite": ("facing", True), "across from": ("facing", True),
             "under": ("under", True), "underneath": ("under", True), "below": ("under", True), "beneath": ("under", True),
             "in the corner": ("corner", False), "in a corner": ("corner", False), "in the corners": ("corner", False),
             "in corners": ("corner", False), "along the wall": ("wall", False), "against the wall": ("wall", False),
             "along the walls": ("wall", False), "against a wall": ("wall", False), "by the wall": ("wall", False),
             "on the wall": ("wall_mount", False), "on the walls": ("wall_mount", False),
             "in the middle": ("center", False), "in the center": ("center", False), "in the centre": ("center", False),
             "in the middle of the room": ("center", False), "in the center of the room": ("center", False)}
DEFAULT_RULES = {"bed": "wall", "sofa": "wall", "wardrobe": "wall", "bookshelf": "wall", "desk": "wall",
                 "kitchen_counter": "wall", "tv": "wall", "fridge": "corner", "plant": "corner", "lamp": "corner",
                 "armchair": "corner", "table": "center", "rug": "center", "chair": "anywhere", "painting": "wall_mount",
                 "window": "wall_mount", "door": "door", "house": "edge", "fence": "edge",
                 # kinds added with the open vocabulary ("anywhere" is the default for the rest)
                 "toilet": "wall", "bathtub": "wall", "shower": "corner", "sink": "wall", "mirror": "wall_mount",
                 "stove": "wall", "microwave": "on:kitchen_counter", "kitchen_island": "center",
                 "office_chair": "front:desk", "filing_cabinet": "wall", "computer": "on:desk", "whiteboard": "wall_mount",
                 "printer": "wall", "dresser": "wall", "piano": "wall", "fireplace": "wall", "ceiling_lamp": "ceiling",
                 "curtain": "wall_mount", "clock": "wall_mount", "coat_rack": "corner", "guitar": "corner",
                 "blackboard": "wall_mount", "globe": "corner", "mailbox": "edge", "bus_stop": "edge", "boat": "edge",
                 "campfire": "center", "fountain": "center", "barn": "edge", "windmill": "edge"}
ON_SIZES = {"lamp": (0.25, 0.25, 0.45), "plant": (0.25, 0.25, 0.4), "tv": (0.7, 0.2, 0.45)}


@dataclass
class ObjectRequest:
    label: str
    count: int
    color: str | None = None  # "#rrggbb"
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    rule: str | None = None  # a composer rule, "on:desk", "corner", ...
    name: str = ""  # the noun, for a generic object ("hammock")


@dataclass
class ParsedPrompt:
    scene_type: str | None
    requests: list[ObjectRequest]
    ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)  # where the word order left the rules guessing
    excluded: list[str] = field(default_factory=list)  # labels the prompt rules out ("no tv")
    complete: bool = True  # whether scene completion may add what the prompt did not name ("only", "empty")


def _lexicon() -> dict[tuple[str, ...], tuple[str, object]]:
    lex: dict[tuple[str, ...], tuple[str, object]] = {}

    def add(phrase: str, kind: str, value) -> None:
        lex.setdefault(tuple(phrase.split()), (kind, value))

    for phrase, rel in RELATIONS.items():
        add(phrase, "relation", rel)
    for key, (name, _) in SCENE_TYPES.items():
        add(name, "scene", key), add(key.replace("_", " "), "scene", key)
    for phrase, key in SCENE_SYNONYMS.items():
        add(phrase, "scene", key)
    for label, (singular, plural_noun) in NOUNS.items():
        add(singular, "object", (label, False)), add(plural_noun, "object", (label, True))
        add(label.replace("_", " "), "object", (label, False))
    for phrase, label in SYNONYMS.items():
        is_plural = phrase.endswith("s") and not phrase.endswith("ss")
        add(phrase, "object", (label, is_plural))
        if not is_plural:
            add(plural(phrase), "object", (label, True))
    for name, hex_color in COLORS.items():
        add(name, "color", hex_color)
    for alias, name in COLOR_ALIASES.items():
        add(alias, "color", COLORS[name])
    for word, n in NUMBER_WORDS.items():
        add(word, "number", n)
    for word, scale in SIZE_WORDS.items():
        add(word, "size", scale)
    return lex


LEXICON = _lexicon()
MAX_PHRASE = max(len(k) for k in LEXICON)
HEX_COLOR = re.compile(r"#[0-9a-f]{6}\b")  # in lower-cased text
# words in any script (so another language's words are reported whole), digits, hex colours, punctuation
TOKEN = re.compile(HEX_COLOR.pattern + r"|\d+|[^\W\d_]+(?:['-][^\W\d_]+)*|[.,;:!?()]")  # "walk-in" is one word


def _longest_match(tokens: list[str], i: int) -> tuple[tuple[str, object] | None, int]:
    """The lexicon entry of the longest phrase starting at token i, and its length in tokens."""
    for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
        match = LEXICON.get(tuple(tokens[i : i + n]))
        if match:
            return match, n
    return None, 0


NEGATIONS = {"no", "not", "without", "none", "nor", "except"}
NEGATE_NEXT = {"no", "without", "nor"}  # read: the next object is excluded ("not a", "not any" too)
DETERMINERS = {"a", "an", "any", "one", "single"}
ONLY_WORDS = {"only", "just", "empty", "nothing"}  # "only a bed", "an empty room": no completion
NEEDS_DETERMINER = {"light", "stone"}  # name a thing only after a count or colour ("bathed in light")
# Function words the lexicon has no entry for: they end a phrase like the stop words do.
FUNCTION_WORDS = STOP_WORDS | NEGATIONS | ONLY_WORDS | {
    "a", "an", "or", "but", "yet", "so", "than", "then", "when", "while", "if", "because", "though", "although",
    "between", "behind", "above", "over", "across", "through", "among", "amongst", "within", "beyond", "toward",
    "towards", "against", "past", "via", "up", "down", "off", "out", "about", "around", "upon", "throughout",
    "everywhere", "here", "everything", "all", "any", "every", "more", "most", "very", "really", "quite", "too",
    "overhead", "below", "nearby", "outside", "upstairs", "downstairs", "somewhere", "together", "apart", "away"}
SURFACE_NOUNS = {"wall", "walls", "floor", "floors", "flooring", "ceiling", "ceilings", "tile", "tiles", "roof", "roofs",
                 "facade", "beams", "panels", "panelling", "paneling", "accents", "frame", "frames", "finish"}
PUNCT = frozenset(".,;:!?()")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
COUNT_AFTER = re.compile(r"\bx\s?\d+\b|\(\s*\d+\s*\)")
SENTENCE_RELATION = re.compile(r"(?:^|[.!?;]\s+)(" + "|".join(sorted((re.escape(p) for p, (_, target) in RELATIONS.items()
                                                                      if target), key=len, reverse=True)) + r")\b")


def parse_prompt(text: str) -> ParsedPrompt:
    """Read a prompt into a scene type and object requests (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"a prompt must be a string, got {type(text).__name__}")
    return _Reader(text).read()


class _Reader:
    """One left-to-right pass over a prompt's tokens. Modifiers (count, colour, size) wait in
    `pending` for their noun; a relation waits for its target; unknown words gather in `run`
    until a phrase boundary says whether the last of them named a thing (procgen.nouns)."""

    def __init__(self, text: str):
        self.warnings: list[str] = []
        text = self._clean(text)
        self.lowered = text.lower()
        self.tokens = TOKEN.findall(self.lowered)
        # where each token starts, to tell a capitalised word inside a sentence ("Scandinavian")
        self.starts = [m.start() for m in TOKEN.finditer(self.lowered)]
        self.original = text
        self.scene: str | None = None
        self.requests: list[ObjectRequest] = []
        self.ignored: list[str] = []
        self.doubts: list[str] = []
        self.excluded: list[str] = []
        self.pending: dict = {}
        self.relation: str | None = None
        self.last: ObjectRequest | None = None
        self.implied: list[ObjectRequest] = []  # objects created only as a relation's target ("on the desk")
        self.run: list[int] = []  # token indices of the current run of unknown words
        self.run_pending: dict = {}  # the modifiers waiting when the run began
        self.negating = False  # "no tv or plants": a negation carries over "or"/"nor"
        self.complete = True

    def _clean(self, text: str) -> str:
        if len(text) > MAX_PROMPT_CHARS:
            self.warnings.append(f"prompt is {len(text)} characters; only the first {MAX_PROMPT_CHARS} were read")
            text = text[:MAX_PROMPT_CHARS]
        controls = len(CONTROL.findall(text))
        if controls:
            self.warnings.append(f"{controls} control character(s) ignored")
            text = CONTROL.sub(" ", text)
        symbols = sum(unicodedata.category(c) in ("So", "Sk", "Cs", "Co") for c in text)
        if symbols:
            self.warnings.append(f"{symbols} emoji or symbol character(s) ignored")
        return text

    def read(self) -> ParsedPrompt:
        tokens, lowered = self.tokens, self.lowered
        if not any(t not in PUNCT for t in tokens):
            self.warnings.append("empty prompt: an empty room")
            self.complete = False
        # The rules read one phrase at a time, modifiers before their noun. Word orders that break
        # that reading are noted in `doubts` (the auto engine hands such prompts to the model).
        self.doubts = [f"a sentence starts with {m.group(1)!r}: the rules attach it to the object before"
                       for m in SENTENCE_RELATION.finditer(lowered)]
        unread = sorted({t for t, nxt in zip(tokens, tokens[1:] + [""])
                         if t in NEGATIONS - NEGATE_NEXT and nxt != "only" and not (t == "not" and nxt in DETERMINERS)})
        if unread:
            self.doubts.append(f"the rules do not read negation ({', '.join(map(repr, unread))})")
        if COUNT_AFTER.search(lowered):
            self.doubts.append("a count written after its noun ('x4', '(4)')")
        i = 0
        while i < len(tokens):
            i = self._step(i)
        self._end_run("end")
        for key in [k for k in self.pending if k not in ("article", "negate")]:  # modifiers that never reached a noun
            self.warnings.append(f"a {key} word was not followed by an object it could apply to")
            if key != "count" or not self.pending.get("article"):  # "and a dragon": an unknown noun, not a word order
                self.doubts.append(self.warnings[-1])
        words = [t for t in tokens if t not in PUNCT]
        if words and not self.requests and self.scene is None and not self.excluded:
            shown = ", ".join(map(repr, dict.fromkeys(self.ignored[:8])))
            self.warnings.append(f"no words in the prompt were understood ({shown}): an empty room. worldgen reads "
                                 "English descriptions of rooms and outdoor scenes")
        if len(self.doubts) > MAX_DOUBTS_LISTED:
            self.doubts[MAX_DOUBTS_LISTED:] = [f"and {len(self.doubts) - MAX_DOUBTS_LISTED} more doubts"]
        return ParsedPrompt(self.scene, self.requests, self.ignored, self.warnings, self.doubts,
                            sorted(set(self.excluded)), self.complete)

    def _step(self, i: int) -> int:
        """Read the phrase at token i; the index of the next one."""
        tokens, tok = self.tokens, self.tokens[i]
        if tok in PUNCT:
            self._end_run("punct")
            self.negating = False
            return i + 1
        match, n = _longest_match(tokens, i)
        if match is not None and match[0] == "object" and n == 1:
            following, length = _longest_match(tokens, i + 1)
            label = match[1][0]
            if following is not None and following[0] == "object":
                if label.endswith("_tree") and length == 1 and tokens[i + 1] in ("tree", "trees"):
                    match, n = ("object", (label, tokens[i + 1] == "trees")), 2  # "fir trees", "oak trees"
                elif following[1][0] == label:
                    return i + 1  # the same thing twice ("couch sofa"): read it once
                else:
                    # A compound names its second noun: "a stone fireplace", "a pine table"; the
                    # first is a material (a colour where it names one: "an oak table" is wooden).
                    if tok in COLOR_ALIASES:
                        self.pending["color"] = COLORS[COLOR_ALIASES[tok]]
                    else:
                        self.ignored.append(tok)
                    return i + 1
            elif self._heads_compound(i + 1):  # "stone walls", "a glass vase": a material, then its thing
                if tok in COLOR_ALIASES:
                    self.pending["color"] = COLORS[COLOR_ALIASES[tok]]
                else:
                    self.ignored.append(tok)
                return i + 1
            elif self._next(i) in ("a", "an", "the", "this", "your") and _sentence_start(self.lowered, self.starts[i]):
                match = None  # a verb opening a sentence: "Picture a quiet room", "Light the fire"
            elif tok in NEEDS_DETERMINER and not ({"count", "color"} & self.pending.keys()):
                match = None  # "bathed in light", "grey stone walls": not a lamp, not a rock
        if match is None:
            self._unknown(i, tok)
            return i + 1
        kind, value = match
        self._end_run(kind)
        if kind != "object":
            self.negating = self.negating and tok in ("or", "nor")
        getattr(self, f"_on_{kind}")(value, tokens[i : i + n])
        return i + n

    # ---- words outside the lexicon ----------------------------------------------------------
    def _unknown(self, i: int, tok: str) -> None:
        pending = self.pending
        if tok.startswith("#"):
            self._end_run("color")
            pending["color"] = tok
        elif tok.isdecimal():
            self._end_run("number")
            self._doubt_modifiers_before(f"the count {tok!r}")
            pending["count"] = int(tok[:6])
        elif tok in NEGATE_NEXT or (tok == "not" and self._next(i) in DETERMINERS):
            self._end_run("negation")
            pending["negate"] = True
        elif tok in ("or", "nor") and self.negating:
            self._end_run("stop")
            pending["negate"] = True
        elif tok in ONLY_WORDS:
            self._end_run("stop")
            if self._says_only(i):
                self.complete = False  # "only a bed", "an empty room", "nothing else": no scene completion
        elif tok in FUNCTION_WORDS:
            self._end_run("stop")
            self.negating = False
        elif tok in SURFACE_NOUNS or heads_phrase(tok):  # "grey walls", "a warm glow settles", "a gas station"
            self.run = []  # the unknown words before it were its modifiers
            self.pending = {}
            self.ignored.append(tok)
        else:
            if not self.run:
                self.run_pending = dict(pending)
            self.run.append(i)
            self.ignored.append(tok if len(tok) <= 40 else tok[:40] + "...")

    def _heads_compound(self, j: int) -> bool:
        """Whether the word at j is the head noun of a compound whose first word is a known object
        noun: a surface ("stone walls", "pine floors"), or an unknown noun closing its phrase after a
        material ("a stone birdbath")."""
        if j >= len(self.tokens) or _longest_match(self.tokens, j)[0] is not None:
            return False
        word, after = self.tokens[j], self._next(j)
        if word in SURFACE_NOUNS:
            return True
        if self.tokens[j - 1] not in MATERIALS:  # "a chalkboard menu", "a tv stand": the known thing is meant
            return False
        # Only a clear phrase end: after "a bench stands" or "a pond completes the picture" a verb follows.
        ends = after == "" or after in PUNCT or after in ("and", "or", "with") or (after,) in LEXICON and LEXICON[(after,)][0] == "relation"
        return word not in FUNCTION_WORDS and ends and names_an_object(word, False)

    def _says_only(self, i: int) -> bool:
        """Whether the word at i asks for nothing but what is named: "empty", "only a"/"just two"
        (not "not only", "just like"), "nothing else"."""
        tok, after = self.tokens[i], self._next(i)
        if tok == "empty":
            return True
        if tok == "nothing":
            return after == "else"
        return self._previous(i) != "not" and (after in DETERMINERS or after.isdecimal() or after in NUMBER_WORDS)

    def _next(self, i: int) -> str:
        return self.tokens[i + 1] if i + 1 < len(self.tokens) else ""

    def _previous(self, i: int) -> str:
        return self.tokens[i - 1] if i > 0 else ""

    def _end_run(self, boundary: str) -> None:
        """Close the run of unknown words: its last word named a thing when a determiner, count,
        colour or size opened the run and a phrase boundary (not a noun or modifier) closes it."""
        run, self.run = self.run, []
        if not run or boundary not in ("punct", "stop", "relation", "negation", "end"):
            return
        opened = self.run_pending
        if boundary == "punct":
            self.pending = {}  # "a muted, calm look": what opened the phrase ends with it
        if not ({"count", "color", "scale"} & opened.keys()) or opened.get("negate"):
            return
        j = run[-1]
        word = self.tokens[j]
        start = self.starts[j]
        capitalised = self.original[start : start + 1].isupper() and not _sentence_start(self.lowered, start)
        if not names_an_object(word, capitalised) or misspelled([word]):  # "a red fidge" is a typo, not a thing
            return
        self.ignored.pop(len(self.ignored) - 1 - self.ignored[::-1].index(word))  # read after all
        self.pending = opened
        name, is_plural = singular(word)
        self._add_object(GENERIC_LABEL, self.pending.get("count", 2 if is_plural else 1), name=name)
        self.warnings.append(f"{word!r} is not a kind worldgen knows: placed as a generic object")

    # ---- lexicon entries ------------------------------------------------------------------------
    def _on_number(self, value, words) -> None:
        self._doubt_modifiers_before(f"the count {words[0]!r}")
        self.pending["count"] = value
        self.pending["article"] = words[0] in ("a", "an")  # "on a table" still names the relation's target

    def _on_color(self, value, words) -> None:
        self.pending["color"] = value

    def _on_size(self, value, words) -> None:
        self.pending["scale"] = tuple(a * b for a, b in zip(self.pending.get("scale", (1.0, 1.0, 1.0)), value))

    def _on_scene(self, value, words) -> None:
        self.pending = {}  # "a forest with rocks": the article (or a size word) was the scene's
        if self.scene is None:
            self.scene = value
        elif value != self.scene:
            self.warnings.append(f"several scene types named; using {SCENE_TYPES[self.scene][0]!r}")

    def _on_relation(self, value, words) -> None:
        rel, needs_target = value
        self._doubt_modifiers_before(repr(" ".join(words)))
        if self.negating:
            return  # "without a rug under the table": the relation belongs to what is not there
        if self.last is None:
            self.ignored.extend(words[-1:])  # a relation with nothing before it
        elif needs_target:
            self.relation = rel
        else:
            self.last.rule = rel

    def _on_object(self, value, words) -> None:
        label, is_plural = value
        pending = self.pending
        if pending.get("negate"):  # "no tv", "without plants": never placed, not even by completion
            self.excluded.append(label)
            self.pending, self.negating = {}, True
            return
        self.negating = False
        if self.relation is not None and self.last is not None and ("count" not in pending or pending.get("article")):
            target = next((r for r in self.requests if r.label == label), None)
            if target is None:
                target = ObjectRequest(label, 1, pending.get("color"), pending.get("scale", (1.0, 1.0, 1.0)))
                self.requests.append(target)
                self.implied.append(target)
            self.last.rule = f"{self.relation}:{label}"
            self.relation, self.pending = None, {}
            return
        self._add_object(label, pending.get("count", 2 if is_plural else 1))

    def _add_object(self, label: str, count: int, name: str = "") -> None:
        pending = self.pending
        if count > MAX_COUNT:
            self.warnings.append(f"{count} {name or label}s asked for; at most {MAX_COUNT} are placed")
            count = MAX_COUNT
        # "chairs next to the table, a table": the table asked for is the one already implied
        last = next((r for r in self.implied if r.label == label and not name), None)
        if last is not None:
            self.implied.remove(last)
            last.count, last.color = count, pending.get("color", last.color)
            last.scale = pending.get("scale", last.scale)
        else:
            last = ObjectRequest(label, count, pending.get("color"), pending.get("scale", (1.0, 1.0, 1.0)), name=name)
            self.requests.append(last)
        self.last, self.relation, self.pending = last, None, {}

    def _doubt_modifiers_before(self, what: str) -> None:
        """A colour, size or count still waiting for its noun when a count or relation comes was
        most likely written after the object before ("a bed in blue, two lamps", "lamps, four of
        them, and a rug", "a stool that is red next to the table")."""
        late = [k for k in ("color", "scale") if k in self.pending]
        if "count" in self.pending and not self.pending.get("article"):  # "a pair of": an article, then the count
            late.append("count")
        if late:
            words = "/".join(late).replace("scale", "size")
            self.doubts.append(f"a {words} word came before {what}: it may belong to the object before")


def _sentence_start(lowered: str, at: int) -> bool:
    """Whether position `at` opens a sentence (only spaces and quotes since the last . ! ? or the start)."""
    before = lowered[:at].rstrip(" \t\n\"'(")
    return not before or before[-1] in ".!?:;"


KNOWN_WORDS = sorted({word for phrase in LEXICON for word in phrase if word.isalpha() and len(word) >= 4})


def unsure(parsed: ParsedPrompt) -> list[str]:
    """Why the rules' reading of a prompt may be wrong: likely typing mistakes in words they know,
    and word orders they only guess at (`ParsedPrompt.doubts`). Empty when the reading is sound."""
    typos = misspelled(parsed.ignored)
    return ([f"the rule parser did not know {', '.join(map(repr, typos[:5]))}"] if typos else []) + parsed.doubts[:3]


def misspelled(ignored: list[str], cutoff: float = 0.75) -> list[str]:
    """The ignored words that look like typing mistakes in words the parser knows ("tabel",
    "wooodn"): four letters or more and a difflib similarity of at least `cutoff` to a known word."""
    return [w for w in ignored if len(w) >= 4 and w.isalpha() and not _english(w) and _known_like(w, cutoff)]


def _english(word: str) -> bool:
    """Whether a word is one the reader knows as English of another kind (or as itself), so no typo:
    "deck" is not a mistyped desk, "bridge" no mistyped fridge, "sliding" no mistyped slide."""
    return ((word,) in LEXICON or word in FUNCTION_WORDS or word in SURFACE_NOUNS or heads_phrase(word)
            or word in MATERIALS or not names_an_object(word, False))


def _known_like(word: str, cutoff: float = 0.75) -> list[str]:
    """Known words `word` may be a typing mistake of, closest first. One slip changes a word's
    length by at most one (as paraphrase.misspell makes them), however similar difflib finds two
    words of more different lengths."""
    from difflib import get_close_matches

    return [k for k in get_close_matches(word, KNOWN_WORDS, 3, cutoff) if abs(len(k) - len(word)) <= 1]


def kinds_named(parsed: ParsedPrompt) -> set[str]:
    """The object labels a prompt names: those the rules read, and those its likely typing
    mistakes stand for ("fidge" -> fridge), less what it rules out."""
    named = {r.label for r in parsed.requests}
    for word in misspelled(parsed.ignored):
        for close in _known_like(word)[:1]:
            entry = LEXICON.get((close,))
            if entry is not None and entry[0] == "object":
                named.add(entry[1][0])
    return named - set(parsed.excluded)


def scene_for(parsed: ParsedPrompt) -> str:
    """The scene type the prompt names, else the one its objects suggest (`default_scene`)."""
    return parsed.scene_type or default_scene(parsed.requests)


def default_scene(requests: list[ObjectRequest]) -> str:
    """The scene type for a prompt that names none: outdoor when most requested things are outdoor
    things, then the type whose composer holds most of them ("a tent and a campfire": a campsite),
    a living room or a park when none does better."""
    outdoor_kinds = {s.label for v in OUTDOOR.values() for s in v[-1]}
    outdoor = sum(r.count for r in requests if r.label in outdoor_kinds)
    indoor = sum(r.count for r in requests) - outdoor
    table, fallback = (OUTDOOR, "park") if outdoor > indoor else (INDOOR, "living_room")

    def held(scene: str) -> int:
        kinds = {s.label for s in table[scene][-1]}
        return sum(r.count for r in requests if r.label in kinds)

    return max([fallback] + [k for k in table if k != fallback], key=held)  # ties keep the fallback


def layout_from_prompt(text: str, seed: int = 0, complete: bool = True) -> tuple[Layout, ParsedPrompt]:
    """A validated layout for the prompt (placement failures are reported in `warnings`)."""
    parsed = parse_prompt(text)
    return layout_from_parsed(parsed, seed, complete), parsed


def layout_from_parsed(parsed: ParsedPrompt, seed: int = 0, complete: bool = True) -> Layout:
    """The layout for an already parsed prompt, completed with what its scene type plausibly holds
    unless `complete` is False or the prompt says "only"/"empty"; placement failures are appended
    to its warnings."""
    return layout_from_requests(scene_for(parsed), parsed.requests, parsed.warnings, seed,
                                complete=complete and parsed.complete, excluded=parsed.excluded)


def layout_from_requests(scene: str, requests: list[ObjectRequest], warnings: list[str], seed: int = 0,
                         complete: bool = False, excluded=()) -> Layout:
    """Place the requested objects in a shell sized for them, then (with `complete`) what the
    scene type plausibly holds besides (procgen.completion), never a kind in `excluded`; what
    cannot be placed is appended to `warnings`. Shared by the rule-based parser and decoded
    layout programs."""
    rng = np.random.default_rng(seed)
    footprint = sum(r.count * np.prod([np.mean(a) * s for a, s in zip(SIZES[r.label][:2], r.scale[:2])])
                    for r in requests if r.label not in WALL_LABELS)
    if scene in INDOOR:
        (x0, x1), (y0, y1), _ = INDOOR[scene]
        sx, sy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        grow = max(1.0, np.sqrt(footprint / (0.3 * sx * sy)))  # keep the floor about a third covered
        shell = Shell("room", [round(min(sx * grow, 20.0), 2), round(min(sy * grow, 20.0), 2), round(float(rng.uniform(2.6, 3.0)), 2)],
                      floor_color=str(rng.choice(FLOOR_COLORS)), wall_color=str(rng.choice(WALL_COLORS)))
        clearance = 0.08
    else:
        (x0, x1), (y0, y1), terrain, _ = OUTDOOR[scene]
        sx, sy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        grow = max(1.0, np.sqrt(footprint / (0.15 * sx * sy)))
        shell = Shell("outdoor", [round(min(sx * grow, 60.0), 1), round(min(sy * grow, 60.0), 1)],
                      ground_color=str(rng.choice(ground_colors(scene))), terrain=terrain)
        clearance = 0.4
    layout = Layout(shell, [], scene)
    placer = Placer(layout, rng, clearance)
    present = {r.label for r in requests}

    def rule_for(r: ObjectRequest) -> str:
        rule = r.rule or DEFAULT_RULES.get(r.label, "anywhere")
        if rule == "anywhere" and r.label == "chair" and "table" in present:
            return "near:table"
        if rule == "anywhere" and r.label == "chair" and "desk" in present:
            return "front:desk"
        return rule

    asked = left_out = 0
    # Targets first, so "a lamp on the desk" finds its desk.
    for r in sorted(requests, key=lambda r: ":" in rule_for(r)):
        rule = rule_for(r)
        size = None
        if rule.startswith("on:"):
            target = SIZES[rule[3:]]
            size = ON_SIZES.get(r.label) or tuple(min(np.mean(a), 0.5 * np.mean(b)) for a, b in zip(SIZES[r.label], target))
        scaled = None if size is None else tuple(float(v * s) for v, s in zip(size, r.scale))
        spec = Spec(r.label, (r.count, r.count), rule, color=r.color, size=scaled, scale=r.scale, name=r.name)
        placed = sum(placer.place(spec) is not None for _ in range(r.count))
        if placed < r.count and rule not in ("anywhere", "wall_mount", "door"):
            # The relation has no room left (one chair fits in front of a desk): keep the count.
            loose = Spec(r.label, (1, 1), "anywhere", color=r.color, size=scaled, scale=r.scale, name=r.name)
            extra = sum(placer.place(loose) is not None for _ in range(r.count - placed))
            if extra:
                warnings.append(f"{extra} {r.label.replace('_', ' ')}(s) placed freely: no room left {rule.split(':')[0]} the {rule.split(':')[-1]}")
            placed += extra
        if placed < r.count:
            warnings.append(f"placed {placed} of {r.count} {r.name or r.label.replace('_', ' ')}(s) ({rule}): no free spot left")
        asked, left_out = asked + r.count, left_out + r.count - placed
    if left_out:
        warnings.append(f"{left_out} of the {asked} objects asked for did not fit and were left out")
    if complete:
        complete_scene(placer, scene, present, set(excluded), rng)
    layout.caption = caption(layout, placer.relations)
    return layout.validate("prompt layout")
