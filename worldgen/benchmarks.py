"""`worldgen bench`: run bench/ scripts, keep each one's latest result, and write BENCHMARKS.md.

Each script prints its figures (ratios against a reference measured in the same run, absolute
figures with the machine) and ends with one JSON line (bench/ conventions). A run stores the
script's record in bench/results/NAME.json: the JSON line, its printed output, the arguments, the
date, the seconds it took and the machine. The page is then rewritten from every stored record, so
scripts can be run one at a time, each section saying when and where its figures were taken. The
series among the figures (dicts or lists of numbers, such as a per-frame time curve) are plotted
with matplotlib. A script that fails is recorded and reported with its error; the others go on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from renderer.errors import ArgumentError
from renderer.formats.base import atomic_write

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
HELPERS = {"machine"}  # modules of bench/ that are not benchmarks
CUDA_ONLY = {"raster_cuda"}  # run by default only where torch sees a CUDA device (named, they run anywhere)
OUTPUT_CHARS = 6000  # of a script's printed output kept in its record (the end, where the figures are)


def scripts() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in HELPERS)


def default_scripts() -> list[str]:
    """What `worldgen bench` runs when no names are given: every script this machine can run."""
    import torch

    return [n for n in scripts() if n not in CUDA_ONLY or torch.cuda.is_available()]


def run_script(name: str, args: list[str], timeout_s: float) -> dict:
    """Run bench/NAME.py -> {"figures": its last JSON line (None if there is none), "seconds", "error"
    (None when it exited 0 with figures; a script whose checks fail exits non-zero but still prints
    its figures), "output", and on error "stderr"}."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), *args], capture_output=True, text=True,
                             timeout=timeout_s, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"figures": None, "seconds": timeout_s, "error": f"timed out after {timeout_s:.0f} s", "output": ""}
    seconds = time.perf_counter() - t0
    lines = out.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        figures = None
    if not isinstance(figures, dict):
        figures = None
    error = None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or [""])[-1]
        error = f"exited {out.returncode}" + (f": {last}" if last else "")
    elif figures is None:
        error = "no JSON object printed last"
    result = {"figures": figures, "seconds": seconds, "error": error, "output": out.stdout[-OUTPUT_CHARS:]}
    if error is not None:
        result["stderr"] = out.stderr[-OUTPUT_CHARS:]  # the traceback, to see where it failed
    return result


def save_record(name: str, result: dict, args: list[str], machine: str, results: Path = RESULTS) -> Path:
    """Store one run of bench/NAME.py as results/NAME.json (atomically; the previous record is replaced)."""
    record = {"name": name, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine,
              "args": args, **result}
    path = Path(results) / f"{name}.json"
    atomic_write(path, [(json.dumps(record, indent=1) + "\n").encode()])
    return path


def load_records(results: Path = RESULTS) -> dict[str, dict]:
    """Every stored record, by script name; a record that does not parse is reported as such."""
    records = {}
    for path in sorted(Path(results).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as e:
            record = {"figures": None, "error": f"{path.name}: unreadable record ({e})"}
        records[path.stem] = record
    return records


def _series(figures: dict) -> dict[str, tuple[list, list]]:
    out = {}
    for key, value in figures.items():
        if isinstance(value, list) and len(value) > 1 and all(isinstance(v, (int, float)) for v in value):
            out[key] = (list(range(len(value))), value)
        elif isinstance(value, dict) and len(value) > 1 and all(isinstance(v, (int, float)) for v in value.values()):
            try:
                xs = [float(k) for k in value]
            except ValueError:
                continue
            out[key] = (xs, list(value.values()))
    return out


def _plot(name: str, series: dict, folder: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for key, (xs, ys) in series.items():
        ax.plot(xs, ys, label=key, marker="." if len(xs) < 40 else None)
    ax.set_title(name)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _flat(figures: dict, prefix: str = "") -> dict:
    """Scalar figures, nested objects flattened to dotted keys (series are plotted instead)."""
    out = {}
    for key, value in figures.items():
        if isinstance(value, (int, float, str)) and key != "machine":  # bools too: a check's outcome
            out[prefix + key] = value
        elif isinstance(value, dict) and not _series({key: value}):
            out.update(_flat(value, f"{prefix}{key}."))
    return out


def _section(name: str, r: dict, page: Path) -> list[str]:
    args = " ".join(r.get("args") or [])
    where = f"`bench/{name}.py{' ' + args if args else ''}`"
    when = ", ".join(str(x) for x in (r.get("date"), r.get("machine")) if x)
    lines = [f"## {name}", "", f"{where}, {r.get('seconds', 0):.0f} s{'; ' + when if when else ''}.", ""]
    if r.get("error"):
        lines += [f"**Failed:** {r['error']}", ""]
    if r.get("figures") is None:
        return lines
    scalars = _flat(r["figures"])
    if scalars:
        lines += ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in scalars.items()] + [""]
    series = _series(r["figures"])
    if series:
        path = _plot(name, series, page.parent / "bench" / "plots")
        lines += [f"![{name}]({path.relative_to(page.parent).as_posix()})", ""]
    if r.get("output"):
        lines += ["<details><summary>printed output</summary>", "", "```", r["output"].rstrip(), "```", "",
                  "</details>", ""]
    return lines


def write_page(records: dict[str, dict], out: Path, machine: str) -> Path:
    """BENCHMARKS.md from stored records (plots beside it in bench/plots/). Returns its path."""
    out = Path(out)
    lines = ["# Benchmarks", "", f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `worldgen bench` "
             f"on {machine}. Each section is one bench/ script (its docstring says what it measures and against "
             "which reference), with the date and machine of its latest run; `worldgen bench NAME` reruns one.", ""]
    for name in sorted(records):
        lines += _section(name, records[name], out)
    atomic_write(out, ["\n".join(lines).encode() + b"\n"])
    return out


def run_benchmarks(names: list[str] | None = None, out: str | Path = ROOT / "BENCHMARKS.md", timeout_s: float = 3600,
                   log=print, args: list[str] | None = None, results: str | Path = RESULTS) -> Path:
    """Run the named bench/ scripts (when None, all this machine can run: `default_scripts`; `args`
    go to each), store their records in `results`, and rewrite the page from every stored record.
    Returns the page's path."""
    available = scripts()
    names = names or default_scripts()
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ArgumentError(f"unknown benchmarks {', '.join(unknown)}; choose from {', '.join(available)}")
    sys.path.insert(0, str(BENCH))
    from machine import describe

    machine = describe()
    for name in names:
        log(f"bench/{name}.py ...")
        result = run_script(name, list(args or []), timeout_s)
        save_record(name, result, list(args or []), machine, Path(results))
        log(f"  {'ok' if result['error'] is None else 'FAILED: ' + result['error']} ({result['seconds']:.0f} s)")
    return write_page(load_records(Path(results)), Path(out), machine)
