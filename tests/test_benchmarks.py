"""`worldgen bench`: stored per-script records and the page written from them."""

import json

import pytest

from worldgen.benchmarks import (CUDA_ONLY, default_scripts, load_records, run_benchmarks, run_script, save_record,
                                 scripts, write_page)
from worldgen.errors import WorldgenError


def test_every_bench_script_is_listed_and_unknown_names_are_refused(tmp_path):
    names = scripts()
    assert {"rtfm", "rollout", "lift", "generate", "raster_cuda"} <= set(names) and "machine" not in names
    import torch

    assert set(default_scripts()) == set(names) - (set() if torch.cuda.is_available() else CUDA_ONLY)
    with pytest.raises(WorldgenError, match="unknown benchmarks"):
        run_benchmarks(["no_such_bench"], tmp_path / "B.md", results=tmp_path / "results")
    assert not (tmp_path / "results").exists() and not (tmp_path / "B.md").exists()


def test_page_tabulates_scalars_plots_series_and_reports_failures(tmp_path):
    rollout = {"seconds": 12.0, "error": None, "output": "ms/frame 116.5 (1.10x the first window)\n",
               "figures": {"machine": "m", "frames_per_s": 3.5, "frame_ms_by_frame": {"10": 270.0, "50": 275.0},
                           "curve": [1.0, 2.0, 3.0], "memory": {"mb": 3.0, "frames": 32}}}
    broken = {"seconds": 1.0, "error": "Traceback: boom", "figures": None, "output": ""}
    results = tmp_path / "results"
    save_record("rollout", rollout, ["--frames", "50"], "machine A", results)
    save_record("broken", broken, [], "machine B", results)
    (results / "torn.json").write_text('{"figures": ')
    records = load_records(results)
    assert set(records) == {"rollout", "broken", "torn"} and records["rollout"]["args"] == ["--frames", "50"]
    page = write_page(records, tmp_path / "BENCHMARKS.md", "a 2-core test machine")
    text = page.read_text()
    assert "a 2-core test machine" in text and "| frames_per_s | 3.5 |" in text and "| memory.frames | 32 |" in text
    assert "`bench/rollout.py --frames 50`" in text and "machine A" in text and "1.10x the first window" in text
    assert "![rollout](bench/plots/rollout.png)" in text and (tmp_path / "bench" / "plots" / "rollout.png").stat().st_size > 0
    assert "**Failed:** Traceback: boom" in text and "torn.json: unreadable record" in text
    assert text.index("## broken") < text.index("## rollout")  # sections in name order, whatever ran last


def test_a_rerun_replaces_only_that_scripts_record(tmp_path):
    results = tmp_path / "results"
    save_record("lift", {"seconds": 5.0, "error": None, "figures": {"psnr_db": 27.0}, "output": ""}, [], "m", results)
    save_record("raster", {"seconds": 2.0, "error": None, "figures": {"ms": 9.0}, "output": ""}, [], "m", results)
    save_record("raster", {"seconds": 3.0, "error": None, "figures": {"ms": 8.0}, "output": ""}, [], "m", results)
    records = load_records(results)
    assert records["lift"]["figures"] == {"psnr_db": 27.0} and records["raster"]["figures"] == {"ms": 8.0}
    assert sorted(p.name for p in results.iterdir()) == ["lift.json", "raster.json"]  # no temporaries left
    assert json.loads((results / "raster.json").read_text())["seconds"] == 3.0


def test_run_script_reads_the_last_json_line(tmp_path, monkeypatch):
    import worldgen.benchmarks as b

    r = run_script("no_such_script_here", [], 30)
    assert r["figures"] is None and r["error"]
    monkeypatch.setattr(b, "BENCH", tmp_path)
    (tmp_path / "checks_fail.py").write_text(
        "import json, sys\nprint('ratio 1.2x')\nprint(json.dumps({'x_s': 1.5}))\nsys.exit('PROBLEM: y')\n")
    (tmp_path / "fine.py").write_text("import sys\nprint('{\"x_s\": 2}', sys.argv[1:])\nprint('{\"x_s\": 3}')\n")
    failed, fine = run_script("checks_fail", [], 30), run_script("fine", ["--quick"], 30)
    assert failed["figures"] == {"x_s": 1.5} and failed["error"] == "exited 1: PROBLEM: y" and "ratio" in failed["output"]
    assert fine["figures"] == {"x_s": 3} and fine["error"] is None and "['--quick']" in fine["output"]
