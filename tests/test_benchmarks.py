"""`worldgen bench`: the page it writes from the bench/ scripts' JSON lines."""

import pytest

from worldgen.benchmarks import run_benchmarks, run_script, scripts, write_page
from worldgen.errors import WorldgenError


def test_every_bench_script_is_listed_and_unknown_names_are_refused(tmp_path):
    names = scripts()
    assert {"rtfm", "rollout", "lift", "generate"} <= set(names) and "machine" not in names
    with pytest.raises(WorldgenError, match="unknown benchmarks"):
        run_benchmarks(["no_such_bench"], tmp_path / "B.md")


def test_page_tabulates_scalars_plots_series_and_reports_failures(tmp_path):
    results = {
        "rollout": {"seconds": 12.0, "error": None,
                    "figures": {"machine": "m", "frames_per_s": 3.5, "frame_ms_by_frame": {"10": 270.0, "50": 275.0},
                                "curve": [1.0, 2.0, 3.0]}},
        "broken": {"seconds": 1.0, "error": "Traceback: boom", "figures": None},
    }
    page = write_page(results, tmp_path / "BENCHMARKS.md", "a 2-core test machine")
    text = page.read_text()
    assert "a 2-core test machine" in text and "| frames_per_s | 3.5 |" in text
    assert "![rollout](bench/plots/rollout.png)" in text and (tmp_path / "bench" / "plots" / "rollout.png").stat().st_size > 0
    assert "**Failed:** Traceback: boom" in text


def test_run_script_reads_the_last_json_line():
    r = run_script("no_such_script_here", [], 30)
    assert r["figures"] is None and r["error"]
