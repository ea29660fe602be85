"""End-to-end generation: `worldgen.generate` with its defaults, draft and full, wall time and peak memory.

Each run is a fresh process (models loaded from disk, as a user's first call), so its wall time
and peak RSS are the whole cost. The reference, measured in the same run, is the draft; the
full world's time is printed as a ratio of it. Targets (issue 14): draft <= 60 s and full <= 5 min
on 2 CPU cores, peak RSS <= 8 GB.

    .venv/bin/python bench/generate.py
    .venv/bin/python bench/generate.py --prompt "a park with a red bench and two pine trees"

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import worldgen
world = worldgen.generate(sys.argv[1], quality=sys.argv[2], seed=0, progress=False)
world.save(sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "timings_s": world.manifest.get("timings_s"), "metrics": world.metrics, "gaussians": len(world.scene)}))
"""


def run(prompt: str, quality: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", CHILD, prompt, quality, str(Path(tmp) / "world")],
                             capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompt", default="a bedroom with a blue bed, a lamp and a bookshelf")
    args = ap.parse_args()
    print(f"machine: {describe()}")
    figures: dict = {"machine": describe(), "prompt": args.prompt}
    results = {q: run(args.prompt, q) for q in ("draft", "full")}
    for q, r in results.items():
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in (r["timings_s"] or {}).items())
        print(f"{q}: {r['seconds']:.1f} s end to end, peak RSS {r['peak_rss_mb']:.0f} MB, {r['gaussians']} Gaussians, "
              f"held-out PSNR {r['metrics'].get('psnr_heldout')} dB ({stages})")
        figures[f"{q}_seconds"] = round(r["seconds"], 2)
        figures[f"{q}_peak_rss_mb"] = round(r["peak_rss_mb"], 1)
        figures[f"{q}_psnr_heldout_db"] = r["metrics"].get("psnr_heldout")
        figures[f"{q}_stage_seconds"] = r["timings_s"]
    figures["full_over_draft_time_x"] = round(results["full"]["seconds"] / results["draft"]["seconds"], 3)
    print(f"full / draft time: {figures['full_over_draft_time_x']:.2f}x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
