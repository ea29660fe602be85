"""Frame model sampling speed: frames/s with the context keys/values reused, against recomputing them.

One frame at a time (as a live walk makes them), 4 sampling steps, K = 4 memory frames of a
held-out walk with its guide, caption and layout tokens. The reference, measured in the same run,
is the same sampler recomputing the context stream at every step (`reuse_cache=False`). Also:
parameters and analytic FLOPs per frame of the `tiny` and `gpu` presets, and the process's peak
memory. On CUDA the `gpu` preset is timed at 256x256 in bf16; without one, its frames/s on an
H100 is estimated from its FLOPs (the assumed throughput is printed).

    .venv/bin/python bench/rtfm.py                       # tiny at 64x64 and 128x128
    .venv/bin/python bench/rtfm.py --checkpoint assets/rtfm-tiny --frames 30

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)

H100_BF16_DENSE_TFLOPS = 989.0  # NVIDIA's dense bf16 figure for the H100 SXM
ASSUMED_UTILISATION = 0.3  # a small DiT at batch 1 reaches a fraction of peak


def frame_inputs(model, resolution: int, device):
    from rtfm.inputs import Condition, FrameInputs, build_inputs
    from worldgen.frame_model import held_out_walks

    walk = held_out_walks(1, resolution=resolution)[0]
    t = 8
    memory = [walk.frames[i] for i in walk.memory_for(t, 4)]
    inputs = build_inputs(walk.frames[t].camera, memory, walk.guides[t], Condition(text=walk.text, layout=walk.grid),
                          image_size=model.cfg.image_size)
    return FrameInputs.collate([inputs]).to(device)


def time_frames(model, inputs, frames: int, reuse: bool, steps: int, autocast: bool) -> float:
    from rtfm.sampler import sample_frames

    device = inputs.rays.device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        for i in range(2):  # warm-up
            sample_frames(model, inputs, steps=steps, reuse_cache=reuse, generator=torch.Generator().manual_seed(i))
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(frames):
            sample_frames(model, inputs, steps=steps, reuse_cache=reuse, generator=torch.Generator().manual_seed(i))
        if device.type == "cuda":
            torch.cuda.synchronize()
    return frames / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=str(ROOT / "assets" / "rtfm-tiny"),
                    help="frame model folder (the tiny preset's random weights when absent: speed does not depend on them)")
    ap.add_argument("--resolutions", default="64,128")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()

    from rtfm.checkpoint import load_frame_model
    from rtfm.frame_model import FrameModel

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ckpt = Path(args.checkpoint)
    model = load_frame_model(ckpt, device) if ckpt.exists() else FrameModel.from_preset("tiny").to(device).eval()
    print(f"machine: {describe()}")
    print(f"checkpoint: {ckpt if ckpt.exists() else 'none (tiny preset, random weights)'}")
    figures: dict = {"machine": describe(), "steps": args.steps, "memory_frames": 4,
                     "tiny_parameters": sum(p.numel() for p in model.parameters())}
    for res in (int(r) for r in args.resolutions.split(",")):
        inputs = frame_inputs(model, res, device)
        ctx_tokens = int(model.context_tokens(inputs)[0].shape[1])
        cached = time_frames(model, inputs, args.frames, True, args.steps, False)
        uncached = time_frames(model, inputs, max(args.frames // 2, 3), False, args.steps, False)
        flops = model.flops_per_frame(res, res, ctx_tokens, args.steps)
        print(f"tiny {res}x{res}: {cached:.1f} frames/s with key/value reuse, {uncached:.1f} without "
              f"({cached / uncached:.2f}x); {flops['total_gflop']:.2f} GFLOP/frame, {ctx_tokens} context tokens")
        figures[f"tiny_{res}_frames_per_s"] = round(cached, 2)
        figures[f"tiny_{res}_frames_per_s_no_kv_reuse"] = round(uncached, 2)
        figures[f"tiny_{res}_kv_reuse_speedup_x"] = round(cached / uncached, 3)
        figures[f"tiny_{res}_gflop_per_frame"] = round(flops["total_gflop"], 3)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(f"peak RSS: {figures['peak_rss_mb']} MB")

    with torch.device("meta"):
        gpu = FrameModel.from_preset("gpu")
    g_res, g_ctx = gpu.cfg.resolution, 1 + 4 * (gpu.cfg.resolution // gpu.cfg.memory_patch) ** 2 + 100
    g_flops = gpu.flops_per_frame(g_res, g_res, g_ctx, args.steps)
    figures["gpu_parameters"] = sum(p.numel() for p in gpu.parameters())
    figures["gpu_256_gflop_per_frame"] = round(g_flops["total_gflop"], 2)
    if device.type == "cuda":
        gpu_model = FrameModel.from_preset("gpu").to(device).eval()
        fps = time_frames(gpu_model, frame_inputs(gpu_model, g_res, device), args.frames, True, args.steps, True)
        figures["gpu_256_frames_per_s_measured"] = round(fps, 2)
        print(f"gpu preset {g_res}x{g_res} bf16: {fps:.1f} frames/s measured on {torch.cuda.get_device_name(0)}")
    else:
        est = H100_BF16_DENSE_TFLOPS * 1e3 * ASSUMED_UTILISATION / g_flops["total_gflop"]
        figures["gpu_256_frames_per_s_h100_estimate"] = round(est, 1)
        print(f"gpu preset {g_res}x{g_res}: {figures['gpu_parameters'] / 1e6:.1f}M parameters, "
              f"{g_flops['total_gflop']:.0f} GFLOP/frame; no GPU here: estimated {est:.0f} frames/s on an H100 "
              f"at {ASSUMED_UTILISATION:.0%} of its {H100_BF16_DENSE_TFLOPS:.0f} dense bf16 TFLOP/s (not measured)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
