"""Editing a world folder: select by phrase, label, box or sphere; edit; undo; save with its history.

    editor = WorldEditor.open("worlds/bedroom")
    bed = editor.select("the bed")                     # a Selection: mask [N], what it matched
    editor.recolor(bed, mode="replace", color="#c0392b")
    editor.undo()
    editor.insert_asset("lamp", center=[1.0, 0.5, 0.3], size=[0.3, 0.3, 0.6])
    editor.save()                                       # scene.ply, scene.base.ply, edits.json

A phrase is read by the project's text -> layout rules (`parse_prompt`): its objects' labels,
colours and counts. Each Gaussian belongs to the layout object whose box it lies in (same label,
nearest box within a margin), so "the red chair" picks the one chair whose Gaussians are reddest,
"all lamps" / "the lamps" every lamp, "two chairs" the two best matches, "the walls" a structure
label. The world folder keeps the unedited scene (scene.base.ply) and the edit log (edits.json),
so a world reopens with its undo history; scene.ply is always the edited scene, for other tools.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from renderer import GaussianScene, load_scene, save_scene
from renderer.edit import (EditError, EditHistory, box_local, number_param, select_box, select_labels,
                           select_sphere)
from renderer.formats.base import atomic_write, read_json
from renderer.layout import GENERIC_LABEL, LABEL_IDS, LABELS, Box, Layout, hex_to_rgb

from .world import World, WorldWriter, load_world

MAX_PHRASE_CHARS = 500
MAX_EDITS_FILE_BYTES = 256 << 20
INSTANCE_MARGIN_M = 0.12  # a Gaussian this far outside its object's box still belongs to it
ALL_WORDS = {"all", "every", "each", "both", "everything"}
STRUCTURE_WORDS = {"floor": "floor", "floors": "floor", "wall": "wall", "walls": "wall", "ceiling": "ceiling",
                   "ground": "ground", "grass": "ground", "sky": "sky"}


@dataclass
class Selection:
    """mask [N] bool over the scene the selection was made on; what it matched, for people."""

    mask: Tensor
    description: str
    objects: list[str] = field(default_factory=list)  # "chair #3 (#c0392b)", ...
    warnings: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.mask.sum())


def assign_instances(scene: GaussianScene, layout: Layout | None, margin: float = INSTANCE_MARGIN_M) -> Tensor:
    """[N] int64: the index of the layout object each Gaussian belongs to, -1 for none (structure,
    sky, unlabelled). A Gaussian goes to the nearest box of its own label, if within `margin` of it."""
    out = torch.full((len(scene),), -1, dtype=torch.int64)
    if layout is None or not layout.objects:
        return out
    means = scene.means.detach().double()
    by_label: dict[int, list[int]] = {}
    for i, box in enumerate(layout.objects):
        by_label.setdefault(LABEL_IDS[box.label], []).append(i)
    for label, boxes in by_label.items():
        idx = (scene.labels == label).nonzero().squeeze(1)
        if len(idx) == 0:
            continue
        dist = torch.stack([_box_distance(means[idx], layout.objects[i]) for i in boxes], dim=1)  # [n, B]
        best, which = dist.min(dim=1)
        ok = best <= margin
        out[idx[ok]] = torch.as_tensor(boxes, dtype=torch.int64)[which[ok]]
    return out


def _box_distance(points: Tensor, box: Box) -> Tensor:
    """Euclidean distance [n] from points [n, 3] to an oriented box (0 inside)."""
    local = box_local(points, box.center, box.yaw)
    out = (local.abs() - torch.as_tensor(box.size, dtype=points.dtype) / 2).clamp_min(0)
    return out.norm(dim=1)


# ---- phrases -------------------------------------------------------------------------------------------
def _words(phrase: str) -> list[str]:
    return re.findall(r"[a-z0-9#']+", phrase.lower())


def _chroma(rgb: Tensor) -> Tensor:
    """Colour with the baked shading divided out (brightness-normalised), plus a little brightness."""
    lum = rgb.mean(dim=-1, keepdim=True).clamp_min(1e-3)
    return torch.cat([rgb / lum / 3, 0.5 * lum], dim=-1)


def select_phrase(phrase: str, scene: GaussianScene, instances: Tensor, layout: Layout | None,
                  made_colour: Callable[[int], Tensor | None] | None = None) -> Selection:
    """The Gaussians a phrase names ("the bed", "all lamps", "the red chair", "two chairs", "the walls").

    made_colour(instance id): the rgb [3] an object was made with (its layout colour) while it is
      still in it, else None. A named colour is matched against that where it is known, else
      against what the splats show (shaded, several materials). Asked only for colour phrases."""
    from .procgen.text_rules import LEXICON, parse_prompt
    from .procgen.vocab import NUMBER_WORDS
    from .procgen.vocab import plural as plural_of

    if not isinstance(phrase, str) or not phrase.strip():
        raise EditError("the phrase is empty; name something in the world, e.g. 'the bed' or 'all lamps'")
    if len(phrase) > MAX_PHRASE_CHARS:
        raise EditError(f"the phrase is {len(phrase)} characters; at most {MAX_PHRASE_CHARS}")
    words = _words(phrase)
    parsed = parse_prompt(phrase)
    want_all = bool(ALL_WORDS & set(words))
    counted = any(w.isdecimal() or w in NUMBER_WORDS for w in words)
    mask = torch.zeros(len(scene), dtype=torch.bool)
    objects: list[str] = []
    warnings: list[str] = []
    for j, w in enumerate(words):  # structure: the floor, the walls, the sky (not "the floor lamp", "the ceiling lamp")
        if w in STRUCTURE_WORDS and LEXICON.get(tuple(words[j:j + 2]), ("",))[0] != "object":
            hit = select_labels(scene, [LABEL_IDS[STRUCTURE_WORDS[w]]])
            if hit.any() and STRUCTURE_WORDS[w] not in objects:
                mask |= hit
                objects.append(STRUCTURE_WORDS[w])
    present = _instances_by_label(scene, instances)
    for req in parsed.requests + _generic_named(words, parsed.requests, layout):
        candidates = present.get(req.label, [])
        if req.label == GENERIC_LABEL:  # a thing outside the vocabulary goes by the noun its box records
            candidates = [i for i in candidates if layout is not None and layout.objects[i].name == req.name]
        if not candidates:
            warnings.append(f"no {(req.name or req.label).replace('_', ' ')} in this world")
            continue
        plural = _is_plural(req.label, words) if req.label != GENERIC_LABEL else plural_of(req.name) in words
        every = want_all or (plural and not counted)
        ranked = _rank(scene, instances, candidates, req.color, made_colour or (lambda i: None))
        if every and req.color is not None:  # "the red chairs": those close to the best match in colour
            picked = [i for i, d in ranked if d <= 1.5 * ranked[0][1] + 0.08]
        else:
            picked = [i for i, _ in ranked[: len(candidates) if every else req.count]]
            if not every and not counted and len(candidates) > 1 and req.color is None:
                warnings.append(f"{len(candidates)} of {req.label.replace('_', ' ')} here; picked the largest "
                                f"(say 'all' for every one, or name its colour)")
        for i in picked:
            mask |= instances == i
            objects.append(f"{req.label} #{i}")
    if not mask.any():
        here = sorted({LABELS[int(v)] for v in torch.unique(scene.labels).tolist() if 0 <= v < len(LABELS)})
        raise EditError(f"nothing in the world matches {phrase[:80]!r}"
                        + (f" ({'; '.join(warnings)})" if warnings else "")
                        + f"; it holds: {', '.join(here) or 'nothing labelled'}")
    return Selection(mask, phrase.strip()[:MAX_PHRASE_CHARS], objects, warnings + list(parsed.warnings))


def _generic_named(words: list[str], requests: list, layout: Layout | None) -> list:
    """Requests for the layout's generic objects whose noun the phrase names but the text rules did
    not read as a thing to place ("the hammock": no article or count opened the phrase)."""
    from .procgen.text_rules import ObjectRequest
    from .procgen.vocab import plural

    read = {r.name for r in requests if r.label == GENERIC_LABEL}
    names = {o.name for o in (layout.objects if layout is not None else []) if o.label == GENERIC_LABEL and o.name}
    return [ObjectRequest(GENERIC_LABEL, 1, name=n) for n in sorted(names - read) if n in words or plural(n) in words]


def _instances_by_label(scene: GaussianScene, instances: Tensor) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    ids = torch.unique(instances[instances >= 0]).tolist()
    for i in ids:
        labels = scene.labels[instances == i]
        out.setdefault(LABELS[int(torch.mode(labels).values)], []).append(int(i))
    return out


def _is_plural(label: str, words: list[str]) -> bool:
    """Whether the phrase names `label` in a plural form ("lamps", "couches", "pine trees")."""
    from .procgen.vocab import NOUNS, SYNONYMS

    forms = {NOUNS[label][1].split()[-1]} | {w.split()[-1] for w, lab in SYNONYMS.items() if lab == label
                                              and w.endswith("s") and (w[:-1] in SYNONYMS or w[:-2] in SYNONYMS)}
    return bool(forms & set(words))


def _rank(scene: GaussianScene, instances: Tensor, candidates: list[int], color: str | None,
          made_colour: Callable[[int], Tensor | None]) -> list[tuple[int, float]]:
    """Candidates best first: by colour distance to `color` when given, else by size (Gaussians);
    equally coloured ones (two red umbrellas made alike) by size."""
    scored, sizes = [], {}
    shown = scene.rgb() if color is not None else None
    target = torch.tensor(hex_to_rgb(color), dtype=torch.float32) if color is not None else None
    for i in candidates:
        sel = instances == i
        sizes[i] = int(sel.sum())
        if color is None:
            scored.append((i, -float(sizes[i])))
        else:
            made = made_colour(i)
            rgb = made if made is not None else shown[sel].median(dim=0).values
            scored.append((i, round(float((_chroma(rgb) - _chroma(target)).norm()), 6)))
    return sorted(scored, key=lambda t: (t[1], -sizes[t[0]], t[0]))


# ---- the editor ----------------------------------------------------------------------------------------
def _vector3(value, name: str) -> list[float]:
    items = list(value) if isinstance(value, (list, tuple, Tensor, np.ndarray)) else None
    if items is None or len(items) != 3:
        raise EditError(f"{name} must be three numbers (metres), got {value!r}"[:200])
    return [number_param(v, f"{name}[{i}]") for i, v in enumerate(items)]


class WorldEditor:
    """Edits on a world's splats with undo/redo; `save` writes them into the world folder."""

    def __init__(self, world: World, history: EditHistory):
        self.world = world
        self.layout = world.layout
        self.history = history

    @classmethod
    def open(cls, world: World | str | os.PathLike) -> "WorldEditor":
        world = world if isinstance(world, World) else load_world(world)
        base_file = world.file("scene_base")
        base = load_scene(base_file) if base_file is not None else world.scene
        instances = assign_instances(base, world.layout)
        edits_file = world.file("edits")
        if edits_file is None:
            return cls(world, EditHistory(base, instances))
        data = read_json(edits_file, EditError, max_bytes=MAX_EDITS_FILE_BYTES)
        return cls(world, EditHistory.from_dict(data, base, instances, source=str(edits_file)))

    # selections ----------------------------------------------------------------------------------------
    @property
    def scene(self) -> GaussianScene:
        return self.history.scene

    def select(self, phrase: str | None = None, *, labels=None, box=None, sphere=None) -> Selection:
        """By phrase, by labels (names or ids), by box (center, size[, yaw]) or by sphere (center, radius)."""
        scene = self.scene
        if phrase is not None:
            return select_phrase(phrase, scene, self.history.instances, self.layout, self._made_colour)
        if labels is not None:
            ids = [LABEL_IDS[v] if isinstance(v, str) and v in LABEL_IDS else v for v in labels]
            if not all(isinstance(v, int) and 0 <= v < len(LABELS) for v in ids):
                raise EditError(f"unknown labels {labels!r}; known: {', '.join(LABELS)}"[:400])
            return self._checked(Selection(select_labels(scene, ids), "labels " + ", ".join(LABELS[i] for i in ids)))
        if box is not None:
            center, size, *yaw = box
            return self._checked(Selection(select_box(scene, center, size, *(yaw or [0.0])), f"box at {list(center)}"))
        if sphere is not None:
            center, radius = sphere
            return self._checked(Selection(select_sphere(scene, center, radius), f"sphere at {list(center)} r={radius}"))
        raise EditError("select needs a phrase, labels, a box or a sphere")

    def _made_colour(self, i: int) -> Tensor | None:
        """The layout colour object `i` was made with, while its splats still show it (not
        recoloured since; copies get new instance ids beyond the layout's and so have none)."""
        if self.layout is None or not 0 <= i < len(self.layout.objects):
            return None
        base, now = self.history.state(0), self.history.state()
        was, is_ = base.instances == i, now.instances == i
        if not (was.any() and is_.any()):
            return None
        change = base.scene.rgb()[was].median(0).values - now.scene.rgb()[is_].median(0).values
        return torch.tensor(self.layout.objects[i].rgb, dtype=torch.float32) if change.abs().max() < 0.02 else None

    @staticmethod
    def _checked(sel: Selection) -> Selection:
        if not sel.mask.any():
            raise EditError(f"the selection ({sel.description}) holds no Gaussians")
        return sel

    def _mask(self, selection: Selection) -> Tensor:
        if selection.mask.shape != (len(self.scene),):
            raise EditError("the selection was made on another version of the scene; select again")
        return selection.mask

    # operations ----------------------------------------------------------------------------------------
    def recolor(self, selection: Selection, mode: str = "tint", color=None, amount: float = 0.6,
                hue_deg: float = 0.0) -> GaussianScene:
        rgb = list(hex_to_rgb(color)) if isinstance(color, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", color) else color
        if isinstance(color, str) and rgb is color:
            raise EditError(f"colour must be '#rrggbb' or three numbers in [0, 1], got {color!r}"[:200])
        params = ({"mode": mode, "hue_deg": number_param(hue_deg, "hue_deg")} if mode == "hue"
                  else {"mode": mode, "color": rgb, "amount": number_param(amount, "tint amount")})
        return self.history.apply("recolor", self._mask(selection), description=f"recolour {selection.description}",
                                  **params)

    def delete(self, selection: Selection) -> GaussianScene:
        return self.history.apply("delete", self._mask(selection), description=f"delete {selection.description}")

    def transform(self, selection: Selection, translate=(0.0, 0.0, 0.0), yaw_deg: float = 0.0,
                  scale: float = 1.0) -> GaussianScene:
        return self.history.apply("transform", self._mask(selection), description=f"move {selection.description}",
                                  translate=_vector3(translate, "translate"), yaw_deg=number_param(yaw_deg, "yaw_deg"),
                                  scale=number_param(scale, "scale"))

    def duplicate(self, selection: Selection, translate=(0.5, 0.0, 0.0), yaw_deg: float = 0.0) -> GaussianScene:
        return self.history.apply("duplicate", self._mask(selection), description=f"duplicate {selection.description}",
                                  translate=_vector3(translate, "translate"), yaw_deg=number_param(yaw_deg, "yaw_deg"))

    def insert_asset(self, label: str, center, size, yaw_deg: float = 0.0, color: str = "#8a6f4e",
                     seed: int = 0) -> GaussianScene:
        """A procedural `label` asset built into the box (center, size, yaw) and added as Gaussians."""
        from .asset_splats import asset_gaussians

        other = asset_gaussians(label, center, size, yaw_deg, color, seed, outdoor=self._outdoor())
        return self.history.apply("insert", description=f"insert {label}", other=other)

    def regenerate(self, selection: Selection, seed: int = 0, **kw) -> GaussianScene:
        """Re-render the views that see the selection with the frame model (its memory with the
        region cut out) and re-lift the region from them (worldgen.regenerate)."""
        from .regenerate import regenerate_region

        other = regenerate_region(self.world, self.scene, self._mask(selection), seed=seed, **kw)
        return self.history.apply("replace", self._mask(selection), description=f"regenerate {selection.description}",
                                  other=other)

    def undo(self) -> GaussianScene:
        return self.history.undo()

    def redo(self) -> GaussianScene:
        return self.history.redo()

    def _outdoor(self) -> bool:
        return self.layout is not None and self.layout.shell.kind == "outdoor"

    # persistence ---------------------------------------------------------------------------------------
    def save(self, out: str | os.PathLike | None = None) -> Path:
        """Write the edited scene, the unedited one and the history into the world folder (or `out`),
        atomically: a crash leaves the world as it was before."""
        scene_name = self.world.manifest["files"]["scene"]
        with WorldWriter.update(self.world, out) as writer:
            save_scene(self.scene, writer.add("scene", scene_name))
            writer.scene_changed()
            if self.world.file("scene_base") is None:
                save_scene(self.history.base, writer.add("scene_base", "scene.base" + Path(scene_name).suffix))
            atomic_write(writer.add("edits", "edits.json"), [json.dumps(self.history.to_dict()).encode()])
            writer.manifest["edits"] = {"count": len(self.history.log), "done": self.history.done,
                                        "last": [r.get("description", r["op"]) for r in self.history.log[-5:]]}
            path = writer.commit()
        self.world = load_world(path)
        return path
