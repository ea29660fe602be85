"""Tiled CPU rasteriser (`torch` backend) against the naive dense reference (`dense` backend).

The reference is built from gsplat's pure-torch projection and composites every Gaussian at
every pixel (O(N x H x W), chunked over pixels; in backward each chunk is recomputed so it
fits in memory). Each measurement runs in a fresh subprocess so that its peak RSS is its own.

    .venv/bin/python bench/raster.py                 # 20k Gaussians, 256x256, 8 cameras (dense on 2)
    .venv/bin/python bench/raster.py --dense-cameras 8   # the whole reference (about 10 minutes)

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

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)


def cameras(scene, n: int, size: int):
    from renderer.view import frame_orbit_camera

    return [frame_orbit_camera(scene, 360.0 * i / n, 20.0 + 15.0 * (i % 2), size, size, 60.0) for i in range(n)]


def worker(args) -> None:
    """Run one measurement and print {"seconds", "peak_rss_mb"} as the last line."""
    from renderer import render
    from worldgen.demo import demo_scene

    torch.manual_seed(0)
    scene = demo_scene(args.gaussians, seed=0)
    cams = cameras(scene, args.cameras, args.size)[: args.use_cameras]
    kw = dict(backend=args.backend, tile_size=args.tile_size, with_labels=False)
    render(scene, cams[0], **{**kw, "backend": "torch"})  # warm up kernels and allocator
    params = None
    if args.grad:
        params = {k: getattr(scene, k).clone().requires_grad_(True) for k in ("means", "quats", "log_scales", "opacity_logits", "sh")}
        scene = type(scene)(**params, labels=scene.labels)
    best, outputs = float("inf"), None
    for _ in range(args.repeats):
        if params:
            for p in params.values():
                p.grad = None
        t0 = time.perf_counter()
        with torch.set_grad_enabled(args.grad):
            rgb, depth, alpha = [], [], []
            for cam in cams:  # one frame at a time, as training does
                out = render(scene, cam, **kw)
                if args.grad:
                    target = torch.full_like(out.rgb, 0.5)
                    ((out.rgb - target) ** 2).mean().add(0.1 * out.depth.mean()).backward()
                rgb.append(out.rgb.detach()), depth.append(out.depth.detach()), alpha.append(out.alpha.detach())
        best = min(best, time.perf_counter() - t0)
        outputs = {"rgb": torch.cat(rgb), "depth": torch.cat(depth), "alpha": torch.cat(alpha)}
    if args.grad:
        outputs.update({f"grad_{k}": p.grad for k, p in params.items()})
    if args.save:
        torch.save(outputs, args.save)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": best, "peak_rss_mb": peak_mb}))


def measure(backend: str, gaussians: int, size: int, cams: int, use: int, grad: bool, tile_size: int,
            repeats: int, save: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--backend", backend, "--gaussians", str(gaussians), "--size", str(size),
           "--cameras", str(cams), "--use-cameras", str(use), "--tile-size", str(tile_size), "--repeats", str(repeats)]
    if grad:
        cmd.append("--grad")
    if save:
        cmd += ["--save", save]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"measurement failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    result = json.loads(r.stdout.strip().splitlines()[-1])
    result["per_frame_s"] = result["seconds"] / use
    return result




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--gaussians", type=int, default=20_000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--use-cameras", type=int, default=8, help=argparse.SUPPRESS)
    ap.add_argument("--dense-cameras", type=int, default=2, help="cameras the slow dense reference renders (of --cameras)")
    ap.add_argument("--tile-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--grad", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--save", help=argparse.SUPPRESS)
    ap.add_argument("--big", type=int, default=100_000, help="Gaussians for the forward-time target")
    ap.add_argument("--huge", type=int, default=1_000_000, help="Gaussians for the memory target (0 skips)")
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    g, size, n_cams, k = args.gaussians, args.size, args.cameras, min(args.dense_cameras, args.cameras)
    ts = args.tile_size
    print(f"machine: {describe()}")
    print(f"scene: demo_scene({g}), {size}x{size}, {n_cams} orbit cameras; dense reference on {k} of them; tile {ts}")
    with tempfile.TemporaryDirectory() as tmp:
        fast = measure("torch", g, size, n_cams, n_cams, False, ts, 3, f"{tmp}/fast.pt")
        dense = measure("dense", g, size, n_cams, k, False, ts, 1, f"{tmp}/dense.pt")
        a, b = torch.load(f"{tmp}/fast.pt"), torch.load(f"{tmp}/dense.pt")
        diff = max((a[key][:k] - b[key]).abs().max().item() for key in ("rgb", "depth", "alpha"))
        fast_g = measure("torch", g, size, n_cams, n_cams, True, ts, 2, f"{tmp}/fast_g.pt")
        dense_g = measure("dense", g, size, n_cams, 1, True, ts, 1, f"{tmp}/dense_g.pt")
        measure("torch", g, size, n_cams, 1, True, ts, 1, f"{tmp}/fast_g1.pt")  # same camera as dense_g
        ga, gb = torch.load(f"{tmp}/fast_g1.pt"), torch.load(f"{tmp}/dense_g.pt")
        grad_rel = max(((ga[key] - gb[key]).norm() / gb[key].norm().clamp(min=1e-12)).item()
                       for key in ga if key.startswith("grad_"))

    fwd_ratio = dense["per_frame_s"] / fast["per_frame_s"]
    bwd_ratio = dense_g["per_frame_s"] / fast_g["per_frame_s"]
    print(f"forward          torch {fast['per_frame_s'] * 1e3:9.1f} ms/frame   dense {dense['per_frame_s'] * 1e3:9.1f} ms/frame   "
          f"speedup {fwd_ratio:7.1f}x   max |diff| {diff:.2e}")
    print(f"forward+backward torch {fast_g['per_frame_s'] * 1e3:9.1f} ms/frame   dense {dense_g['per_frame_s'] * 1e3:9.1f} ms/frame   "
          f"speedup {bwd_ratio:7.1f}x   grad rel. error {grad_rel:.2e}")
    print(f"peak RSS (MB)    torch fwd {fast['peak_rss_mb']:.0f}  fwd+bwd {fast_g['peak_rss_mb']:.0f}   "
          f"dense fwd {dense['peak_rss_mb']:.0f}  fwd+bwd {dense_g['peak_rss_mb']:.0f}")

    big = measure("torch", args.big, size, 1, 1, False, ts, 3)
    print(f"{args.big} Gaussians, {size}x{size}, forward: {big['seconds']:.3f} s (peak RSS {big['peak_rss_mb']:.0f} MB)")
    figures = {
        "machine": describe(),
        "forward_speedup_vs_dense": round(fwd_ratio, 1),
        "fwd_bwd_speedup_vs_dense": round(bwd_ratio, 1),
        "max_abs_diff_vs_dense": diff,
        "grad_rel_error_vs_dense": grad_rel,
        "torch_forward_ms_per_frame": round(fast["per_frame_s"] * 1e3, 2),
        "dense_forward_ms_per_frame": round(dense["per_frame_s"] * 1e3, 2),
        "torch_fwd_bwd_ms_per_frame": round(fast_g["per_frame_s"] * 1e3, 2),
        "dense_fwd_bwd_ms_per_frame": round(dense_g["per_frame_s"] * 1e3, 2),
        "torch_forward_peak_rss_mb": round(fast["peak_rss_mb"]),
        "torch_fwd_bwd_peak_rss_mb": round(fast_g["peak_rss_mb"]),
        "dense_forward_peak_rss_mb": round(dense["peak_rss_mb"]),
        "dense_fwd_bwd_peak_rss_mb": round(dense_g["peak_rss_mb"]),
        f"forward_s_{args.big // 1000}k_{size}": round(big["seconds"], 3),
    }
    if args.huge:
        huge = measure("torch", args.huge, size, 1, 1, False, ts, 1)
        print(f"{args.huge} Gaussians, {size}x{size}, forward: {huge['seconds']:.2f} s, peak RSS {huge['peak_rss_mb'] / 1024:.2f} GB")
        figures[f"forward_s_{args.huge // 1000}k_{size}"] = round(huge["seconds"], 2)
        figures[f"peak_rss_gb_{args.huge // 1000}k_{size}"] = round(huge["peak_rss_mb"] / 1024, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
