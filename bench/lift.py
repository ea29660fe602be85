"""Lifting frames into splats, the TSDF mesh, and the draft `worldgen generate`.

    .venv/bin/python bench/lift.py [--budget 120] [--skip-generate]

1. A seeded procedural room (bedroom, seed 0): 48 training frames of 128x128 with depth and
   8 held-out views along an orbit. Lift under a time budget; print held-out PSNR and SSIM
   (torchmetrics) against time. Reference in the same run: the lift before the voxel
   initialisation and the sky model (REFERENCE), and the initial cloud alone.
2. The TSDF mesh of those frames: the share of its vertices within 2 cm of the procedural
   ground-truth surface.
3. A checkered room (high-frequency walls and floor, 48 + 8 anti-aliased views of 128x128 with depth):
   held-out PSNR after the budget, against the reference and against lifting aliased frames.
4. One lift step at 128 and 256 pixels: forward, backward, Adam, strategy and the rest.
5. `worldgen generate` (draft) per scene type (indoor, outdoor) as a user runs it (defaults:
   256-pixel frames anti-aliased 2x2, a 512-pixel flythrough), against the same pipeline with one
   ray per pixel and with the reference lift: wall time, peak RSS, held-out PSNR, Gaussians.
The last line is one JSON object with every figure (keys name their unit).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as worldgen sets it for its CLI; before torch loads OpenMP

import numpy as np  # noqa: E402
import torch  # noqa: E402
import trimesh  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)

from renderer.lift import LiftConfig, evaluate, initial_scene, lift  # noqa: E402
from renderer.mesh import tsdf_mesh  # noqa: E402
from worldgen.procgen.composers import compose  # noqa: E402
from worldgen.procgen.dataset import render_sequence  # noqa: E402
from worldgen.procgen.paths import camera_path  # noqa: E402
from worldgen.procgen.world import build_world  # noqa: E402


CHECKER_SIZE = (128, 128)  # the checkered room's frames
CHECKER_TRAIN, CHECKER_HELDOUT = 48, 8


def checkered_room(width: int = CHECKER_SIZE[0], height: int = CHECKER_SIZE[1], samples_per_pixel: int = 2):
    """A room whose walls, floor, ceiling and two blocks all wear 10 cm checks (raycast's "checker"
    texture, squares of 2-5 pixels at these distances): the high-frequency case of lifting.
    56 cameras on a circle inside it, each looking across the room; every 7th (from the 4th) is
    held out. The frames are anti-aliased (`samples_per_pixel`), as a camera's sensor integrates
    each pixel: aliased checks are view-dependent noise no 3D scene can fit, so they measure the
    renderer of the ground truth more than the lift.
    -> (cameras, rgb [56, H, W, 3], depth [56, H, W], label [56, H, W], train, test)."""
    from renderer import Camera
    from renderer.layout import LABEL_IDS
    from renderer.raycast import Light, MeshWorld, raycast

    w, d, h, t = 4.6, 5.3, 2.7, 0.1  # room size (m), wall thickness
    slabs = [((w + 2 * t, d + 2 * t, t), (0, 0, -t / 2), "floor"), ((w + 2 * t, d + 2 * t, t), (0, 0, h + t / 2), "ceiling"),
             ((t, d, h), (-(w + t) / 2, 0, h / 2), "wall"), ((t, d, h), ((w + t) / 2, 0, h / 2), "wall"),
             ((w, t, h), (0, -(d + t) / 2, h / 2), "wall"), ((w, t, h), (0, (d + t) / 2, h / 2), "wall"),
             ((0.9, 0.6, 0.75), (1.2, 1.6, 0.375), "table"), ((0.5, 0.5, 1.1), (-1.4, -1.7, 0.55), "wardrobe")]
    colors = {"floor": (0.75, 0.6, 0.45), "ceiling": (0.95, 0.95, 0.95), "wall": (0.55, 0.7, 0.9),
              "table": (0.9, 0.4, 0.3), "wardrobe": (0.4, 0.8, 0.45)}
    parts = [(trimesh.creation.box(extents=e, transform=trimesh.transformations.translation_matrix(c)), "checker",
              colors[name], LABEL_IDS[name], i) for i, (e, c, name) in enumerate(slabs)]
    world = MeshWorld.from_parts(parts, ["checker"], lights=[Light(position=(0.3, -0.4, h - 0.3), intensity=0.9, falloff=0.05)],
                                 ambient=0.4, sky=False)
    n = CHECKER_TRAIN + CHECKER_HELDOUT
    cams = []
    for k in range(n):
        a = 2 * np.pi * k / n
        eye = np.array([1.1 * np.cos(a), 1.3 * np.sin(a), 1.45 + 0.15 * np.sin(3 * a)])
        target = np.array([-2.0 * np.cos(a + 0.3), -2.4 * np.sin(a + 0.3), 0.9])
        cams.append(Camera.look_at(eye.tolist(), target.tolist(), width=width, height=height, fov_y_deg=70.0))
    shots = [raycast(world, c, samples_per_pixel=samples_per_pixel) for c in cams]
    stack = lambda key: torch.from_numpy(np.stack([s[key] for s in shots]))  # noqa: E731
    test = list(range(3, n, 7))
    train = [i for i in range(n) if i not in test]
    return cams, stack("rgb"), stack("depth"), stack("label").long(), train, test


# The reference in the same run: lifting as it was before the voxel initialisation and the sky
# model (random pixel samples, k-NN spheres at opacity 0.5, black behind the splats, the learning
# rates of that version), on the same rasteriser.
REFERENCE = dict(init="sample", sky="off", init_opacity=0.5, lr_scales=2e-2, lr_opacities=0.1, lr_sh0=2e-2,
                 lr_means_long=None, lr_scales_long=None, lr_sh0_long=None)
PROMPTS = {"indoor": "a bedroom with a blue bed, two lamps and a wooden wardrobe",
           "outdoor": "a park with a red bench, two pine trees and a pond"}


def lifted(cams, rgb, depth, label, train, test, budget: float, **options) -> dict:
    """Lift the training frames for `budget` seconds; held-out PSNR (dB) and SSIM."""
    t0 = time.perf_counter()
    res = lift([cams[i] for i in train], rgb[train], depth[train], label[train],
               LiftConfig(iterations=100_000, time_budget_s=budget, seed=0, **options))
    m = evaluate(res.scene, [cams[i] for i in test], rgb[test])
    return {"budget_s": budget, "seconds": round(time.perf_counter() - t0, 1), "steps": res.steps, "psnr_db": round(m["psnr"], 2),
            "ssim": round(m["ssim"], 4), "gaussians": len(res.scene), "initial_gaussians": res.history[0]["gaussians"]}


def profile_step(cams, rgb, depth, label, train, steps: int = 6) -> dict:
    """Seconds per lift step, split into forward render, loss, backward, Adam and gsplat's strategy,
    measured inside one short lift (the first steps are warm-up and not counted)."""
    import renderer.lift as rl

    parts: dict[str, float] = {}
    wrapped = {"render": rl.render}

    def timed(name, fn):
        def run(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            parts[name] = parts.get(name, 0.0) + time.perf_counter() - t
            return out
        return run

    from gsplat.strategy import DefaultStrategy

    originals = (rl.render, DefaultStrategy.step_post_backward, torch.Tensor.backward, torch.optim.Adam.step)
    rl.render = timed("forward", wrapped["render"])
    DefaultStrategy.step_post_backward = timed("strategy", originals[1])
    torch.Tensor.backward = timed("backward", originals[2])
    torch.optim.Adam.step = timed("adam", originals[3])
    try:
        warm = 2
        res = lift([cams[i] for i in train], rgb[train], depth[train], label[train], LiftConfig(iterations=warm, seed=0))
        parts.clear()
        res = lift([cams[i] for i in train], rgb[train], depth[train], label[train], LiftConfig(iterations=warm + steps, seed=0))
    finally:
        rl.render, DefaultStrategy.step_post_backward, torch.Tensor.backward, torch.optim.Adam.step = originals
    total = res.seconds
    # The warm-up steps of the second lift ran too: scale every part by the counted share.
    share = steps / (warm + steps)
    out = {k: round(v * share / steps, 4) for k, v in parts.items()}
    out["other"] = round(max(0.0, total * share / steps - sum(out.values())), 4)  # SSIM, sky, bookkeeping
    out["total"] = round(total * share / steps, 4)
    out["gaussians"] = len(res.scene)
    return out


def run_generate(prompt: str, out: str, **api) -> dict:
    """`worldgen generate PROMPT --out OUT` as a user runs it, or (with `api`: samples_per_pixel for the
    procedural source, or lift_options for the lift, which the CLI does not take) the same draft in
    a fresh process: wall seconds, peak RSS, held-out PSNR, Gaussians and stage timings."""
    if not api:
        exe = ROOT / ".venv" / "bin" / "worldgen"
        cmd = ([str(exe)] if exe.exists() else [sys.executable, "-m", "worldgen.cli"]) + ["generate", prompt, "--out", out]
    else:
        code = ("from renderer.lift import LiftConfig; from worldgen.build import build_world; "
                "from worldgen.config import GenerateConfig; from worldgen.sources import ProceduralSource; "
                f"api = {api!r}; lift = api.pop('lift_options', None); "
                f"source = ProceduralSource(None, {prompt!r}, GenerateConfig(), **api); "
                f"build_world(source, {out!r}, progress=False, "
                "lift=None if lift is None else LiftConfig(iterations=100_000, time_budget_s=GenerateConfig().value("
                "'time_budget_s'), **lift))")
        cmd = [sys.executable, "-c", code]
    timer = "/usr/bin/time"
    measured = Path(timer).exists()
    if measured:  # the child's own peak RSS (RUSAGE_CHILDREN would give the largest child so far)
        cmd = [timer, "-f", "%M", *cmd]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    rss_kb = int(r.stderr.strip().splitlines()[-1]) if measured else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    manifest = json.loads(Path(out, "world.json").read_text())
    return {"wall_s": round(wall, 1), "peak_rss_gb": round(rss_kb / 1024**2, 2), "psnr_heldout_db": manifest["metrics"]["psnr_heldout"],
            "gaussians": manifest["lift"]["gaussians"], "lift_steps": manifest["lift"]["steps"],
            "sky_shell": (manifest.get("sky") or {}).get("shell_gaussians", 0), "stages_s": manifest["timings_s"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=120.0)
    ap.add_argument("--skip-generate", action="store_true")
    args = ap.parse_args()
    print(f"machine: {describe()}")
    print("(timings on a shared machine vary from run to run; ratios compare runs of this process)")
    figures: dict = {"machine": describe(), "lift_budget_s": args.budget}

    # 1. A procedural room at 128x128: held-out PSNR against time, and the reference at the full budget.
    layout, _ = compose("bedroom", 0)
    world = build_world(layout, 0)
    cams = camera_path(layout, "orbit", 56, width=128, height=128, seed=0)
    seq = render_sequence(layout, world, cams)
    test = list(range(3, 56, 7))
    train = [i for i in range(56) if i not in test]
    rgb, depth, label = torch.from_numpy(seq.rgb), torch.from_numpy(seq.depth), torch.from_numpy(seq.label).long()
    print(f"1. {layout.caption}: {len(train)} training frames, {len(test)} held out, 128x128")
    init = initial_scene([cams[i] for i in train], rgb[train], depth[train], label[train], LiftConfig().init_points,
                         torch.Generator().manual_seed(0))
    base = evaluate(init, [cams[i] for i in test], seq.rgb[test])
    curve = [lifted(cams, rgb, depth, label, train, test, args.budget * f) for f in (0.5, 1.0)]
    for c in curve:
        print(f"   lift {c['budget_s']:6.1f} s: {c['steps']:5d} steps, held-out PSNR {c['psnr_db']:.2f} dB, SSIM {c['ssim']:.4f}, "
              f"{c['gaussians']} Gaussians")
    ref = lifted(cams, rgb, depth, label, train, test, args.budget, **REFERENCE)
    final = curve[-1]
    print(f"   reference (sample init): {ref['psnr_db']:.2f} dB, SSIM {ref['ssim']:.4f}; initial voxel cloud alone "
          f"{base['psnr']:.2f} dB. Gain {final['psnr_db'] - ref['psnr_db']:+.2f} dB")
    figures.update({"room_psnr_heldout_db": final["psnr_db"], "room_ssim_heldout": final["ssim"], "room_lift_curve": curve,
                    "room_reference_psnr_heldout_db": ref["psnr_db"], "room_reference_ssim_heldout": ref["ssim"],
                    "room_initial_cloud_psnr_db": round(base["psnr"], 2), "room_psnr_gain_db": round(final["psnr_db"] - ref["psnr_db"], 2)})

    # 2. The TSDF mesh of those frames.
    mesh = tsdf_mesh(cams, seq.depth, seq.rgb, voxel_size=0.02)
    truth = trimesh.Trimesh(world.vertices, world.faces, process=False)
    sample = mesh.vertices[:: max(1, len(mesh.vertices) // 20_000)]
    within = float((np.abs(trimesh.proximity.ProximityQuery(truth).signed_distance(sample)) < 0.02).mean())
    print(f"2. TSDF mesh: {len(mesh.faces)} triangles, {within:.1%} of vertices within 2 cm of the true surface")
    figures["mesh_vertices_within_2cm"] = round(within, 4)

    # 3. The checkered room: high-frequency walls and floor.
    ck = checkered_room()
    new = lifted(*ck, args.budget)
    old = lifted(*ck, args.budget, **REFERENCE)
    aliased = lifted(*checkered_room(samples_per_pixel=1), args.budget)
    print(f"3. checkered room ({CHECKER_TRAIN} + {CHECKER_HELDOUT} views, {CHECKER_SIZE[0]}x{CHECKER_SIZE[1]}, "
          f"{args.budget:.0f} s): held-out PSNR {new['psnr_db']:.2f} dB ({new['steps']} steps, {new['gaussians']} Gaussians), "
          f"reference {old['psnr_db']:.2f} dB; gain {new['psnr_db'] - old['psnr_db']:+.2f} dB; "
          f"from aliased frames (one ray per pixel) {aliased['psnr_db']:.2f} dB")
    figures.update({"checker_psnr_heldout_db": new["psnr_db"], "checker_reference_psnr_heldout_db": old["psnr_db"],
                    "checker_psnr_gain_db": round(new["psnr_db"] - old["psnr_db"], 2), "checker_lift": new, "checker_reference": old,
                    "checker_aliased_psnr_heldout_db": aliased["psnr_db"]})

    # 4. One lift step, where the time goes (the bedroom's orbit at 128 and 256 pixels).
    for size in (128, 256):
        c2 = camera_path(layout, "orbit", 56, width=size, height=size, seed=0)
        s2 = render_sequence(layout, world, c2)
        prof = profile_step(c2, torch.from_numpy(s2.rgb), torch.from_numpy(s2.depth), torch.from_numpy(s2.label).long(), train)
        print(f"4. one lift step at {size}x{size}, {prof['gaussians']} Gaussians: "
              + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in prof.items() if k != "gaussians"))
        figures[f"step_{size}px_s"] = prof

    # 5. `worldgen generate` per scene type, as a user runs it; the same with aliased frames and
    #    with the reference lift.
    if not args.skip_generate:
        with tempfile.TemporaryDirectory() as tmp:
            for kind, prompt in PROMPTS.items():
                runs = {"default": run_generate(prompt, f"{tmp}/{kind}-default"),
                        "aliased": run_generate(prompt, f"{tmp}/{kind}-aliased", samples_per_pixel=1),
                        "reference": run_generate(prompt, f"{tmp}/{kind}-ref", lift_options=REFERENCE)}
                for name, r in runs.items():
                    print(f"5. generate {kind} ({name}): {r['wall_s']:.1f} s wall, peak RSS {r['peak_rss_gb']:.2f} GB, held-out PSNR "
                          f"{r['psnr_heldout_db']} dB, {r['gaussians']} Gaussians ({r['sky_shell']} sky shell), {r['lift_steps']} lift steps; "
                          f"stages {r['stages_s']}")
                gain = runs["default"]["psnr_heldout_db"] - runs["reference"]["psnr_heldout_db"]
                aa = runs["default"]["psnr_heldout_db"] - runs["aliased"]["psnr_heldout_db"]
                print(f"   {kind}: PSNR gain over the reference lift {gain:+.2f} dB; anti-aliased frames {aa:+.2f} dB over "
                      "one ray per pixel (each world against its own held-out frames)")
                figures[f"generate_{kind}"] = runs
                figures[f"generate_{kind}_psnr_gain_db"] = round(gain, 2)
                figures[f"generate_{kind}_antialiasing_gain_db"] = round(aa, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
