"""End-to-end generation: `worldgen.generate` from a prompt (each effort, procedural frames, and the
draft through the frame model), a photo, a video and a panorama: wall time, peak memory, held-out
PSNR. These are the costs the README's effort table states.

Each run is a fresh process (models loaded from disk, as a user's first call), so its wall time
and peak RSS are the whole cost. The reference, measured in the same run, is the draft; the other
worlds' times are printed as ratios of it. The photo is a 512x512 view of a held-out procedural
world, the video a 10 s walk through another (24 frames/s, 360x360, mp4) and the panorama a
2048x1024 equirectangular ray cast from the middle of a third, so none was seen in training. Targets (issues 13, 14): draft <= 60 s and full <= 5 min on 2 CPU cores, peak RSS
<= 8 GB; image -> world of one 512x512 photo <= 3 min; video -> world of a 10 s clip <= 5 min.
Each world's stage times come from its world.json.

    .venv/bin/python bench/generate.py
    .venv/bin/python bench/generate.py --prompt "a park with a red bench and two pine trees" --skip-inputs
    .venv/bin/python bench/generate.py --efforts draft standard high --skip-inputs

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
import json, sys, time
t0 = time.perf_counter()
import worldgen
world = worldgen.generate(**json.loads(sys.argv[1]), seed=0, progress=False)
world.save(sys.argv[2])
# VmHWM, not ru_maxrss: Linux carries a parent's ru_maxrss into a child across fork and exec.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss_mb": hwm_kb / 1024,
                  "timings_s": world.manifest.get("timings_s"), "metrics": world.metrics, "gaussians": len(world.scene)}))
"""


def run(**kwargs) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(kwargs), str(Path(tmp) / "world")],
                             capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"generate({kwargs}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def held_out_inputs(folder: Path) -> tuple[Path, Path, Path]:
    """A 512x512 photo, a 10 s mp4 and a 2048x1024 panorama of held-out procedural worlds (seeds never
    trained on)."""
    from PIL import Image
    from sfm import held_out_video  # bench/sfm.py

    from renderer.raycast import raycast, raycast_panorama
    from worldgen.frame_training import HELD_OUT_SEED_BASE
    from worldgen.procgen.composers import compose
    from worldgen.procgen.paths import camera_path
    from worldgen.procgen.world import build_world

    layout, _ = compose("living_room", HELD_OUT_SEED_BASE + 101)
    cam = camera_path(layout, "orbit", 8, width=512, height=512, seed=0)[0]
    shot = raycast(build_world(layout, HELD_OUT_SEED_BASE + 101), cam, samples_per_pixel=2)
    photo = folder / "photo.png"
    Image.fromarray((shot["rgb"] * 255 + 0.5).astype("uint8")).save(photo)
    _, _, video = held_out_video("kitchen", HELD_OUT_SEED_BASE + 102, 240, 360, folder)
    layout, _ = compose("bedroom", HELD_OUT_SEED_BASE + 103)
    lo, hi = layout.bounds()
    shot = raycast_panorama(build_world(layout, HELD_OUT_SEED_BASE + 103), ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 1.5),
                            2048)
    pano = folder / "pano.png"
    Image.fromarray((shot["rgb"] * 255 + 0.5).astype("uint8")).save(pano)
    return photo, video, pano


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompt", default="a bedroom with a blue bed, a lamp and a bookshelf")
    ap.add_argument("--skip-inputs", action="store_true", help="only the prompt worlds (no photo, video, panorama)")
    ap.add_argument("--efforts", nargs="+", default=["draft"], choices=["draft", "standard", "high"],
                    help="efforts of the procedural prompt world (draft is always the reference)")
    args = ap.parse_args()
    print(f"machine: {describe()}")
    figures: dict = {"machine": describe(), "prompt": args.prompt}
    cases = {"draft": {"prompt": args.prompt}}
    cases.update({e: {"prompt": args.prompt, "effort": e} for e in args.efforts if e != "draft"})
    cases["model"] = {"prompt": args.prompt, "frames_from": "model"}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_inputs:
            photo, video, pano = held_out_inputs(Path(tmp))
            cases.update(image={"images": str(photo)}, video={"video": str(video)}, pano={"pano": str(pano)})
        results = {name: run(**kwargs) for name, kwargs in cases.items()}
    for name, r in results.items():
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in (r["timings_s"] or {}).items())
        ratio = r["seconds"] / results["draft"]["seconds"]
        print(f"{name}: {r['seconds']:.1f} s end to end ({ratio:.2f}x the draft), peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"{r['gaussians']} Gaussians, held-out PSNR {r['metrics'].get('psnr_heldout')} dB ({stages})")
        figures[f"{name}_seconds"] = round(r["seconds"], 2)
        if name != "draft":  # the reference
            figures[f"{name}_over_draft_time_x"] = round(ratio, 3)
        figures[f"{name}_peak_rss_mb"] = round(r["peak_rss_mb"], 1)
        figures[f"{name}_psnr_heldout_db"] = r["metrics"].get("psnr_heldout")
        figures[f"{name}_stage_seconds"] = r["timings_s"]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
