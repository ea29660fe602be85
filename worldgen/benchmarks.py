"""`worldgen bench`: run the bench/ scripts and write BENCHMARKS.md with their figures and plots.

Each script prints its figures and ends with one JSON line (bench/ conventions); this collects
those lines, tabulates the scalar figures, plots the series (dicts or lists of numbers, such as a
per-frame time curve) with matplotlib, and names the machine. A script that fails is reported in
the page with its error instead of stopping the others.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from renderer.errors import ArgumentError

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HELPERS = {"machine"}  # modules of bench/ that are not benchmarks


def scripts() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in HELPERS)


def run_script(name: str, args: list[str], timeout_s: float) -> dict:
    """-> {"figures": the last JSON line, "seconds", "error"}."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), *args], capture_output=True, text=True,
                             timeout=timeout_s, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"figures": None, "seconds": timeout_s, "error": f"timed out after {timeout_s:.0f} s"}
    seconds = time.perf_counter() - t0
    lines = out.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if out.returncode == 0 and lines else None
    except json.JSONDecodeError:
        figures = None
    error = None if figures is not None else (out.stderr.strip().splitlines() or ["no JSON line printed"])[-1]
    return {"figures": figures, "seconds": seconds, "error": error, "output": out.stdout}


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
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_page(results: dict[str, dict], out: Path, machine: str) -> Path:
    plots = out.parent / "bench" / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    lines = ["# Benchmarks", "", f"Machine: {machine}  ", f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
             "by `worldgen bench`; each section is one bench/ script (its docstring says what it measures).", ""]
    for name, r in results.items():
        lines += [f"## {name}", "", f"`bench/{name}.py`, {r['seconds']:.0f} s.", ""]
        if r["figures"] is None:
            lines += [f"**Failed:** {r['error']}", ""]
            continue
        scalars = {k: v for k, v in r["figures"].items() if isinstance(v, (int, float, str)) and k != "machine"}
        if scalars:
            lines += ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in scalars.items()] + [""]
        series = _series(r["figures"])
        if series:
            path = _plot(name, series, plots)
            lines += [f"![{name}]({path.relative_to(out.parent).as_posix()})", ""]
    out.write_text("\n".join(lines) + "\n")
    return out


def run_benchmarks(names: list[str] | None = None, out: str | Path = ROOT / "BENCHMARKS.md", timeout_s: float = 3600,
                   log=print) -> Path:
    """Run the named bench/ scripts (all when None) and write the page. Returns its path."""
    available = scripts()
    names = names or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ArgumentError(f"unknown benchmarks {', '.join(unknown)}; choose from {', '.join(available)}")
    sys.path.insert(0, str(BENCH))
    from machine import describe

    results = {}
    for name in names:
        log(f"bench/{name}.py ...")
        results[name] = run_script(name, [], timeout_s)
        log(f"  {'ok' if results[name]['error'] is None else 'FAILED: ' + results[name]['error']} "
            f"({results[name]['seconds']:.0f} s)")
    return write_page(results, Path(out), describe())
