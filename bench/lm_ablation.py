"""Engram and mHC ablation for the text -> layout model (issue 5): for each seed the same pairs,
steps and initialisation seed train the tiny preset as is, with an Engram memory in block 1, and
with 4 mHC streams; each is scored on held-out pairs (teacher-forced loss) and, unless
--eval-layouts 0, on held-out prompts (object F1, bench/lm.py).

    .venv/bin/python bench/lm_ablation.py [--steps 400] [--layouts 800] [--seeds 0,1,2] [--eval-layouts 0]

About 4 minutes per variant and seed on 2 CPU cores with these settings. A variant "helps" or
"hurts" only when every seed moves the held-out loss the same way by more than 3%. The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--layouts", type=int, default=800, help="training layouts (3 captions + 5 requests each)")
    ap.add_argument("--eval-layouts", type=int, default=0, help="held-out layouts for F1 (4 prompts each); 0: loss only")
    ap.add_argument("--variants", default="baseline,engram,mhc", help=f"comma-separated, from {', '.join(VARIANTS)}")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated; each seed trains every variant")
    args = ap.parse_args()
    names, seeds = args.variants.split(","), [int(s) for s in args.seeds.split(",")]
    print(f"machine: {machine()}")
    held_out = [(text, target) for _, text, target in held_out_prompts(150)]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for seed in seeds:
        for name in names:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                cfg = TrainConfig(steps=args.steps, batch_size=32, warmup=30, seed=seed, log_every=10**9)
                lm = train_layout_lm(tmp, "tiny", args.layouts, 3, 5, cfg, seed=seed, model_options=VARIANTS[name],
                                     log=lambda s: None)
                train_s = time.perf_counter() - t0
            run = {"seed": seed, "params_m": round(lm.model.num_parameters() / 1e6, 3), "train_s": round(train_s, 1),
                   "heldout_loss_nats": round(evaluate_loss(lm.model, lm.tokenizer, held_out), 4)}
            if args.eval_layouts:
                run.update({f"f1_{k}": round(v["lm"], 4) for k, v in score(lm, args.eval_layouts)["f1"].items()})
            runs[name].append(run)
            print(f"{name:11s} {run}", flush=True)
    figures = {"machine": machine(), "steps": args.steps, "train_layouts": args.layouts, "seeds": seeds, "runs": runs}
    for name, rs in runs.items():
        losses = np.array([r["heldout_loss_nats"] for r in rs])
        figures[f"{name}_heldout_loss_nats_mean"] = round(float(losses.mean()), 4)
        figures[f"{name}_heldout_loss_nats_std"] = round(float(losses.std()), 4)
    if "baseline" in runs:
        base = runs["baseline"]
        for name, rs in runs.items():
            if name == "baseline":
                continue
            ratios = np.array([r["heldout_loss_nats"] / b["heldout_loss_nats"] for r, b in zip(rs, base)])
            times = np.array([r["train_s"] / b["train_s"] for r, b in zip(rs, base)])
            figures[f"{name}_heldout_loss_ratio_vs_baseline_mean"] = round(float(ratios.mean()), 4)
            figures[f"{name}_heldout_loss_ratio_vs_baseline_range"] = [round(float(ratios.min()), 4), round(float(ratios.max()), 4)]
            figures[f"{name}_train_time_ratio_vs_baseline_mean"] = round(float(times.mean()), 3)
            verdict = "helps" if (ratios < 0.97).all() else "hurts" if (ratios > 1.03).all() else "no clear effect"
            figures[f"{name}_verdict"] = verdict
            print(f"{name}: held-out loss ratio vs baseline {ratios.mean():.3f} (seeds {', '.join(f'{r:.3f}' for r in ratios)}), "
                  f"train time {times.mean():.2f}x: {verdict}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
