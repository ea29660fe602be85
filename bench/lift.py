"""Lifting frames into splats, the TSDF mesh, and the draft `worldgen generate`.

    .venv/bin/python bench/lift.py [--budget 120]

1. A seeded procedural room (bedroom, seed 0): 48 training frames of 128x128 with depth and
   8 held-out views along an orbit. Lift under a time budget; print held-out PSNR and SSIM
   (torchmetrics) against time. Reference in the same run: the initial, unoptimised cloud.
2. The TSDF mesh of those frames: the share of its vertices within 2 cm of the procedural
   ground-truth surface.
3. `worldgen generate` (draft, default settings) as a user runs it: wall time and peak RSS.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import trimesh

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)

from renderer.lift import LiftConfig, evaluate, initial_scene, lift  # noqa: E402
from renderer.mesh import tsdf_mesh  # noqa: E402
from worldgen.procgen.composers import compose  # noqa: E402
from worldgen.procgen.dataset import render_sequence  # noqa: E402
from worldgen.procgen.paths import camera_path  # noqa: E402
from worldgen.procgen.world import build_world  # noqa: E402




def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=120.0)
    args = ap.parse_args()
    print(f"machine: {describe()}")
    layout, _ = compose("bedroom", 0)
    world = build_world(layout, 0)
    cams = camera_path(layout, "orbit", 56, width=128, height=128, seed=0)
    seq = render_sequence(layout, world, cams)
    test = list(range(3, 56, 7))
    train = [i for i in range(56) if i not in test]
    print(f"scene: {layout.caption}; {len(train)} training frames, {len(test)} held out, 128x128")
    tr_cams, te_cams = [cams[i] for i in train], [cams[i] for i in test]
    rgb, depth, label = torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), torch.from_numpy(seq.label)

    cfg = LiftConfig(iterations=100_000, time_budget_s=args.budget, seed=0)
    init = initial_scene(tr_cams, rgb[train], depth[train], label[train], cfg.init_points, torch.Generator().manual_seed(0))
    base = evaluate(init, te_cams, seq.rgb[test])
    # PSNR against time: lift with growing budgets from the same start (each a fresh, seeded run).
    curve = []
    for fraction in (0.25, 0.5, 1.0):
        budget = args.budget * fraction
        t0 = time.perf_counter()
        res = lift(tr_cams, rgb[train], depth[train], label[train], LiftConfig(iterations=100_000, time_budget_s=budget, seed=0))
        m = evaluate(res.scene, te_cams, seq.rgb[test])
        curve.append({"budget_s": budget, "seconds": round(time.perf_counter() - t0, 1), "steps": res.steps,
                      "psnr_db": round(m["psnr"], 2), "ssim": round(m["ssim"], 4), "gaussians": len(res.scene)})
        print(f"  lift {budget:6.1f} s budget: {res.steps:5d} steps, held-out PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f}")
    final = curve[-1]
    print(f"held-out PSNR {final['psnr_db']} dB (initial cloud {base['psnr']:.2f} dB), SSIM {final['ssim']} "
          f"(initial {base['ssim']:.4f}) after {args.budget:.0f} s")

    mesh = tsdf_mesh(cams, seq.depth, seq.rgb, voxel_size=0.02)
    truth = trimesh.Trimesh(world.vertices, world.faces, process=False)
    sample = mesh.vertices[:: max(1, len(mesh.vertices) // 20_000)]
    dist = np.abs(trimesh.proximity.ProximityQuery(truth).signed_distance(sample))
    within = float((dist < 0.02).mean())
    print(f"TSDF mesh: {len(mesh.faces)} triangles, {within:.1%} of vertices within 2 cm of the true surface")

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(ROOT / ".venv" / "bin" / "worldgen"), "generate", "a bedroom with a blue bed, two lamps and a wooden wardrobe",
               "--out", f"{tmp}/world"]
        if not Path(cmd[0]).exists():
            cmd = [sys.executable, "-m", "worldgen.cli"] + cmd[1:]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        gen_s = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(r.stderr[-2000:])
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
        manifest = json.loads(Path(f"{tmp}/world/world.json").read_text())
    print(f"worldgen generate (draft): {gen_s:.1f} s wall, peak RSS {peak_gb:.2f} GB, "
          f"held-out PSNR {manifest['metrics']['psnr_heldout']} dB; stages {manifest['timings_s']}")
    print(json.dumps({
        "machine": describe(),
        "psnr_heldout_db": final["psnr_db"], "ssim_heldout": final["ssim"],
        "psnr_heldout_initial_cloud_db": round(base["psnr"], 2), "ssim_heldout_initial_cloud": round(base["ssim"], 4),
        "lift_budget_s": args.budget, "lift_curve": curve,
        "mesh_vertices_within_2cm": round(within, 4),
        "generate_wall_s": round(gen_s, 1), "generate_peak_rss_gb": round(peak_gb, 2),
        "generate_psnr_heldout_db": manifest["metrics"]["psnr_heldout"],
    }))


if __name__ == "__main__":
    main()
