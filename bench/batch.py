"""The batch target of issue 14: 20 jobs, 2 of them broken, end with 18 worlds and a manifest naming
the 2 failures and why, run straight through, killed with `kill -9` half-way and started again, and
on `--backend ray`.

    .venv/bin/python bench/batch.py [--jobs 20] [--workers 2]

Reference, measured in the same run: the local backend run straight through. The resumed run (a
SIGKILL once half the worlds are on disk, then the same command again), the local backend with
--workers processes and the Ray run (a local Ray instance with --workers CPUs) must end with the
same outcome per job (status and error type). Scenes must be byte-identical to those of a run with
as many torch threads per job (cores / workers; float reductions round differently with another
count): the resumed run's to the reference's, the Ray run's to the local parallel run's. Wall
times are printed as ratios of the reference. Skips the
Ray run when Ray is not installed (`pip install 'worldgen[cluster]'`). Exits non-zero if a check
fails. The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faults import PROMPTS, SMALL, batch_command, scene_digest, visible_worlds  # noqa: E402  (bench/faults.py)
from machine import describe  # noqa: E402  (bench/machine.py)

from worldgen.batch import final_status, outcome_view  # noqa: E402

BROKEN = [{"id": "missing-photo", "images": "no_such_photo.png", **SMALL},  # a file that is not there
          {"id": "torn-layout", "layout": "torn_layout.json", **SMALL}]  # a layout file cut off mid-way


def write_jobs(path: Path, n: int) -> Path:
    good = [{"id": f"w{i:02d}", "prompt": PROMPTS[i % len(PROMPTS)], "seed": i, **SMALL} for i in range(n - len(BROKEN))]
    jobs = good[: len(good) // 3] + BROKEN[:1] + good[len(good) // 3: 2 * len(good) // 3] + BROKEN[1:] + \
        good[2 * len(good) // 3:]  # the broken jobs in the middle, so the kill lands around them
    path.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    (path.parent / "torn_layout.json").write_text('{"scene": "bedroom", "boxes": [{"kind": "bed", "cen')
    return path


def timed(cmd: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=7200)
    return time.perf_counter() - t0, r.returncode


def kill_half_way(cmd: list[str], out: Path, worlds: int) -> int:
    """Start the batch, SIGKILL it once `worlds` worlds are on disk; -> the worlds it had made."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and (not out.is_dir() or len(visible_worlds(out)) < worlds):
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return len(visible_worlds(out))


def summary(out: Path) -> dict:
    final = final_status(out)
    return {"worlds": len(visible_worlds(out)), "outcomes": outcome_view(out),
            "failures": {i: r["error"] for i, r in final.items() if r["status"] == "failed"},
            "digests": {w.name: scene_digest(w) for w in visible_worlds(out)},
            "temporaries": [p.name for p in out.iterdir() if p.name.startswith(".") and p.is_dir()]}


def ray_installed() -> bool:
    return subprocess.run([sys.executable, "-c", "import ray"], capture_output=True).returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance")
    args = ap.parse_args()
    print(f"machine: {describe()}")
    problems, figures = [], {"machine": describe(), "jobs": args.jobs, "broken_jobs": len(BROKEN)}
    with tempfile.TemporaryDirectory(prefix="worldgen-batch-") as tmp:
        tmp = Path(tmp)
        jobs = write_jobs(tmp / "jobs.jsonl", args.jobs)
        clean_s, code = timed(batch_command(jobs, tmp / "clean"))
        clean = summary(tmp / "clean")
        print(f"reference (local, straight through): {clean['worlds']} worlds in {clean_s:.1f} s, exit {code}; "
              f"failed: {json.dumps(clean['failures'])}")
        expected_worlds = args.jobs - len(BROKEN)
        if clean["worlds"] != expected_worlds or set(clean["failures"]) != {j["id"] for j in BROKEN} or code != 3:
            problems.append(f"reference: {clean['worlds']} worlds, failures {sorted(clean['failures'])}, exit {code}")
        figures.update(reference_s=round(clean_s, 1), reference_worlds=clean["worlds"], reference_exit_code=code,
                       failures=clean["failures"])

        # Each run's scenes must be byte-identical to those of the run with the same torch threads per
        # job (os.cpu_count() // workers): float reductions round differently with another count.
        parallel = ["--workers", str(args.workers)]
        runs = {"resumed": (lambda out: resumed(jobs, out, expected_worlds // 2, figures), "clean"),
                "local_parallel": (lambda out: timed(batch_command(jobs, out) + parallel), None)}
        if ray_installed():
            runs["ray"] = (lambda out: timed(batch_command(jobs, out) + ["--backend", "ray", *parallel]), "local_parallel")
        else:
            print("ray: not installed (pip install 'worldgen[cluster]'), skipped")
        done = {"clean": clean}
        for name, (run, same_as) in runs.items():
            seconds, code = run(tmp / name)
            got = done[name] = summary(tmp / name)
            same_outcomes = got["outcomes"] == clean["outcomes"]
            same_worlds = same_as is None or got["digests"] == done[same_as]["digests"]
            print(f"{name}: {got['worlds']} worlds in {seconds:.1f} s ({seconds / clean_s:.2f}x the reference), "
                  f"exit {code}; outcomes {'equal' if same_outcomes else 'DIFFER'}"
                  + (f", scene.ply {'byte-identical' if same_worlds else 'DIFFER'} against {same_as}" if same_as else "")
                  + f", temporaries left {len(got['temporaries'])}")
            if not (same_outcomes and same_worlds and code == 3 and not got["temporaries"]):
                problems.append(f"{name}: does not match the reference")
            figures.update({f"{name}_s": round(seconds, 1), f"{name}_vs_reference": round(seconds / clean_s, 2),
                            f"{name}_worlds": got["worlds"], f"{name}_same_outcomes": same_outcomes,
                            f"{name}_same_scenes": same_worlds})
    for p in problems:
        print(f"PROBLEM: {p}")
    figures["checks_passed"] = not problems
    print(json.dumps(figures))
    sys.exit(1 if problems else 0)


def resumed(jobs: Path, out: Path, half: int, figures: dict) -> tuple[float, int]:
    """kill -9 once `half` worlds exist, then the same command again; -> (total seconds, last exit code)."""
    t0 = time.perf_counter()
    figures["resumed_worlds_at_kill"] = kill_half_way(batch_command(jobs, out), out, half)
    _, code = timed(batch_command(jobs, out))
    print(f"resumed: killed with {figures['resumed_worlds_at_kill']} worlds on disk, then restarted")
    return time.perf_counter() - t0, code


if __name__ == "__main__":
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    main()
