"""Fault injection: `kill -9` at random points of a batch, then the batch completes on restart.

    .venv/bin/python bench/faults.py [--jobs 10] [--kills 20] [--seed 0]

Reference, measured in the same run: the same JOBS file (small draft worlds, a few seconds each)
run once without interruption (and its start-up: a rerun that finds every world done). Then the
batch is started, killed with SIGKILL, restarted, killed again, `--kills` times, and finally run to
the end. Of every four kills, one lands at a random moment of start-up, two at random moments of
the first two jobs' generation, and one waits for a world's temporary folder to appear and kills
while the world is being written.

After every kill, every world a reader can see in the output folder must load (`load_world`) and its
splats must be byte-identical to the reference run's (the same inputs and seed give the same world);
at the end the batch must report every job done, with no temporary folders left. Figures: kills
delivered, where they landed, worlds checked, the slowdown of the interrupted batch against the
reference. Exits non-zero if any check fails. The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402  (bench/machine.py)

from worldgen.batch import final_status  # noqa: E402
from worldgen.world import load_world  # noqa: E402

PROMPTS = ["a bedroom with a blue bed", "a kitchen with a red fridge", "a park with a bench", "an office with a desk",
           "a living room with a sofa", "a bathroom with a bathtub", "a street with a car", "a library with shelves",
           "a garden with a pond", "a classroom with chairs"]
SMALL = {"effort": "draft", "frames": 4, "resolution": 48, "lift_steps": 40, "flythrough": False}  # steps, not seconds: deterministic


def write_jobs(path: Path, n: int) -> Path:
    jobs = [{"id": f"w{i:02d}", "prompt": PROMPTS[i % len(PROMPTS)], "seed": i, **SMALL} for i in range(n)]
    path.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    return path


def batch_command(jobs: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "worldgen.cli", "batch", str(jobs), "--out", str(out), "--quiet"]


def scene_digest(world_dir: Path) -> str:
    return hashlib.sha256((world_dir / "scene.ply").read_bytes()).hexdigest()


def visible_worlds(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_visible(out: Path, reference: dict[str, str]) -> list[str]:
    """Problems with what a reader sees: a world that does not load, or differs from the reference."""
    problems = []
    for world in visible_worlds(out):
        try:
            load_world(world)
        except Exception as e:  # noqa: BLE001 - any failure to load is what this benchmark looks for
            problems.append(f"{world.name}: does not load: {e}")
            continue
        if scene_digest(world) != reference.get(world.name):
            problems.append(f"{world.name}: scene.ply differs from the uninterrupted run")
    return problems


def where_it_landed(out: Path) -> str:
    """What the killed batch was doing: saving a world (its temporary folder is beside the worlds) or
    anything before that (importing, reading the manifest, generating)."""
    return "saving" if any(p.name.startswith(".") and p.is_dir() for p in out.iterdir()) else "starting or generating"


def kill_after(cmd: list[str], delay: float, out: Path, during_save: bool) -> bool:
    """Run cmd and SIGKILL it after `delay` s, or (during_save) the moment a world's temporary
    folder appears within that time. True if it was killed (False: it finished first)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        if during_save and where_it_landed(out) == "saving":
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="worldgen-faults-") as tmp:
        tmp = Path(tmp)
        jobs = write_jobs(tmp / "jobs.jsonl", args.jobs)

        t0 = time.perf_counter()
        subprocess.run(batch_command(jobs, tmp / "clean"), check=True, timeout=3600)
        clean_s = time.perf_counter() - t0
        reference = {w.name: scene_digest(w) for w in visible_worlds(tmp / "clean")}
        per_job = [r["seconds"] for r in final_status(tmp / "clean").values()]
        t0 = time.perf_counter()  # start-up: a rerun that finds every world done does nothing else
        subprocess.run(batch_command(jobs, tmp / "clean"), check=True, timeout=3600)
        start_up = time.perf_counter() - t0
        print(f"reference: {len(reference)} worlds in {clean_s:.1f} s ({start_up:.1f} s start-up, "
              f"{sum(per_job) / len(per_job):.1f} s per job)")

        out, problems, landed, checked = tmp / "killed", [], {}, 0
        out.mkdir()
        t0 = time.perf_counter()
        kills = 0
        while kills < args.kills:
            phase = kills % 4  # a kill in four in start-up, one at a save, two while generating
            during_save = phase == 3
            # Generation-phase kills land within the first job after start-up, so that about one
            # restart in two finishes a world and all `--kills` land before the batch is done.
            delay = {0: rng.uniform(0.2, start_up), 3: 2 * (start_up + max(per_job))}.get(
                phase, start_up + rng.uniform(0, max(per_job)))
            if not kill_after(batch_command(jobs, out), delay, out, during_save):
                break  # the batch finished before this kill
            kills += 1
            spot = where_it_landed(out)
            landed[spot] = landed.get(spot, 0) + 1
            found = check_visible(out, reference)
            checked += len(visible_worlds(out))
            when = "at a save" if during_save else f"after {delay:4.1f} s"
            problems += [f"after kill {kills} ({when}, {spot}): {p}" for p in found]
            print(f"kill {kills:2d} {when} ({spot}): {len(visible_worlds(out))} worlds visible, "
                  f"{'intact' if not found else '; '.join(found)}")
        final = subprocess.run(batch_command(jobs, out), timeout=3600)
        killed_s = time.perf_counter() - t0
        status = final_status(out)
        done = sum(1 for r in status.values() if r["status"] in ("done", "skipped"))
        problems += check_visible(out, reference)
        if final.returncode != 0 or done != args.jobs:
            problems.append(f"the restarted batch ended with code {final.returncode}, {done}/{args.jobs} worlds")
        leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
        if leftovers:
            problems.append(f"temporary folders left: {leftovers}")

    print(f"{kills} kills ({', '.join(f'{v} in {k}' for k, v in sorted(landed.items()))}); "
          f"{checked} world checks after kills; restart completed {done}/{args.jobs} jobs")
    print(f"interrupted batch {killed_s:.1f} s vs uninterrupted {clean_s:.1f} s ({killed_s / clean_s:.2f}x)")
    for p in problems:
        print("PROBLEM:", p)
    figures = {"machine": describe(), "jobs": args.jobs, "kills_delivered": kills, "kills_by_phase": landed,
               "world_checks_after_kills": checked, "problems": len(problems), "jobs_completed_after_restart": done,
               "uninterrupted_s": round(clean_s, 1), "interrupted_s": round(killed_s, 1),
               "interrupted_over_uninterrupted_x": round(killed_s / clean_s, 2)}
    print(json.dumps(figures))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
