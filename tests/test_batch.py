"""worldgen batch: JOBS.jsonl validation, failures recorded not raised, resume after kill -9, shards,
and the Ray backend agreeing with the local one. Worlds are as small as the API makes them."""

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from worldgen.batch import BatchError, append_record, final_status, outcome_view, read_jobs, read_manifest, run_batch
from worldgen.world import load_world

TINY = {"effort": "draft", "frames": 2, "resolution": 32, "time_budget_s": 0.5, "flythrough": False}
GOOD = ["chair", "table", "lamp"]
JOBS = [  # file order: good and bad interleaved, so a kill lands between them
    {"id": "chair", "prompt": "a red chair", "seed": 0, **TINY},
    {"id": "no-image", "images": "missing.png", **TINY},  # relative to the JOBS file; not there
    {"id": "table", "prompt": "a wooden table", "seed": 1, **TINY},
    {"id": "empty.prompt", "prompt": "", **TINY},  # the API refuses it
    {"id": "lamp", "prompt": "a lamp", "seed": 2, **TINY},
]
EXPECTED = {"chair": ("done", None), "no-image": ("failed", "ImageError"), "table": ("done", None),
            "empty.prompt": ("failed", "LayoutError"), "lamp": ("done", None)}


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "worldgen.cli", "batch", *map(str, args)], capture_output=True,
                          text=True, timeout=600, **kw)


def write_jobs(path, jobs, header="# tiny worlds\n\n"):
    path.write_text(header + "".join(json.dumps(j) + "\n" for j in jobs))
    return path


def visible_entries(out):
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    """One uninterrupted local run of JOBS: the reference the other runs must agree with."""
    root = tmp_path_factory.mktemp("clean")
    jobs = write_jobs(root / "jobs.jsonl", JOBS)
    lines = []
    summary = run_batch(jobs, root / "out", progress=lines.append)
    return jobs, root / "out", summary, lines


@pytest.mark.slow
def test_failures_are_recorded_and_a_rerun_skips_done_worlds(clean_run):
    jobs, out, summary, lines = clean_run
    assert (summary.done, summary.failed, summary.skipped, summary.total) == (3, 2, 0, 5)
    assert outcome_view(out) == EXPECTED
    final = final_status(out)
    assert "missing.png" in final["no-image"]["error"] and "prompt" in final["empty.prompt"]["error"]
    assert final["no-image"]["attempts"] == 1  # bad inputs fail the same way again: not retried
    assert all(final[i]["seconds"] > 0 and final[i]["shard"] == "0/1" for i in GOOD)
    assert {f["id"] for f in summary.failures} == {"no-image", "empty.prompt"}
    assert visible_entries(out) == sorted(GOOD + ["manifest.jsonl"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left
    for i in GOOD:
        assert load_world(out / i).manifest["inputs"]["prompt"]
    assert len(lines) == 5 and "remaining 0" in lines[-1] and "ETA" in lines[0]

    r = cli(jobs, "--out", out, "--json")
    assert r.returncode == 3, r.stderr
    rerun = json.loads(r.stdout)
    assert (rerun["done"], rerun["skipped"], rerun["failed"], rerun["total"]) == (0, 3, 2, 5)
    assert {f["id"] for f in rerun["failures"]} == {"no-image", "empty.prompt"}
    assert "skipped" in r.stderr  # progress lines
    assert outcome_view(out) == EXPECTED
    assert [r["status"] for r in read_manifest(out)].count("skipped") == 3


@pytest.mark.slow
def test_kill_9_half_way_then_rerun_matches_a_clean_run(clean_run, tmp_path):
    jobs, clean_out, _, _ = clean_run
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "worldgen.cli", "batch", str(jobs), "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 500
        while not list(out.glob("*/world.json")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the batch finished before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for name in visible_entries(out):  # what a reader sees is complete worlds and the manifest, nothing half-made
        assert name == "manifest.jsonl" or load_world(out / name)
    assert len(visible_entries(out)) < 4  # it was killed before the last world

    r = cli(jobs, "--out", out, "--quiet")
    assert r.returncode == 3, r.stderr
    assert outcome_view(out) == outcome_view(clean_out) == EXPECTED
    assert visible_entries(out) == visible_entries(clean_out)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # the killed job's temporary folder went too


@pytest.mark.slow
def test_shards_cover_every_job_exactly_once(tmp_path):
    jobs = [{"id": "good", "prompt": "a blue sofa", **TINY},  # index 0: shard 0
            {"id": "bad-effort", "prompt": "a sofa", "effort": "ultra"},
            {"id": "no-input"},
            {"id": "no-layout", "layout": "nothere.json"},
            {"id": "empty", "prompt": ""}]
    path = write_jobs(tmp_path / "jobs.jsonl", jobs)
    a, b, merged = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    s0 = run_batch(path, a, shard=(0, 2), workers=2)  # the process pool
    r = cli(path, "--out", b, "--shard", "1/2", "--json", "--quiet")
    assert r.returncode == 3, r.stderr
    s1 = json.loads(r.stdout)
    assert (s0.total, s1["total"]) == (3, 2) and (s0.done, s1["done"]) == (1, 0)
    assert visible_entries(a) == ["good", "manifest.shard-0-of-2.jsonl"]
    assert visible_entries(b) == ["manifest.shard-1-of-2.jsonl"]
    ids_a = [r["id"] for r in read_manifest(a)]
    ids_b = [r["id"] for r in read_manifest(b)]
    assert sorted(ids_a + ids_b) == sorted(j["id"] for j in jobs)  # each job ran in exactly one shard
    for src in (a, b):  # shards merge by copying folders
        shutil.copytree(src, merged, dirs_exist_ok=True)
    view = outcome_view(merged)
    assert view == {"good": ("done", None), "bad-effort": ("failed", "ConfigError"),
                    "no-input": ("failed", "SourceError"), "no-layout": ("failed", "LayoutError"),
                    "empty": ("failed", "LayoutError")}
    assert {r["shard"] for r in final_status(merged).values()} == {"0/2", "1/2"}
    assert run_batch(path, merged, shard=(0, 2)).skipped == 1  # resumes from the merged folder


BAD_FILES = [  # (contents, line named, words in the message)
    ('{"id": "a", "prompt": "x"}\n\n{"id": "b", "prompt": }\n', 3, "not valid JSON"),
    ('{"id": "a"}\n# c\n{"id": "b"}\n{"id": "a", "seed": 2}\n', 4, "duplicate id 'a' (first on line 1)"),
    ('{"id": "../x", "prompt": "x"}\n', 1, "not a safe folder name"),
    ('{"id": "ok"}\n{"id": "a/b"}\n', 2, "not a safe folder name"),
    ('{"id": ".."}\n', 1, "not a safe folder name"),
    ('{"id": ".hidden"}\n', 1, "not a safe folder name"),
    ('{"id": "a b"}\n', 1, "not a safe folder name"),
    ('{"id": "manifest.jsonl"}\n', 1, "not a safe folder name"),
    ('{"id": "%s"}\n' % ("x" * 101), 1, "not a safe folder name"),
    ('{"id": "a", "promt": "x"}\n', 1, "unknown field(s) 'promt'"),
    ('{"prompt": "x"}\n', 1, "has no \"id\""),
    ('{"id": 7}\n', 1, "\"id\" must be a non-empty string"),
    ('{"id": "a", "seed": "1"}\n', 1, "\"seed\" must be an integer"),
    ('{"id": "a", "seed": true}\n', 1, "\"seed\" must be an integer"),
    ('{"id": "a", "frames": 2.5}\n', 1, "\"frames\" must be an integer"),
    ('{"id": "a", "images": [1]}\n', 1, "\"images\" must be a string or a list of strings"),
    ('[{"id": "a"}]\n', 1, "must be a JSON object"),
    (b'{"id": "a", "prompt": "\xff"}\n', 1, "not UTF-8"),
    ("", None, "holds no jobs"),
    ("# only a comment\n\n", None, "holds no jobs"),
]


@pytest.mark.parametrize("contents,line,words", BAD_FILES)
def test_bad_jobs_files_are_refused_before_anything_runs(tmp_path, contents, line, words):
    path = tmp_path / "jobs.jsonl"
    path.write_bytes(contents if isinstance(contents, bytes) else contents.encode())
    with pytest.raises(BatchError) as e:
        run_batch(path, tmp_path / "out")
    assert str(e.value).startswith(f"{path}:{line}: " if line else f"{path}: ") and words in str(e.value), str(e.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_jobs_file_limits(tmp_path, monkeypatch):
    import worldgen.batch as batch

    path = tmp_path / "jobs.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "prompt": "%s"}\n' % ("x" * 200))
    monkeypatch.setattr(batch, "MAX_LINE_BYTES", 100)
    with pytest.raises(BatchError, match=r"jobs.jsonl:2: line is longer than"):
        read_jobs(path)
    monkeypatch.setattr(batch, "MAX_FILE_BYTES", 50)
    with pytest.raises(BatchError, match="more than a jobs file may hold"):
        read_jobs(path)
    monkeypatch.undo()
    monkeypatch.setattr(batch, "MAX_JOBS", 1)
    with pytest.raises(BatchError, match=r"jobs.jsonl:2: more than 1 jobs"):
        read_jobs(path)
    monkeypatch.undo()
    (tmp_path / "in").mkdir()
    jobs = read_jobs(path)
    assert [j.id for j in jobs] == ["a", "b"] and [j.line for j in jobs] == [1, 2]
    path.write_text('{"id": "a", "images": ["p.png"], "layout": "in/l.json", "video": "v.mp4"}\n')
    kw = read_jobs(path)[0].kwargs
    base = tmp_path.resolve()
    assert kw == {"images": [str(base / "p.png")], "layout": str(base / "in/l.json"), "video": str(base / "v.mp4")}


def test_cli_bad_file_and_arguments_exit_2(tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": \n')
    r = cli(path, "--out", tmp_path / "out")
    assert r.returncode == 2 and f"{path}:2: not valid JSON" in r.stderr and "Traceback" not in r.stderr
    path.write_text('{"id": "a", "prompt": ""}\n')
    for args in (["--shard", "2/2"], ["--shard", "x"], ["--backend", "slurm"], ["--address", "auto"]):
        r = cli(path, "--out", tmp_path / "out", *args)
        assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "out").exists()


def test_manifest_survives_a_torn_line_and_reduces_to_the_last_outcome(tmp_path):
    m = tmp_path / "manifest.jsonl"
    append_record(m, {"id": "a", "status": "failed", "error": "x", "error_type": "E", "time": 1.0})
    append_record(m, {"id": "b", "status": "done", "error": None, "error_type": None, "time": 2.0})
    with open(m, "ab") as f:
        f.write(b'{"id": "a", "sta')  # a kill -9 in the middle of a write
    append_record(m, {"id": "a", "status": "done", "error": None, "error_type": None, "time": 3.0})
    append_record(tmp_path / "manifest.shard-1-of-2.jsonl", {"id": "b", "status": "skipped", "time": 4.0})
    append_record(tmp_path / "manifest.shard-1-of-2.jsonl", {"id": "c", "status": "skipped", "time": 5.0})
    assert len(read_manifest(tmp_path)) == 5
    final = final_status(tmp_path)
    assert {i: r["status"] for i, r in final.items()} == {"a": "done", "b": "done", "c": "skipped"}
    assert outcome_view(tmp_path) == {"a": ("done", None), "b": ("done", None), "c": ("done", None)}


@pytest.mark.slow
def test_ray_backend_matches_the_local_backend(clean_run, tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'worldgen[cluster]')")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    _, clean_out, _, _ = clean_run
    ids = ["chair", "no-image"]
    path = write_jobs(tmp_path / "jobs.jsonl", [j for j in JOBS if j["id"] in ids])
    lines = []
    summary = run_batch(path, tmp_path / "out", backend="ray", workers=2, progress=lines.append)
    assert (summary.done, summary.failed) == (1, 1)
    assert outcome_view(tmp_path / "out") == {i: outcome_view(clean_out)[i] for i in ids}
    assert visible_entries(tmp_path / "out") == ["chair", "manifest.jsonl"]
    assert len(lines) == 2
    load_world(tmp_path / "out" / "chair")


def test_ray_missing_says_which_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    path = write_jobs(tmp_path / "jobs.jsonl", [{"id": "a", "prompt": "x"}])
    with pytest.raises(BatchError, match=r"worldgen\[cluster\]"):
        run_batch(path, tmp_path / "out", backend="ray")
    assert not (tmp_path / "out").exists()  # refused before anything was written
