"""Scene completion: after the requested objects are placed, add what the scene type plausibly
holds, as its composer would (a bedroom gets nightstands, a wardrobe, a rug, a window, a door).

It never conflicts with the prompt: a kind the prompt names keeps the count the prompt gave, a
kind it rules out ("no tv") is never added, and "only", "empty" or `complete=False` turn it off
(text_rules.ParsedPrompt.complete). Added boxes carry `source="completion"`, so tools and users
can tell them from what was asked for.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .composers import INDOOR, OUTDOOR, Placer, Spec


def completion_specs(scene: str, named: set[str], excluded: set[str]) -> list[Spec]:
    """The scene type's composer specs for the kinds the prompt neither named nor ruled out."""
    specs = INDOOR[scene][-1] if scene in INDOOR else OUTDOOR[scene][-1] if scene in OUTDOOR else []
    return [replace(s, source="completion") for s in specs if s.label not in named | excluded]


def complete_scene(placer: Placer, scene: str, named: set[str], excluded: set[str], rng: np.random.Generator) -> int:
    """Place the completion of `scene` around what is already in the placer's layout; returns how
    many objects were added. A spec that finds no free spot is skipped, as in a composed scene."""
    added = 0
    for spec in completion_specs(scene, named, excluded):
        if rng.random() > spec.prob:
            continue
        for _ in range(int(rng.integers(spec.count[0], spec.count[1] + 1))):
            added += placer.place(spec) is not None
    return added
