"""Engram and mHC ablation for the text -> layout model (issue 5): the same pairs, steps and seed
train the tiny preset as is, with an Engram memory in block 1, and with 4 mHC streams; each is
scored on held-out pairs (teacher-forced loss) and on held-out prompts (object F1, bench/lm.py).

    .venv/bin/python bench/lm_ablation.py [--steps 300] [--layouts 800] [--eval-layouts 40]

Takes about 25 minutes on 2 CPU cores with the defaults. One seed: differences of a few percent
in loss are within what another seed would move. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lm import held_out_prompts, score  # noqa: E402  (bench/lm.py)
from machine import describe as machine  # noqa: E402  (bench/machine.py)
from rtfm.language.train import TrainConfig, evaluate_loss  # noqa: E402
from worldgen.lm import train_layout_lm  # noqa: E402

VARIANTS = {"baseline": {}, "engram": {"engram_layers": (1,)}, "mhc": {"mhc_streams": 4},
            "engram+mhc": {"engram_layers": (1,), "mhc_streams": 4}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--layouts", type=int, default=800, help="training layouts (3 captions + 5 requests each)")
    ap.add_argument("--eval-layouts", type=int, default=40, help="held-out layouts for F1 (3 prompts each)")
    ap.add_argument("--variants", default="baseline,engram,mhc", help=f"comma-separated, from {', '.join(VARIANTS)}")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    held_out = [(text, target) for _, text, target in held_out_prompts(150)]
    results = {}
    for name in args.variants.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            cfg = TrainConfig(steps=args.steps, batch_size=32, warmup=30, seed=args.seed, log_every=10**9)
            lm = train_layout_lm(tmp, "tiny", args.layouts, 3, 5, cfg, seed=args.seed, model_options=VARIANTS[name],
                                 log=lambda s: None)
            train_s = time.perf_counter() - t0
        loss = evaluate_loss(lm.model, lm.tokenizer, held_out)
        f1 = score(lm, args.eval_layouts)["f1"]
        results[name] = {"params_m": round(lm.model.num_parameters() / 1e6, 3), "train_s": round(train_s, 1),
                         "heldout_loss_nats": round(loss, 4), **{f"f1_{k}": round(v["lm"], 4) for k, v in f1.items()}}
        print(f"{name:11s} {results[name]}", flush=True)
    base = results.get("baseline")
    figures = {"machine": machine(), "steps": args.steps, "train_layouts": args.layouts, "variants": results}
    if base:
        for name, r in results.items():
            if name != "baseline":
                figures[f"{name}_heldout_loss_ratio_vs_baseline"] = round(r["heldout_loss_nats"] / base["heldout_loss_nats"], 4)
                figures[f"{name}_train_time_ratio_vs_baseline"] = round(r["train_s"] / base["train_s"], 3)
                verdict = "helps" if r["heldout_loss_nats"] < 0.97 * base["heldout_loss_nats"] else (
                    "hurts" if r["heldout_loss_nats"] > 1.03 * base["heldout_loss_nats"] else "no clear effect (within 3%)")
                print(f"{name}: held-out loss {r['heldout_loss_nats']:.4f} vs baseline {base['heldout_loss_nats']:.4f}: {verdict}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
