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
from dataclasses import dataclass, field

import numpy as np

from renderer.layout import Layout, Shell
from .composers import FLOOR_COLORS, GROUND_COLORS, INDOOR, OUTDOOR, WALL_COLORS, Placer, Spec, caption
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
                 "window": "wall_mount", "door": "door", "house": "edge", "fence": "edge"}
ON_SIZES = {"lamp": (0.25, 0.25, 0.45), "plant": (0.25, 0.25, 0.4), "tv": (0.7, 0.2, 0.45)}


@dataclass
class ObjectRequest:
    label: str
    count: int
    color: str | None = None  # "#rrggbb"
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    rule: str | None = None  # a composer rule, "on:desk", "corner", ...


@dataclass
class ParsedPrompt:
    scene_type: str | None
    requests: list[ObjectRequest]
    ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)  # where the word order left the rules guessing


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
TOKEN = re.compile(HEX_COLOR.pattern + r"|\d+|[a-z]+(?:'[a-z]+)?")


def _longest_match(tokens: list[str], i: int) -> tuple[tuple[str, object] | None, int]:
    """The lexicon entry of the longest phrase starting at token i, and its length in tokens."""
    for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
        match = LEXICON.get(tuple(tokens[i : i + n]))
        if match:
            return match, n
    return None, 0


NEGATIONS = {"no", "not", "without", "none", "nor", "except"}
COUNT_AFTER = re.compile(r"\bx\s?\d+\b|\(\s*\d+\s*\)")
SENTENCE_RELATION = re.compile(r"(?:^|[.!?;]\s+)(" + "|".join(sorted((re.escape(p) for p, (_, target) in RELATIONS.items()
                                                                      if target), key=len, reverse=True)) + r")\b")


def parse_prompt(text: str) -> ParsedPrompt:
    if not isinstance(text, str):
        raise TypeError(f"a prompt must be a string, got {type(text).__name__}")
    warnings: list[str] = []
    if len(text) > MAX_PROMPT_CHARS:
        warnings.append(f"prompt is {len(text)} characters; only the first {MAX_PROMPT_CHARS} were read")
        text = text[:MAX_PROMPT_CHARS]
    lowered = text.lower()
    tokens = TOKEN.findall(lowered)
    if not tokens:
        warnings.append("empty prompt: an empty room")
    # The rules read one phrase at a time, modifiers before their noun. Word orders that break
    # that reading are noted in `doubts` (the auto engine hands such prompts to the model).
    doubts = [f"a sentence starts with {m.group(1)!r}: the rules attach it to the object before"
              for m in SENTENCE_RELATION.finditer(lowered)]
    negated = [t for t, nxt in zip(tokens, tokens[1:] + [""]) if t in NEGATIONS and nxt != "only"]  # "not only"
    if negated:
        doubts.append(f"the rules do not read negation ({', '.join(map(repr, sorted(set(negated))))})")
    if COUNT_AFTER.search(lowered):
        doubts.append("a count written after its noun ('x4', '(4)')")
    scene, requests, ignored = None, [], []
    pending: dict = {}

    def doubt_modifiers_before(what: str) -> None:
        """A colour, size or count still waiting for its noun when a count or relation comes was
        most likely written after the object before ("a bed in blue, two lamps", "lamps, four of
        them, and a rug", "a stool that is red next to the table")."""
        late = [k for k in ("color", "scale") if k in pending]
        if "count" in pending and not pending.get("article"):  # "a pair of": an article, then the count
            late.append("count")
        if late:
            words = "/".join(late).replace("scale", "size")
            doubts.append(f"a {words} word came before {what}: it may belong to the object before")

    relation: str | None = None
    last: ObjectRequest | None = None
    implied: list[ObjectRequest] = []  # objects created only as a relation's target ("on the desk")
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        match, n = _longest_match(tokens, i)
        if match is not None and match[0] == "object" and tok in COLOR_ALIASES and n == 1:
            following, _ = _longest_match(tokens, i + 1)
            if following is not None and following[0] == "object":  # "an oak table": oak is the colour,
                if following[1][0] == match[1][0]:  # but "oak trees" are trees
                    i += 1
                    continue
                match = ("color", COLORS[COLOR_ALIASES[tok]])
        i += max(n, 1)
        if match is None:
            if tok.startswith("#"):
                pending["color"] = tok
            elif tok.isdigit():
                doubt_modifiers_before(f"the count {tok!r}")
                pending["count"] = int(tok[:6])
            elif tok not in STOP_WORDS and tok != "a" and tok != "an":
                ignored.append(tok if len(tok) <= 40 else tok[:40] + "...")
            continue
        kind, value = match
        if kind == "number":
            doubt_modifiers_before(f"the count {tok!r}")
            pending["count"] = value
            pending["article"] = tok in ("a", "an")  # "on a table" still names the relation's target
        elif kind == "color":
            pending["color"] = value
        elif kind == "size":
            pending["scale"] = tuple(a * b for a, b in zip(pending.get("scale", (1.0, 1.0, 1.0)), value))
        elif kind == "scene":
            pending = {}  # "a forest with rocks": the article (or a size word) was the scene's
            if scene is None:
                scene = value
            elif value != scene:
                warnings.append(f"several scene types named; using {SCENE_TYPES[scene][0]!r}")
        elif kind == "relation":
            rel, needs_target = value
            doubt_modifiers_before(repr(" ".join(tokens[i - n : i])))
            if last is None:
                ignored.extend(tokens[i - 1 : i])  # a relation with nothing before it
            elif needs_target:
                relation = rel
            else:
                last.rule = rel
        elif kind == "object":
            label, plural = value
            if relation is not None and last is not None and ("count" not in pending or pending.get("article")):
                target = next((r for r in requests if r.label == label), None)
                if target is None:
                    target = ObjectRequest(label, 1, pending.get("color"), pending.get("scale", (1.0, 1.0, 1.0)))
                    requests.append(target)
                    implied.append(target)
                last.rule = f"{relation}:{label}"
                relation = None
            else:
                count = pending.get("count", 2 if plural else 1)
                if count > MAX_COUNT:
                    warnings.append(f"{count} {label}s asked for; at most {MAX_COUNT} are placed")
                    count = MAX_COUNT
                # "chairs next to the table, a table": the table asked for is the one already implied
                last = next((r for r in implied if r.label == label), None)
                if last is not None:
                    implied.remove(last)
                    last.count, last.color = count, pending.get("color", last.color)
                    last.scale = pending.get("scale", last.scale)
                else:
                    last = ObjectRequest(label, count, pending.get("color"), pending.get("scale", (1.0, 1.0, 1.0)))
                    requests.append(last)
                relation = None
            pending = {}
    for key in [k for k in pending if k != "article"]:  # modifiers that never reached a noun
        warnings.append(f"a {key} word was not followed by an object it could apply to")
        if key != "count" or not pending.get("article"):  # "and a dragon": an unknown noun, not a word order
            doubts.append(warnings[-1])
    if len(doubts) > MAX_DOUBTS_LISTED:
        doubts[MAX_DOUBTS_LISTED:] = [f"and {len(doubts) - MAX_DOUBTS_LISTED} more doubts"]
    return ParsedPrompt(scene, requests, ignored, warnings, doubts)


KNOWN_WORDS = sorted({word for phrase in LEXICON for word in phrase if word.isalpha() and len(word) >= 4})


def unsure(parsed: ParsedPrompt) -> list[str]:
    """Why the rules' reading of a prompt may be wrong: likely typing mistakes in words they know,
    and word orders they only guess at (`ParsedPrompt.doubts`). Empty when the reading is sound."""
    typos = misspelled(parsed.ignored)
    return ([f"the rule parser did not know {', '.join(map(repr, typos[:5]))}"] if typos else []) + parsed.doubts[:3]


def misspelled(ignored: list[str], cutoff: float = 0.75) -> list[str]:
    """The ignored words that look like typing mistakes in words the parser knows ("tabel",
    "wooodn"): four letters or more and a difflib similarity of at least `cutoff` to a known word."""
    from difflib import get_close_matches

    return [w for w in ignored if len(w) >= 4 and w.isalpha() and get_close_matches(w, KNOWN_WORDS, 1, cutoff)]


def _scene_for(parsed: ParsedPrompt) -> str:
    return parsed.scene_type or default_scene(parsed.requests)


def default_scene(requests: list[ObjectRequest]) -> str:
    """A park when most requested things are outdoor things, else a living room."""
    outdoor = sum(r.count for r in requests if r.label in {s.label for v in OUTDOOR.values() for s in v[3]})
    indoor = sum(r.count for r in requests) - outdoor
    return "park" if outdoor > indoor else "living_room"


def layout_from_prompt(text: str, seed: int = 0) -> tuple[Layout, ParsedPrompt]:
    """A validated layout for the prompt (placement failures are reported in `warnings`)."""
    parsed = parse_prompt(text)
    return layout_from_parsed(parsed, seed), parsed


def layout_from_parsed(parsed: ParsedPrompt, seed: int = 0) -> Layout:
    """The layout for an already parsed prompt; placement failures are appended to its warnings."""
    return layout_from_requests(_scene_for(parsed), parsed.requests, parsed.warnings, seed)


def layout_from_requests(scene: str, requests: list[ObjectRequest], warnings: list[str], seed: int = 0) -> Layout:
    """Place the requested objects in a shell sized for them; what cannot be placed is appended to
    `warnings`. Shared by the rule-based parser and decoded layout programs."""
    rng = np.random.default_rng(seed)
    footprint = sum(r.count * np.prod([np.mean(a) * s for a, s in zip(SIZES[r.label][:2], r.scale[:2])])
                    for r in requests if r.label not in ("door", "window", "painting"))
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
                      ground_color=str(rng.choice(GROUND_COLORS)), terrain=terrain)
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

    # Targets first, so "a lamp on the desk" finds its desk.
    for r in sorted(requests, key=lambda r: ":" in rule_for(r)):
        rule = rule_for(r)
        size = None
        if rule.startswith("on:"):
            target = SIZES[rule[3:]]
            size = ON_SIZES.get(r.label) or tuple(min(np.mean(a), 0.5 * np.mean(b)) for a, b in zip(SIZES[r.label], target))
        scaled = None if size is None else tuple(float(v * s) for v, s in zip(size, r.scale))
        spec = Spec(r.label, (r.count, r.count), rule, color=r.color, size=scaled, scale=r.scale)
        placed = sum(placer.place(spec) is not None for _ in range(r.count))
        if placed < r.count and rule not in ("anywhere", "wall_mount", "door"):
            # The relation has no room left (one chair fits in front of a desk): keep the count.
            loose = Spec(r.label, (1, 1), "anywhere", color=r.color, size=scaled, scale=r.scale)
            extra = sum(placer.place(loose) is not None for _ in range(r.count - placed))
            if extra:
                warnings.append(f"{extra} {r.label.replace('_', ' ')}(s) placed freely: no room left {rule.split(':')[0]} the {rule.split(':')[-1]}")
            placed += extra
        if placed < r.count:
            warnings.append(f"placed {placed} of {r.count} {r.label.replace('_', ' ')}(s) ({rule}): no free spot left")
    layout.caption = caption(layout, placer.relations)
    return layout.validate("prompt layout")
