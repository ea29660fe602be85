"""Rollout cost along a long walk: per-frame time with the spatial memory held to its bound.

A held-out world, a walk of `--frames` cameras along a collision-free route, the layout's guide,
caption and layout tokens, one frame at a time through `rtfm.rollout.rollout` (retrieval, warping,
4 sampling steps with the context keys/values reused, the frame written back to memory). The
reference, measured in the same run, is the same walk with an unbounded memory: its retrieval
and bookkeeping grow with every frame. Printed: the per-frame time curve (median of each 10-frame
window), its flatness (frames 490-500 over frames 10-20), frames/s over the first 100 frames,
the memory's size and the process's peak RSS.

    .venv/bin/python bench/rollout.py                # 500 frames at 64x64, capacity 32
    .venv/bin/python bench/rollout.py --frames 200 --capacity 16
    .venv/bin/python bench/rollout.py --reference-frames 200 --keyframe-coverage 0.9

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


def world_walk(frames: int, resolution: int):
    from worldgen.consistency import held_out_cases
    from worldgen.frame_training import DEFAULT_TEXT_ENCODER, text_states

    world = held_out_cases(1, text_states(DEFAULT_TEXT_ENCODER), resolution, {"walk": ("walk", frames)})[0]
    return world, world.paths["walk"]


def timed_walk(model, world, cameras, capacity: int, keyframe_coverage: float | None) -> tuple[list[float], "object"]:
    from rtfm.memory import SpatialMemory
    from rtfm.rollout import rollout

    memory = SpatialMemory(capacity, keyframe_coverage=keyframe_coverage)
    memory.add(world.truth(cameras[:1])[0])
    times, t = [], time.perf_counter()
    for _ in rollout(model, cameras[1:], world.condition, memory, world.guide):
        now = time.perf_counter()
        times.append(now - t)
        t = now
    return times, memory


def memory_mb(memory) -> float:
    tensors = [t for f in memory.frames for t in (f.rgb, f.depth, f.label) if t is not None] + [memory.overlap]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def window(times: list[float], start: int, size: int = 10) -> float:
    """The median frame time of a 10-frame window: one frame slowed by another process on a
    shared machine does not move it, a cost that grows along the walk does."""
    return statistics.median(times[start : start + size])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=str(ROOT / "assets" / "rtfm-tiny"))
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--capacity", type=int, default=32)
    # Every generated frame stored is the worst case for the bound (memory fills, then evicts);
    # with keyframes (the default in use) a walk that revisits its ground may never fill it.
    ap.add_argument("--keyframe-coverage", type=float, default=None, help="default: store every frame")
    ap.add_argument("--reference-frames", type=int, default=None,
                    help="frames of the unbounded reference walk (default --frames; its cost grows with each frame)")
    args = ap.parse_args()
    if args.frames < 120:
        ap.error("--frames must be at least 120 (the curve compares frames 10-20 with the last ten)")

    from rtfm.checkpoint import load_frame_model

    torch.manual_seed(0)
    model = load_frame_model(args.checkpoint, "cuda" if torch.cuda.is_available() else "cpu")
    world, cams = world_walk(args.frames + 1, args.resolution)
    print(f"machine: {describe()}")
    print(f"walk: {args.frames} frames at {args.resolution}x{args.resolution}, held-out world seed {world.seed}")

    bounded, mem = timed_walk(model, world, cams, args.capacity, args.keyframe_coverage)
    peak_bounded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ref_frames = min(args.reference_frames or args.frames, args.frames)
    unbounded, mem_all = timed_walk(model, world, cams[: ref_frames + 1], 10**9, args.keyframe_coverage)
    last, last_ref = len(bounded) - 10, len(unbounded) - 10
    curve = {i: round(window(bounded, i) * 1e3, 1) for i in [10, 50, 100, 200, 300, 400, last] if i <= last}
    curve_ref = {i: round(window(unbounded, i) * 1e3, 1) for i in curve if i <= last_ref}
    flat, flat_ref = window(bounded, last) / window(bounded, 10), window(unbounded, last_ref) / window(unbounded, 10)
    fps = 100 / sum(bounded[:100])
    print("frame   bounded ms   unbounded ms")
    for i in curve:
        print(f"{i:5d}   {curve[i]:10.1f}   {curve_ref.get(i, float('nan')):12.1f}")
    print(f"flatness (frames {last}-{last + 10} over 10-20): bounded {flat:.3f}x; unbounded (reference, frames "
          f"{last_ref}-{last_ref + 10}) {flat_ref:.3f}x, {window(unbounded, last_ref) / window(bounded, last_ref):.2f}x "
          f"the bounded walk there")
    print(f"frames/s over the first 100 frames: {fps:.2f}; memory {len(mem)} frames ({memory_mb(mem):.1f} MB, "
          f"{mem.evicted} evicted) against {len(mem_all)} frames ({memory_mb(mem_all):.1f} MB) unbounded")
    print(f"peak RSS after the bounded walk: {peak_bounded:.0f} MB")
    figures = {"machine": describe(), "frames": args.frames, "resolution": args.resolution, "capacity": args.capacity,
               "keyframe_coverage": args.keyframe_coverage, "reference_frames": ref_frames, "evicted": mem.evicted,
               "frame_ms_by_frame": curve, "frame_ms_by_frame_unbounded": curve_ref,
               "flatness_last_over_frame10_x": round(flat, 3), "flatness_unbounded_x": round(flat_ref, 3),
               "frames_per_s_first_100": round(fps, 2), "memory_frames": len(mem),
               "memory_mb": round(memory_mb(mem), 2), "memory_mb_unbounded": round(memory_mb(mem_all), 2),
               "peak_rss_mb_bounded": round(peak_bounded, 1)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
