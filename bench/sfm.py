"""Structure from motion and lifting from its points, on held-out procedural videos with the poses
withheld, and optionally on a real posed capture.

    .venv/bin/python bench/sfm.py [--worlds 4] [--budget 60] [--capture /work/captures/fox]

1. Poses: a held-out world per scene type (seeds 2**31 + 200 + i, never training worlds), a walk
   of 64 frames of 256x256 rendered, encoded as H.264 mp4, read back (`worldgen.video.read_video`),
   40 frames kept by motion, posed by `worldgen.sfm.estimate_poses` without the field of view.
   Absolute trajectory error after a Sim(3) (Umeyama) alignment, as % of the path length.
2. Depth: the frame model's (assets/rtfm-tiny) predicted depth of the registered frames against
   the SfM points after the median scale (`metric_scale`): AbsRel and delta < 1.25. Reference in
   the same run: the renderer's true depth against the same points (the floor SfM's own error sets).
3. Lift (the first --lift-worlds worlds that register): the same training frames and held-out frames (every 8th),
   the same time budget: SfM poses + SfM points vs true poses + points triangulated with them
   (the ratio of held-out PSNR), and true poses + triangulated points vs true poses + random points.
   SfM poses are also refined with the splats (`LiftConfig.refine_poses`); held-out frames posed by
   the same SfM are then scored with their poses aligned to the lifted scene first (test-time pose
   alignment, `renderer.pose_refine.refine_pose`, as pose-free NeRF/3DGS evaluations do), and the
   plain and true-pose lifts are scored that way too, so the gain is separated from the protocol.
4. --capture PATH (a transforms.json folder, e.g. instant-ngp's fox): lifted at <= 320 px for
   --capture-budget seconds with every 7th photo held out, from triangulated points vs random points
   (and the triangulated points alone, without spreading them over the frames: `spread_points`).
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)

from renderer.lift import LiftConfig, camera_spread, evaluate, lift  # noqa: E402
from renderer.pose_refine import refine_pose  # noqa: E402
from worldgen.frame_training import DEFAULT_FRAME_MODEL, HELD_OUT_SEED_BASE  # noqa: E402
from worldgen.sfm import SfMError, estimate_poses, metric_scale, trajectory_error, triangulate  # noqa: E402

SCENES = ["living_room", "kitchen", "dining_room", "bedroom", "office", "park", "backyard", "street"]


def held_out_video(scene: str, seed: int, frames: int, size: int, folder: Path):
    """(true cameras, true depth [T, H, W], mp4 path) of a walk through a held-out world."""
    import imageio.v3 as iio

    from worldgen.procgen.composers import compose
    from worldgen.procgen.dataset import render_sequence
    from worldgen.procgen.paths import camera_path
    from worldgen.procgen.world import build_world

    layout, _ = compose(scene, seed)
    cams = camera_path(layout, "walk", frames, width=size, height=size, fov_y_deg=70.0, seed=seed)
    seq = render_sequence(layout, build_world(layout, seed), cams)
    path = folder / f"{scene}.mp4"
    iio.imwrite(path, (seq.rgb * 255 + 0.5).astype(np.uint8), extension=".mp4", fps=24, codec="libx264",
                macro_block_size=1)
    return cams, seq.depth, path


def lift_psnr(cams, images, train, test, budget, seed, points=None, spread=True, refine=False,
              align=False) -> tuple[float, int, float | None]:
    """Held-out PSNR (dB) of a lift, its steps, and the held-out PSNR with the held-out poses aligned
    to the lifted scene first (test-time pose alignment, the protocol of pose-free NeRF/3DGS
    evaluations, for poses that come from the same structure from motion as the training ones),
    when `align`; else None."""
    cfg = LiftConfig(iterations=100_000, time_budget_s=budget, seed=seed, spread_points=spread, refine_poses=refine)
    init = None if points is None else tuple(torch.as_tensor(a, dtype=torch.float32) for a in points)
    res = lift([cams[i] for i in train], torch.from_numpy(images[train]), config=cfg, init_points=init)
    held = [cams[i] for i in test]
    plain = evaluate(res.scene, held, images[test])["psnr"]
    if not align:
        return plain, res.steps, None
    spread_m = camera_spread([cams[i] for i in train])
    aligned = [refine_pose(res.scene, c, torch.from_numpy(images[i]), translation_scale=spread_m) for c, i in zip(held, test)]
    return plain, res.steps, evaluate(res.scene, aligned, images[test])["psnr"]


def procedural(args, model) -> dict:
    from rtfm.photo import photo_memory
    from worldgen.video import read_video, sample_by_motion

    worlds, lifted = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, scene in enumerate(SCENES[: args.worlds]):
            seed = HELD_OUT_SEED_BASE + 200 + i
            cams, depth, mp4 = held_out_video(scene, seed, args.frames, args.size, Path(tmp))
            video = read_video(mp4, size=args.size)
            picks = sample_by_motion(video.frames, args.keep)
            frames, truth, true_depth = video.frames[picks], [cams[j] for j in picks], depth[picks]
            t0 = time.perf_counter()
            try:
                rec = estimate_poses(frames, seed=0)
            except SfMError as e:
                print(f"  {scene:12s} seed {seed}: structure from motion failed: {e}")
                worlds.append({"scene": scene, "seed": seed, "failed": str(e)})
                continue
            sfm_s = time.perf_counter() - t0
            err = trajectory_error(rec.cameras, truth)
            true_fit = metric_scale(rec, list(true_depth))
            predicted = [None] * len(frames)
            for j in rec.registered:
                predicted[j] = photo_memory(model, torch.from_numpy(frames[j]), rec.cameras[j], seed=0)[0].depth.numpy()
            model_fit = metric_scale(rec, predicted)
            row = {"scene": scene, "seed": seed, "frames": len(frames), "registered": len(rec.registered),
                   "ate_pct": round(err["ate_pct"], 3), "path_m": round(err["path_length"], 2), "points": len(rec.points),
                   "reprojection_px": round(rec.reprojection_error_px, 3), "sfm_s": round(sfm_s, 1),
                   "model_depth_absrel": round(model_fit.absrel, 4), "model_depth_delta1": round(model_fit.delta1, 4),
                   "model_scale_error": round(abs(model_fit.scale / err["scale"] - 1), 4),
                   "true_depth_absrel": round(true_fit.absrel, 4), "true_depth_delta1": round(true_fit.delta1, 4)}
            worlds.append(row)
            print(f"  {scene:12s} seed {seed}: {row['registered']}/{row['frames']} registered, ATE {row['ate_pct']:.2f}% of "
                  f"{row['path_m']} m, {row['points']} points, {row['reprojection_px']} px, {sfm_s:.1f} s; depth AbsRel "
                  f"frame model {row['model_depth_absrel']:.3f} (true depth {row['true_depth_absrel']:.3f}), "
                  f"scale off by {100 * row['model_scale_error']:.1f}%")
            if len(lifted) < args.lift_worlds:
                lifted.append((scene, rec, frames, truth))
    result = {"worlds": worlds}
    ok = [w for w in worlds if "ate_pct" in w]
    if ok:
        result.update({
            "ate_pct_median": round(float(np.median([w["ate_pct"] for w in ok])), 3),
            "worlds_under_5pct": sum(w["ate_pct"] < 5 for w in ok), "worlds_posed": len(ok), "worlds_tried": len(worlds),
            "registered_fraction": round(sum(w["registered"] for w in ok) / sum(w["frames"] for w in ok), 3),
            "model_depth_absrel_median": round(float(np.median([w["model_depth_absrel"] for w in ok])), 4),
            "true_depth_absrel_median": round(float(np.median([w["true_depth_absrel"] for w in ok])), 4)})
        result["model_vs_true_depth_absrel_ratio"] = round(result["model_depth_absrel_median"] /
                                                           max(result["true_depth_absrel_median"], 1e-9), 2)
        print(f"ATE median {result['ate_pct_median']}% of the path; {result['worlds_under_5pct']} of {len(worlds)} worlds "
              f"under 5%; depth AbsRel vs SfM: frame model {result['model_depth_absrel_median']}, true depth "
              f"{result['true_depth_absrel_median']} (x{result['model_vs_true_depth_absrel_ratio']})")
    if lifted and args.budget > 0:
        result["lifts"] = [compare_lifts(args, *world) for world in lifted]
        gaps = [r["psnr_gap_refined_aligned_vs_true_db"] for r in result["lifts"]]
        result.update(lift_gap_db_median=round(float(np.median(gaps)), 2), lift_gap_db_worst=round(max(gaps), 2),
                      lifts_within_2db=sum(g <= 2.0 for g in gaps))
        print(f"SfM-pose lifts within 2 dB of the true-pose lifts: {result['lifts_within_2db']} of {len(gaps)} worlds; "
              f"gap median {result['lift_gap_db_median']:+.2f} dB, worst {result['lift_gap_db_worst']:+.2f} dB")
    return result


def compare_lifts(args, scene, rec, frames, truth) -> dict:
    """The same training and held-out frames of one world lifted with SfM poses (plain, refined with
    the splats) and with true poses (triangulated points, random points, points not spread)."""
    from worldgen.pipeline import split_holdout

    keep = rec.registered
    train, test = split_holdout(len(keep))
    s = args.lift_size
    images = np.stack([torch.nn.functional.interpolate(torch.from_numpy(frames[j]).permute(2, 0, 1)[None], size=(s, s),
                                                       mode="area")[0].permute(1, 2, 0).numpy() for j in keep])
    sfm_cams = [rec.cameras[j].scaled(s, s) for j in keep]
    true_cams = [truth[j].scaled(s, s) for j in keep]
    triangulated = triangulate([true_cams[i] for i in train], images[train])
    p_sfm, n_sfm, p_sfm_aligned = lift_psnr(sfm_cams, images, train, test, args.budget, 0, (rec.points, rec.colors),
                                            align=True)
    p_ref, n_ref, p_ref_aligned = lift_psnr(sfm_cams, images, train, test, args.budget, 0, (rec.points, rec.colors),
                                            refine=True, align=True)
    p_true, n_true, p_true_aligned = lift_psnr(true_cams, images, train, test, args.budget, 0, triangulated, align=True)
    p_rand, n_rand, _ = lift_psnr(true_cams, images, train, test, args.budget, 0, None)
    p_alone, _, _ = lift_psnr(true_cams, images, train, test, args.budget, 0, triangulated, spread=False)
    print(f"lift {scene} at {s}px, {args.budget:.0f} s each, {len(train)} train / {len(test)} held out: held-out PSNR "
          f"SfM poses {p_sfm:.2f} dB vs true poses {p_true:.2f} dB (x{p_sfm / p_true:.3f}); true poses from "
          f"triangulated points {p_true:.2f} dB vs random points {p_rand:.2f} dB (x{p_true / p_rand:.3f}); "
          f"the triangulated points alone, not spread: {p_alone:.2f} dB")
    print(f"  SfM poses refined with the splats (refine_poses): {p_ref:.2f} dB; held-out poses aligned to the scene "
          f"(test-time alignment): plain {p_sfm_aligned:.2f} dB, refined {p_ref_aligned:.2f} dB, true poses "
          f"{p_true_aligned:.2f} dB; gap to the true poses {p_true - p_ref_aligned:+.2f} dB (target within 2 dB)")
    return {"scene": scene, "size": s, "budget_s": args.budget, "train": len(train), "heldout": len(test),
            "psnr_sfm_poses_sfm_points_db": round(p_sfm, 2),
            "psnr_sfm_poses_heldout_aligned_db": round(p_sfm_aligned, 2),
            "psnr_sfm_poses_refined_db": round(p_ref, 2),
            "psnr_sfm_poses_refined_heldout_aligned_db": round(p_ref_aligned, 2),
            "psnr_true_poses_heldout_aligned_db": round(p_true_aligned, 2),
            "psnr_gap_refined_aligned_vs_true_db": round(p_true - p_ref_aligned, 2),
            "psnr_true_poses_triangulated_db": round(p_true, 2),
            "psnr_true_poses_random_db": round(p_rand, 2), "steps": [n_sfm, n_ref, n_true, n_rand],
            "psnr_true_poses_triangulated_alone_db": round(p_alone, 2),
            "psnr_ratio_sfm_vs_true_poses": round(p_sfm / p_true, 3),
            "psnr_ratio_triangulated_vs_random": round(p_true / p_rand, 3),
            "triangulated_points": len(triangulated[0]), "sfm_points": len(rec.points)}


def capture(args) -> dict:
    from worldgen.frames import read_transforms

    frames = read_transforms(args.capture, size=args.capture_size, skip_missing=True)
    listed = len(json.loads((Path(args.capture) / "transforms.json").read_text())["frames"])
    n = len(frames)
    test = [i for i in range(n) if i % 7 == 3]
    train = [i for i in range(n) if i % 7 != 3]
    h, w = frames.images.shape[1:3]
    t0 = time.perf_counter()
    points = triangulate([frames.cameras[i] for i in train], frames.images[train], sequential=False)
    tri_s = time.perf_counter() - t0
    p_tri, n_tri, _ = lift_psnr(frames.cameras, frames.images, train, test, args.capture_budget, 0, points)
    p_rand, n_rand, _ = lift_psnr(frames.cameras, frames.images, train, test, args.capture_budget, 0, None)
    p_alone, n_alone, _ = lift_psnr(frames.cameras, frames.images, train, test, args.capture_budget, 0, points, spread=False)
    print(f"capture: the {len(points[0])} triangulated points alone (not spread over the frames): {p_alone:.2f} dB")
    print(f"capture {args.capture}: {n} photos ({listed - n} listed in transforms.json but absent) at {w}x{h}, "
          f"{len(train)} train / {len(test)} held out (every 7th); {len(points[0])} points triangulated in {tri_s:.1f} s; "
          f"held-out PSNR after {args.capture_budget:.0f} s: triangulated {p_tri:.2f} dB ({n_tri} steps) vs random "
          f"{p_rand:.2f} dB ({n_rand} steps), x{p_tri / p_rand:.3f}")
    return {"path": str(args.capture), "photos": n, "listed": listed, "size": [w, h], "train": len(train),
            "heldout": len(test), "budget_s": args.capture_budget, "triangulated_points": len(points[0]),
            "triangulate_s": round(tri_s, 1), "psnr_triangulated_db": round(p_tri, 2), "psnr_random_db": round(p_rand, 2),
            "psnr_triangulated_points_alone_db": round(p_alone, 2),
            "steps": [n_tri, n_rand, n_alone], "psnr_ratio_triangulated_vs_random": round(p_tri / p_rand, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=4, help=f"held-out worlds, scene types in turn from {SCENES}")
    ap.add_argument("--frames", type=int, default=64, help="frames rendered per video")
    ap.add_argument("--keep", type=int, default=40, help="frames kept by motion for SfM")
    ap.add_argument("--size", type=int, default=256, help="video size, pixels")
    ap.add_argument("--lift-size", type=int, default=128)
    ap.add_argument("--lift-worlds", type=int, default=2, help="worlds whose SfM and true-pose lifts are compared")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per procedural lift (0: no lifts)")
    ap.add_argument("--capture", type=Path, default=None, help="a transforms.json folder of a real capture")
    ap.add_argument("--capture-size", type=int, default=320)
    ap.add_argument("--capture-budget", type=float, default=300.0)
    ap.add_argument("--only-capture", action="store_true", help="skip the procedural worlds")
    args = ap.parse_args()
    machine = describe()
    print(f"machine: {machine}")
    out = {"machine": machine}
    if not args.only_capture:
        from rtfm.checkpoint import load_frame_model

        out["procedural"] = procedural(args, load_frame_model(DEFAULT_FRAME_MODEL))
    if args.capture is not None:
        out["capture"] = capture(args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
