"""Layout programs: the compact text the language model decodes, one line per object group.

    scene bedroom
    bed navy 1
    table wooden 2 near bed
    lamp white 1 small on table
    end

A line is `LABEL COLOR COUNT [SIZE] [RELATION [TARGET]]`: COLOR a colour name (spaces as
underscores), `#rrggbb` or `any`; COUNT 1..24; SIZE one of the size words; RELATION on, near,
front, facing, under (with a TARGET label) or corner, wall, center. `LayoutGrammar.allows`
answers whether a text can still grow into a valid program, which is what a constrained
sampler needs; `parse_program` turns a finished one into placement requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from renderer.layout import Layout
from .text_rules import MAX_COUNT, SIZE_WORDS, ObjectRequest, layout_from_requests
from .composers import groups
from .vocab import COLORS, SCENE_TYPES
from renderer.errors import WorldgenError

TARGET_RELATIONS = ("on", "near", "front", "facing", "under")
PLACE_RELATIONS = ("corner", "wall", "center")
COLOR_WORDS = tuple(name.replace(" ", "_") for name in COLORS) + ("any",)
_HEX = re.compile(r"#[0-9a-f]{0,6}")


class ProgramError(WorldgenError):
    """A layout program that does not parse; the message names the line."""


@dataclass
class Program:
    scene: str
    requests: list[ObjectRequest] = field(default_factory=list)


def _labels() -> tuple[str, ...]:
    from renderer.layout import OBJECT_LABELS

    return tuple(OBJECT_LABELS)


def _slot_words(previous: list[str], labels: tuple[str, ...]) -> tuple[str, ...] | None:
    """The words allowed in the next slot of an object line after `previous` words (None: a hex colour)."""
    n = len(previous)
    if n == 0:
        return labels + ("end",)
    if n == 1:
        return COLOR_WORDS  # or #hex, handled by the caller
    if n == 2:
        return tuple(str(i) for i in range(1, MAX_COUNT + 1))
    rest = previous[3:]
    if not rest:
        return tuple(SIZE_WORDS) + TARGET_RELATIONS + PLACE_RELATIONS
    if rest[-1] in TARGET_RELATIONS:
        return labels
    if rest[-1] in SIZE_WORDS and len(rest) == 1:
        return TARGET_RELATIONS + PLACE_RELATIONS
    return ()


MAX_OBJECTS = 24  # object lines a decoded program may have


class LayoutGrammar:
    """Prefix test for layout programs, for grammar-constrained decoding."""

    def __init__(self, max_objects: int = MAX_OBJECTS, hex_colors: tuple[str, ...] | None = None):
        """`hex_colors`: the only `#rrggbb` colours allowed (a decoder copies them from its prompt
        rather than inventing them); None allows any."""
        self.labels = _labels()
        self.scenes = tuple(SCENE_TYPES)
        self.max_objects = max_objects
        self.hex_colors = None if hex_colors is None else tuple(h.lower() for h in hex_colors)
        self._lines: dict[tuple[str, bool], bool] = {}  # _line_ok memo: decoding re-tests the same lines
        self._finished: dict[str, int] = {}  # finished-lines text -> object lines in it (-1: invalid)

    def _word_ok(self, word: str, allowed: tuple[str, ...], slot_index: int, complete: bool) -> bool:
        if slot_index == 1 and word.startswith("#"):
            if self.hex_colors is not None:
                return word in self.hex_colors if complete else any(h.startswith(word) for h in self.hex_colors)
            return (len(word) == 7 if complete else True) and bool(_HEX.fullmatch(word))
        if complete:
            return word in allowed
        return any(a.startswith(word) for a in allowed)

    def allows(self, text: str) -> bool:
        """Whether `text` is a prefix of (or is) a valid program."""
        done, newline, last = text.rpartition("\n")
        if not newline:  # still on the scene line
            words = text.split(" ")
            if len(words) == 1:
                return "scene".startswith(words[0])
            return words[0] == "scene" and len(words) == 2 and any(s.startswith(words[1]) for s in self.scenes)
        objects = self._objects_in(done)
        if objects < 0 or objects > self.max_objects:
            return False
        if objects == self.max_objects:
            return "end".startswith(last)  # the object budget is spent: only "end" may follow
        return last == "end" or self._line_memo(last, complete=False)

    def state(self, text: str, line_breaks: int) -> tuple:
        """A key equal for texts that allow the same continuations (GrammarConstraint's memo): the
        line being written, and the number of finished object lines where a token with up to
        `line_breaks` line breaks could still reach the object budget."""
        done, newline, last = text.rpartition("\n")
        if not newline:
            return ("head", text)
        objects = self._objects_in(done)
        if objects < 0:
            return ("dead",)
        return (objects if objects + line_breaks >= self.max_objects else "room", last)

    def _objects_in(self, done: str) -> int:
        """_count_finished, remembered: decoding tests many continuations of one text."""
        objects = self._finished.get(done)
        if objects is None:
            if len(self._finished) > 20_000:
                self._finished.clear()
            objects = self._finished[done] = self._count_finished(done)
        return objects

    def _count_finished(self, done: str) -> int:
        """The number of object lines in finished lines `done` (scene line first), -1 if invalid."""
        lines = done.split("\n")
        head = lines[0]
        if not (head.startswith("scene ") and head[6:] in self.scenes):
            return -1
        ok = all(line != "end" and self._line_memo(line, complete=True) for line in lines[1:])
        return len(lines) - 1 if ok else -1

    def _line_memo(self, line: str, complete: bool) -> bool:
        key = (line, complete)
        ok = self._lines.get(key)
        if ok is None:
            if len(self._lines) > 200_000:
                self._lines.clear()
            ok = self._lines[key] = self._line_ok(line, complete)
        return ok

    def _line_ok(self, line: str, complete: bool) -> bool:
        words = line.split(" ")
        for k, word in enumerate(words):
            word_complete = complete or k < len(words) - 1
            allowed = _slot_words(words[:k], self.labels)
            if word == "" and not word_complete:
                return allowed is None or len(allowed) > 0  # just after a space: some word must fit here
            if allowed is None or not self._word_ok(word, allowed, k, word_complete):
                return False
            if k == 0 and word == "end":
                return len(words) == 1 and not complete
        if complete:  # a finished object line needs at least label, colour and count, and no dangling relation
            return len(words) >= 3 and words[-1] not in TARGET_RELATIONS
        return True

    def is_complete(self, text: str) -> bool:
        return text.endswith("\nend") and self.allows(text)


def parse_program(text: str, max_objects: int = MAX_OBJECTS) -> Program:
    """A program's scene and object requests; raises ProgramError where it does not parse.
    max_objects: the object lines allowed (the decoder's budget; a layout's own program may have more)."""
    text = text.strip()
    grammar = LayoutGrammar(max_objects)
    if not grammar.is_complete(text):
        bad = _first_bad_line(text, grammar)
        raise ProgramError(f"layout program does not parse at line {bad + 1}: {text.splitlines()[bad] if text else ''!r}"[:300])
    lines = text.split("\n")
    program = Program(lines[0][6:])
    for line in lines[1:-1]:
        w = line.split(" ")
        color = None if w[1] == "any" else (w[1] if w[1].startswith("#") else COLORS[w[1].replace("_", " ")])
        scale, rule = (1.0, 1.0, 1.0), None
        rest = w[3:]
        if rest and rest[0] in SIZE_WORDS:
            scale, rest = SIZE_WORDS[rest[0]], rest[1:]
        if rest:
            rule = rest[0] if rest[0] in PLACE_RELATIONS else f"{rest[0]}:{rest[1]}"
        program.requests.append(ObjectRequest(w[0], int(w[2]), color, scale, rule))
    return program


def _first_bad_line(text: str, grammar: LayoutGrammar) -> int:
    lines = text.split("\n")
    for i in range(len(lines)):
        if not grammar.allows("\n".join(lines[: i + 1]) + ("\n" if i < len(lines) - 1 else "")):
            return i
    return len(lines) - 1


def layout_from_program(text: str, seed: int = 0) -> tuple[Layout, list[str]]:
    """A validated layout from a finished program, and the placement warnings."""
    program = parse_program(text)
    warnings: list[str] = []
    return layout_from_requests(program.scene, program.requests, warnings, seed), warnings


def program_line(label: str, color: str | None, count: int, size: str | None = None, rel: tuple | None = None) -> str:
    """One object line; `rel` is (relation, target label) or (place, None); colour None is `any`."""
    line = f"{label} {(color or 'any').replace(' ', '_')} {min(count, MAX_COUNT)}"
    if size is not None:
        line += f" {size}"
    if rel is not None:
        line += f" {rel[0]}" + (f" {rel[1]}" if rel[1] is not None else "")
    return line


def program_lines(scene: str, object_groups) -> list[str]:
    """The lines of a program for (label, colour name, count, relation) groups."""
    return [f"scene {scene}"] + [program_line(label, color, n, rel=rel) for label, color, n, rel in object_groups] + ["end"]


def program_from_layout(layout: Layout, relations=()) -> str:
    """The program a layout answers: objects grouped by (label, colour name, relation)."""
    return "\n".join(program_lines(layout.scene_type, groups(layout, relations)))
