"""Frame model sampling speed: frames/s with the context keys/values reused, against recomputing them,
for each CPU preset at its own resolution (tiny at 64x64, tiny-128 at 128x128, tiny-256 at 256x256:
the same 256 target tokens over larger patches); the 64x64 model, measured in the same run, is
the reference the larger ones' frames/s are given as ratios of.

One frame at a time (as a live walk makes them), 4 sampling steps, K = 4 memory frames of a
held-out walk with its guide, caption and layout tokens, at the sampler's default precision (fp32
on a CPU, bf16 autocast on CUDA, `rtfm.sampler.autocast_dtype`). The references, measured in the
same run, are the same sampler recomputing the context stream at every step (`reuse_cache=False`)
and the same sampler in the other precision; on the CPU the three alternate over --rounds rounds
and each figure is the median of its rounds. Also:
parameters and analytic FLOPs per frame of the `tiny` and `gpu` presets, and the process's peak
memory. On CUDA the `gpu` preset is timed at 256x256 in bf16, one frame and 8 at once, with
xformers' kernel and with torch's SDPA (the reference); without CUDA its frames/s on an H100 is
estimated from its FLOPs (the assumed throughput is printed).

    .venv/bin/python bench/rtfm.py                       # the three CPU presets at 64, 128 and 256
    .venv/bin/python bench/rtfm.py --checkpoints 128=runs/rtfm128-1 --frames 30
    .venv/bin/python bench/rtfm.py --save-inputs bench/data/rtfm_inputs.safetensors   # then, on a GPU
    python bench/rtfm.py --inputs bench/data/rtfm_inputs.safetensors   # machine without the ray caster

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)

PRESET_AT = {64: "tiny", 128: "tiny-128", 256: "tiny-256"}
CHECKPOINT_OF = {"tiny": "rtfm-tiny", "tiny-128": "rtfm-tiny-128", "tiny-256": "rtfm-tiny-256"}
H100_BF16_DENSE_TFLOPS = 989.0  # NVIDIA's dense bf16 figure for the H100 SXM
ASSUMED_UTILISATION = 0.3  # a small DiT at batch 1 reaches a fraction of peak


def walk_inputs(resolution: int):
    """One held-out walk's frame 8 with its 4 memory frames, guide, caption and layout (batch of 1)."""
    from rtfm.inputs import Condition, build_inputs
    from worldgen.frame_training import held_out_walks

    walk = held_out_walks(1, resolution=resolution)[0]
    t = 8
    memory = [walk.frames[i] for i in walk.memory_for(t, 4)]
    return build_inputs(walk.frames[t].camera, memory, walk.guides[t], Condition(text=walk.text, layout=walk.grid))


def save_inputs(path: Path, resolutions) -> None:
    import dataclasses

    from safetensors.torch import save_file

    # float16 on disk keeps the file small enough to travel to a GPU machine; speed does not depend on it
    tensors = {f"{res}.{k}": (v.half() if v.is_floating_point() else v).contiguous() for res in resolutions
               for k, v in dataclasses.asdict(walk_inputs(res)).items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    print(f"saved frame inputs at {', '.join(map(str, resolutions))} px to {path}")


def load_inputs(path: Path, resolution: int):
    from safetensors.torch import load_file

    from rtfm.inputs import FrameInputs

    tensors = load_file(str(path))
    fields = {k.split(".", 1)[1]: v.float() if v.is_floating_point() else v
              for k, v in tensors.items() if k.startswith(f"{resolution}.")}
    if not fields:
        sys.exit(f"{path}: no frame inputs at {resolution} px (saved: {sorted({k.split('.')[0] for k in tensors})})")
    return FrameInputs(**fields)


def frame_inputs(resolution: int, device, saved: Path | None, batch: int = 1):
    from rtfm.inputs import FrameInputs

    one = load_inputs(saved, resolution) if saved else walk_inputs(resolution)
    return FrameInputs.collate([one] * batch).to(device)


def time_frames(model, inputs, frames: int, reuse: bool, steps: int, precision: str = "auto") -> float:
    from rtfm.sampler import sample_frames

    device = inputs.rays.device

    def sample(i: int) -> None:
        sample_frames(model, inputs, steps=steps, reuse_cache=reuse, generator=torch.Generator().manual_seed(i),
                      precision=precision)

    for i in range(2):  # warm-up
        sample(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(frames):
        sample(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return frames / (time.perf_counter() - t0)


def time_gpu_preset(res: int, gflop: float, device, args) -> dict:
    """The `gpu` preset in bf16 on CUDA: one frame and 8 at once, with and without key/value reuse,
    on each attention kernel; SDPA is the reference."""
    from rtfm.attention import _xformers_ops, attention_backend
    from rtfm.frame_model import FrameModel

    model = FrameModel.from_preset("gpu").to(device).eval()
    name = torch.cuda.get_device_name(0)
    one, eight = frame_inputs(res, device, args.inputs), frame_inputs(res, device, args.inputs, batch=8)
    backends = ["sdpa"] + (["xformers"] if _xformers_ops() is not None else [])
    out = {"cuda_device": name, "attention_backends": backends}
    for backend in backends:
        with attention_backend(backend):
            fps = time_frames(model, one, args.frames, True, args.steps, "bf16")
            fps_no_reuse = time_frames(model, one, args.frames, False, args.steps, "bf16")
            fps8 = 8 * time_frames(model, eight, max(args.frames // 4, 3), True, args.steps, "bf16")
        tflops = fps8 * gflop / 1e3
        print(f"gpu preset {res}x{res} bf16, {backend}, {name}: {fps:.1f} frames/s one at a time "
              f"({fps / fps_no_reuse:.2f}x over {fps_no_reuse:.1f} without key/value reuse), {fps8:.1f} frames/s "
              f"8 at a time ({tflops:.0f} TFLOP/s, {tflops / H100_BF16_DENSE_TFLOPS:.1%} of an H100's dense bf16 peak)")
        key = f"gpu_{res}_{backend}"
        out.update({f"{key}_frames_per_s": round(fps, 2), f"{key}_frames_per_s_no_kv_reuse": round(fps_no_reuse, 2),
                    f"{key}_batch8_frames_per_s": round(fps8, 2), f"{key}_batch8_tflop_per_s": round(tflops, 1)})
    if "xformers" in backends:
        ratio = out[f"gpu_{res}_xformers_frames_per_s"] / out[f"gpu_{res}_sdpa_frames_per_s"]
        out["xformers_vs_sdpa_frames_per_s_ratio"] = round(ratio, 3)
        print(f"xformers / SDPA, one frame at a time: {ratio:.2f}x")
    out["cuda_peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoints", default="",
                    help="RES=FOLDER,... frame models per resolution (default: assets/rtfm-tiny, rtfm-tiny-128, "
                    "rtfm-tiny-256; the preset's random weights where absent: speed does not depend on them)")
    ap.add_argument("--resolutions", default="64,128,256")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5, help="CPU timing rounds (median reported)")
    ap.add_argument("--inputs", type=Path, help="frame inputs saved by --save-inputs (instead of ray casting a walk)")
    ap.add_argument("--save-inputs", type=Path, help="save held-out frame inputs at 64 and 256 px here and exit")
    args = ap.parse_args()
    if args.save_inputs:
        return save_inputs(args.save_inputs, (64, 256))

    from rtfm.checkpoint import load_frame_model
    from rtfm.frame_model import FrameModel

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    given = dict(item.split("=", 1) for item in args.checkpoints.split(",") if item)
    print(f"machine: {describe()}")
    from rtfm.sampler import precision_name

    precision = precision_name(device)
    other = "fp32" if precision == "bf16" else "bf16"
    print(f"sampling precision: {precision} (reference: {other})")
    figures: dict = {"machine": describe(), "steps": args.steps, "memory_frames": 4, "precision": precision}
    for res in (int(r) for r in args.resolutions.split(",")):
        preset = PRESET_AT[res]
        ckpt = Path(given.get(str(res), ROOT / "assets" / CHECKPOINT_OF[preset]))
        model = load_frame_model(ckpt, device) if ckpt.exists() else FrameModel.from_preset(preset).to(device).eval()
        print(f"{preset} at {res}x{res}: {ckpt if ckpt.exists() else 'no checkpoint (random weights)'}, "
              f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
        figures[f"{preset}_parameters"] = sum(p.numel() for p in model.parameters())
        inputs = frame_inputs(res, device, args.inputs)
        ctx_tokens = int(model.context_tokens(inputs)[0].shape[1])
        # Rounds alternate the three samplers, so a shared machine's changing speed reaches all alike;
        # each figure is the median of its rounds, and the spread is printed.
        rounds = [(time_frames(model, inputs, args.frames, True, args.steps),
                   time_frames(model, inputs, max(args.frames // 2, 3), False, args.steps),
                   time_frames(model, inputs, args.frames, True, args.steps, other))
                  for _ in range(args.rounds)]
        cached, uncached, in_other = (statistics.median(r[i] for r in rounds) for i in (0, 1, 2))
        spread = min(r[0] for r in rounds), max(r[0] for r in rounds)
        flops = model.flops_per_frame(res, res, ctx_tokens, args.steps)
        print(f"{preset} {res}x{res}, {precision}: {cached:.1f} frames/s with key/value reuse, {uncached:.1f} without "
              f"({cached / uncached:.2f}x), {in_other:.1f} in {other} ({cached / in_other:.2f}x); medians of {args.rounds} rounds, "
              f"with reuse {spread[0]:.1f}-{spread[1]:.1f}; {flops['total_gflop']:.2f} GFLOP/frame, "
              f"{ctx_tokens} context tokens")
        figures[f"frames_per_s_{res}"] = round(cached, 2)
        figures[f"frames_per_s_{res}_no_kv_reuse"] = round(uncached, 2)
        figures[f"kv_reuse_speedup_{res}_x"] = round(cached / uncached, 3)
        figures[f"frames_per_s_{res}_{other}"] = round(in_other, 2)
        figures[f"{precision}_over_{other}_{res}_x"] = round(cached / in_other, 3)
        figures[f"frames_per_s_{res}_min_round"] = round(spread[0], 2)
        figures[f"frames_per_s_{res}_max_round"] = round(spread[1], 2)
        figures[f"gflop_per_frame_{res}"] = round(flops["total_gflop"], 3)
        if res != 64 and "frames_per_s_64" in figures:
            figures[f"frames_per_s_{res}_over_64_x"] = round(cached / figures["frames_per_s_64"], 3)
            print(f"  {cached / figures['frames_per_s_64']:.2f}x the 64x64 model's frames/s, measured in this run")
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(f"peak RSS: {figures['peak_rss_mb']} MB")

    with torch.device("meta"):
        gpu = FrameModel.from_preset("gpu")
    g_res, g_ctx = gpu.cfg.resolution, 1 + 4 * (gpu.cfg.resolution // gpu.cfg.memory_patch) ** 2 + 100
    g_flops = gpu.flops_per_frame(g_res, g_res, g_ctx, args.steps)
    figures["gpu_parameters"] = sum(p.numel() for p in gpu.parameters())
    figures["gpu_256_gflop_per_frame"] = round(g_flops["total_gflop"], 2)
    if device.type == "cuda":
        figures.update(time_gpu_preset(g_res, g_flops["total_gflop"], device, args))
    else:
        est = H100_BF16_DENSE_TFLOPS * 1e3 * ASSUMED_UTILISATION / g_flops["total_gflop"]
        figures["gpu_256_frames_per_s_h100_estimate"] = round(est, 1)
        print(f"gpu preset {g_res}x{g_res}: {figures['gpu_parameters'] / 1e6:.1f}M parameters, "
              f"{g_flops['total_gflop']:.0f} GFLOP/frame; no GPU here: estimated {est:.0f} frames/s on an H100 "
              f"at {ASSUMED_UTILISATION:.0%} of its {H100_BF16_DENSE_TFLOPS:.0f} dense bf16 TFLOP/s (not measured)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
