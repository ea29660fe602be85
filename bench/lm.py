"""Text -> layout: the learned model (grammar-constrained decoding) against the rule-based parser.

    .venv/bin/python bench/lm.py --checkpoint assets/lm-tiny [--prompts 500]

Held-out prompts come from layouts composed with seeds the training never used: the engine's
own captions ("plain") and paraphrases (shuffled order, synonyms, digits, other templates).
Object-level F1 counts (label, count, colour) groups: a predicted group matches a true one when
all three agree. Also: decoding time per layout and tokens/s on this machine.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe as machine  # noqa: E402  (bench/machine.py)
from worldgen.lm import LayoutLM  # noqa: E402
from worldgen.procgen.composers import compose  # noqa: E402
from worldgen.procgen.paraphrase import describe  # noqa: E402
from worldgen.procgen.composers import groups  # noqa: E402
from worldgen.procgen.program import ProgramError, parse_program  # noqa: E402
from worldgen.procgen.text_rules import parse_prompt  # noqa: E402
from worldgen.procgen.vocab import SCENE_TYPES, nearest_color_name  # noqa: E402

HELD_OUT_SEED = 10_000_019  # training uses other seeds (worldgen.procgen.paraphrase.training_pairs)


def truth(layout, relations) -> set:
    return {(label, color, n) for label, color, n, _ in groups(layout, relations)}


def predicted_from_requests(requests) -> set:
    out: dict[tuple, int] = {}
    for r in requests:
        color = nearest_color_name(r.color) if r.color else "any"
        out[(r.label, color)] = out.get((r.label, color), 0) + r.count
    return {(label, color, n) for (label, color), n in out.items()}


def f1(pred: set, true: set) -> float:
    if not pred and not true:
        return 1.0
    hit = len(pred & true)
    return 0.0 if hit == 0 else 2 * hit / (len(pred) + len(true))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=str(ROOT / "assets" / "lm-tiny"))
    ap.add_argument("--prompts", type=int, default=500)
    args = ap.parse_args()
    lm = LayoutLM.load(args.checkpoint)
    print(f"machine: {machine()}")
    print(f"checkpoint: {args.checkpoint} ({lm.model.num_parameters() / 1e6:.2f}M parameters)")
    rng = np.random.default_rng(HELD_OUT_SEED)
    types = list(SCENE_TYPES)
    scores = {"plain": {"lm": [], "rules": []}, "paraphrased": {"lm": [], "rules": []}}
    decode_s, tokens, failures = [], 0, 0
    for i in range(args.prompts):
        layout, relations = compose(types[i % len(types)], int(rng.integers(2**31)))
        true = truth(layout, relations)
        for kind in scores:
            text, _ = describe(layout, relations, rng, plain=kind == "plain")
            rules = predicted_from_requests(parse_prompt(text).requests)
            t0 = time.perf_counter()
            try:
                program = lm.program(text)
                pred = predicted_from_requests(parse_program(program).requests)
                tokens += len(lm.tokenizer.encode(program).ids) + 1
            except ProgramError:
                pred, failures = set(), failures + 1
            decode_s.append(time.perf_counter() - t0)
            scores[kind]["lm"].append(f1(pred, true))
            scores[kind]["rules"].append(f1(rules, true))
    res = {k: {m: float(np.mean(v)) for m, v in d.items()} for k, d in scores.items()}
    for kind, d in res.items():
        print(f"{kind:12s} object F1 (label, count, colour): model {d['lm']:.3f}   rules {d['rules']:.3f}")
    print(f"decoding: {np.mean(decode_s):.2f} s per layout (max {np.max(decode_s):.2f}), {tokens / sum(decode_s):.0f} tokens/s, "
          f"{failures} hit the token cap")
    print(json.dumps({
        "machine": machine(), "prompts": args.prompts,
        "f1_plain_model": round(res["plain"]["lm"], 4), "f1_plain_rules": round(res["plain"]["rules"], 4),
        "f1_paraphrased_model": round(res["paraphrased"]["lm"], 4), "f1_paraphrased_rules": round(res["paraphrased"]["rules"], 4),
        "decode_s_per_layout_mean": round(float(np.mean(decode_s)), 3), "decode_s_per_layout_max": round(float(np.max(decode_s)), 3),
        "decode_tokens_per_s": round(tokens / sum(decode_s), 1), "token_cap_hits": failures,
    }))


if __name__ == "__main__":
    main()
