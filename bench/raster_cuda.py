"""gsplat's CUDA rasteriser (the `gsplat` backend) against the tiled torch backend, on one machine.

Parity: the same scene and cameras rendered by gsplat on the GPU and by the tiled torch backend
on the CPU (the CPU reference tested against the dense rasteriser in tests/test_raster.py):
max |diff| of rgb, depth and alpha, label agreement, and the gradients' relative error after one
photometric loss. Speed: ms per frame, forward and forward+backward, at 512x512 for growing
scenes, with the torch backend on this machine's CPU as the reference measured in the same run.
Needs a CUDA device (exits with a message otherwise).

    python bench/raster_cuda.py                    # 20k / 200k / 1M Gaussians
    python bench/raster_cuda.py --sizes 20000 --size 256

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)
from raster import cameras  # noqa: E402  (bench/raster.py: orbit cameras around a scene)

PARAMS = ("means", "quats", "log_scales", "opacity_logits", "sh")


def with_grad(scene):
    params = {k: getattr(scene, k).detach().clone().requires_grad_(True) for k in PARAMS}
    return type(scene)(**params, labels=scene.labels), params


def run(scene, cams, backend: str, grad: bool):
    """Render every camera once (one at a time, as training does); returns the outputs and, with
    grad, the gradients of a photometric + depth loss."""
    from renderer import render

    scene, params = with_grad(scene) if grad else (scene, None)
    outs = []
    with torch.set_grad_enabled(grad):
        for cam in cams:
            out = render(scene, cam, backend=backend)
            if grad:
                ((out.rgb - 0.5) ** 2).mean().add(0.1 * out.depth.mean()).backward()
            outs.append(out)
    sync(scene)
    grads = {k: p.grad.detach().cpu() for k, p in params.items()} if grad else {}
    return outs, grads


def sync(scene) -> None:
    if scene.means.is_cuda:
        torch.cuda.synchronize()


def ms_per_frame(scene, cams, backend: str, grad: bool, repeats: int) -> float:
    run(scene, cams[:1], backend, grad)  # warm-up: kernels, allocator
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(scene, cams, backend, grad)
        times.append((time.perf_counter() - t0) / len(cams) * 1e3)
    return statistics.median(times)


def parity(scene, cams) -> dict:
    gpu = scene.to("cuda")
    (a, ga), (b, gb) = run(scene, cams, "torch", True), run(gpu, cams, "gsplat", True)
    diff = {key: max((getattr(x, key).detach() - getattr(y, key).detach().cpu()).abs().max().item()
                     for x, y in zip(a, b)) for key in ("rgb", "depth", "alpha")}
    labels = statistics.mean((x.label == y.label.cpu()).float().mean().item() for x, y in zip(a, b))
    grad_rel = {k: ((ga[k] - gb[k]).norm() / gb[k].norm().clamp(min=1e-12)).item() for k in ga}
    return {"max_abs_diff": diff, "label_agreement": labels, "grad_rel_error": grad_rel}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20000,200000,1000000", help="scene sizes (Gaussians)")
    ap.add_argument("--size", type=int, default=512, help="image width and height")
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--cpu-up-to", type=int, default=200_000, help="largest scene the CPU reference renders")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/raster_cuda.py needs a CUDA device; bench/raster.py measures the CPU backends")
    from worldgen.demo import demo_scene

    name = torch.cuda.get_device_name(0)
    print(f"machine: {describe()}; GPU: {name}; CPU reference: tiled torch backend, {torch.get_num_threads()} threads")
    figures: dict = {"machine": describe(), "cuda_device": name, "image_px": args.size, "cameras": args.cameras}

    scene = demo_scene(20_000, seed=0)
    p = parity(scene, cameras(scene, 4, 256))
    print(f"parity, 20k Gaussians, 4 cameras 256x256, gsplat (CUDA) vs torch (CPU): max |diff| rgb "
          f"{p['max_abs_diff']['rgb']:.1e}, depth {p['max_abs_diff']['depth']:.1e} m, alpha {p['max_abs_diff']['alpha']:.1e}; "
          f"labels agree on {p['label_agreement']:.2%}; gradient relative error "
          + ", ".join(f"{k} {v:.1e}" for k, v in p["grad_rel_error"].items()))
    figures["parity"] = p

    for n in (int(s) for s in args.sizes.split(",")):
        scene = demo_scene(n, seed=0)
        cams = cameras(scene, args.cameras, args.size)
        gpu = scene.to("cuda")
        row = {"gsplat_forward_ms": ms_per_frame(gpu, cams, "gsplat", False, 5),
               "gsplat_forward_backward_ms": ms_per_frame(gpu, cams, "gsplat", True, 5)}
        line = (f"{n:>9,} Gaussians {args.size}x{args.size}: gsplat forward {row['gsplat_forward_ms']:.2f} ms/frame, "
                f"forward+backward {row['gsplat_forward_backward_ms']:.2f} ms/frame")
        if n <= args.cpu_up_to:
            cpu_cams = cams[:2]
            row["torch_cpu_forward_ms"] = ms_per_frame(scene, cpu_cams, "torch", False, 1)
            row["torch_cpu_forward_backward_ms"] = ms_per_frame(scene, cpu_cams, "torch", True, 1)
            row["speedup_forward_x"] = row["torch_cpu_forward_ms"] / row["gsplat_forward_ms"]
            row["speedup_forward_backward_x"] = row["torch_cpu_forward_backward_ms"] / row["gsplat_forward_backward_ms"]
            line += (f"; torch on the CPU {row['torch_cpu_forward_ms']:.0f} / {row['torch_cpu_forward_backward_ms']:.0f} ms "
                     f"({row['speedup_forward_x']:.0f}x / {row['speedup_forward_backward_x']:.0f}x)")
        print(line)
        figures[f"scene_{n}"] = {k: round(v, 3) for k, v in row.items()}
        del gpu
        torch.cuda.empty_cache()
    figures["cuda_peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
