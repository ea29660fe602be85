import json
import subprocess
import sys

import numpy as np
from PIL import Image

from conftest import random_scene
from renderer import save_scene


def run(*args):
    return subprocess.run([sys.executable, "-m", "worldgen.cli", *args], capture_output=True, text=True, timeout=300)


def test_demo_info_and_render(tmp_path):
    r = run("demo", "--out", str(tmp_path / "demo.png"), "--gaussians", "3000", "--width", "64", "--height", "48")
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(tmp_path / "demo.png"))
    assert img.shape == (48, 64, 3) and img.std() > 10  # something was drawn

    r = run("info", str(tmp_path / "demo.ply"), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["gaussians"] > 2900 and info["sh_degree"] == 1
    lo, hi = info["bounds"]
    assert lo[2] >= -1e-6 and hi[2] > 1.0  # +Z up: the ground is the lowest thing

    r = run("render", str(tmp_path / "demo.ply"), "--out", str(tmp_path / "v.png"), "--width", "40", "--height", "30",
            "--azimuth", "200", "--elevation", "40", "--distance", "5", "--background", "#ff0000")
    assert r.returncode == 0, r.stderr
    v = np.asarray(Image.open(tmp_path / "v.png"))
    assert v.shape == (30, 40, 3) and tuple(v[0, 0]) == (255, 0, 0)  # sky corner shows the background


def test_render_is_deterministic(tmp_path):
    save_scene(random_scene(500), tmp_path / "s.ply")
    for name in ("a.png", "b.png"):
        assert run("render", str(tmp_path / "s.ply"), "--out", str(tmp_path / name), "--width", "32", "--height", "32").returncode == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_bad_inputs_get_clear_errors(tmp_path):
    (tmp_path / "junk.ply").write_bytes(b"\x00garbage")
    r = run("info", str(tmp_path / "junk.ply"))
    assert r.returncode == 2 and "junk.ply: not a PLY file" in r.stderr and "Traceback" not in r.stderr
    r = run("render", str(tmp_path / "nothere.ply"), "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "no such file" in r.stderr
    save_scene(random_scene(5), tmp_path / "s.ply")
    r = run("render", str(tmp_path / "s.ply"), "--out", str(tmp_path / "x.gif"))
    assert r.returncode == 2 and "unsupported image extension" in r.stderr
    r = run("render", str(tmp_path / "s.ply"), "--out", str(tmp_path / "x.png"), "--distance", "-1")
    assert r.returncode == 2 and "--distance" in r.stderr
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.gif").exists()


def test_layout_procgen_and_render_layout(tmp_path):
    r = run("layout", "a bedroom with two green beds and a lamp on the desk, plus dragons", "--json", "--engine", "rules",
            "--no-complete")
    assert r.returncode == 0, r.stderr
    layout = json.loads(r.stdout)
    assert layout["version"] == 1 and sorted(o["label"] for o in layout["objects"]) == ["bed", "bed", "desk", "lamp"]
    assert "ignored words: dragons" in r.stderr
    completed = json.loads(run("layout", "a bedroom with two green beds", "--json", "--engine", "rules").stdout)
    assert {o["source"] for o in completed["objects"]} == {"prompt", "completion"}  # the default furnishes the room
    (tmp_path / "l.json").write_text(r.stdout)
    r = run("render-layout", str(tmp_path / "l.json"), "--out", str(tmp_path / "draft"), "--frames", "3", "--resolution", "24")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "draft" / "transforms.json").read_text())
    assert len(meta["frames"]) == 3 and (tmp_path / "draft" / "depth" / "00002.npy").exists()
    r = run("procgen", "--out", str(tmp_path / "ds"), "--worlds", "2", "--frames", "2", "--resolution", "16", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["world_00000", "world_00001"]
    (tmp_path / "bad.json").write_text('{"version": 2}')
    r = run("render-layout", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "bad.json: layout schema version 2" in r.stderr and not (tmp_path / "x").exists()


def test_layout_with_the_shipped_language_model():
    r = run("layout", "a bedroom with two blue beds and a white lamp on the table", "--json", "--engine", "lm",
            "--no-complete")
    assert r.returncode == 0, r.stderr
    layout = json.loads(r.stdout)
    assert layout["version"] == 1 and layout["scene_type"] == "bedroom"
    assert sorted(o["label"] for o in layout["objects"]) == ["bed", "bed", "lamp", "table"]
    r = run("layout", "x", "--engine", "gpt")
    assert r.returncode == 2 and "engine must be one of auto, lm, rules" in r.stderr
    r = run("layout", "x", "--engine", "lm", "--checkpoint", "/nonexistent")
    assert r.returncode == 2 and "config.json: cannot read" in r.stderr


# --quiet and --json on every command, run in this process (typer's CliRunner) on the tiniest inputs.

import pytest
import typer
from typer.testing import CliRunner

import worldgen.cli as cli

TINY_WORLD = ["--frames", "2", "--resolution", "32", "--lift-steps", "5", "--no-flythrough"]
WITHOUT_OUTPUT_OPTIONS = {"app"}  # the editor's server: it prints no banner or progress to quiet, and no result


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def leaf_commands(group, prefix=()):
    """(path, command) of each command under a typer group (typer's own click: no click.Group)."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_takes_quiet_and_json():
    cli._plugin_commands()  # `worldgen app` joins as it does under main(); loading twice adds it once
    commands = dict(leaf_commands(typer.main.get_command(cli.app)))
    assert {("generate",), ("train", "lm"), ("eval", "rtfm"), ("app",)} <= set(commands)
    for path, command in commands.items():
        if path[-1] in WITHOUT_OUTPUT_OPTIONS:
            continue
        options = {opt for p in command.params for opt in p.opts}
        assert {"--quiet", "--json"} <= options, path
        shown = invoke(*path, "--help")
        assert shown.exit_code == 0 and "--quiet" in shown.stdout and "--json" in shown.stdout, path
    assert "Exit codes" in invoke("--help").stdout


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, micro_checkpoint):
    d = tmp_path_factory.mktemp("inputs")
    r = invoke("generate", "a blue sofa", "--out", d / "world", *TINY_WORLD, "--quiet")
    assert r.exit_code == 0, r.stderr
    r = invoke("layout", "a bedroom with a bed", "--engine", "rules", "--out", d / "layout.json", "--quiet")
    assert r.exit_code == 0, r.stderr
    Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)).save(d / "photo.png")
    (d / "jobs.jsonl").write_text(json.dumps({"id": "a", "prompt": "a blue sofa", "frames": 2, "resolution": 32,
                                              "lift_steps": 5, "flythrough": False}) + "\n")
    return {"world": d / "world", "layout": d / "layout.json", "photo": d / "photo.png", "jobs": d / "jobs.jsonl",
            "micro": micro_checkpoint}


def fake_benchmarks(names, out, timeout_s, log, **kw):
    log("bench/fake.py ...")
    out.write_text("# Benchmarks\n")
    return out


# command -> (its arguments from the inputs and an output folder, keys of its JSON object,
#             what --quiet prints: the paths written, or None for the figures of a command that writes nothing)
CASES = {
    "info": (lambda i, o: [i["world"]], {"file", "gaussians", "sh_degree", "bounds", "labels", "files"}, None),
    "render": (lambda i, o: [i["world"], "--out", o / "r.png", "--width", "16", "--height", "16"],
               {"out", "width", "height", "gaussians"}, lambda o: [o / "r.png"]),
    "demo": (lambda i, o: ["--out", o / "d.png", "--gaussians", "16", "--width", "16", "--height", "16"],
             {"out", "ply", "gaussians", "width", "height"}, lambda o: [o / "d.ply", o / "d.png"]),
    "layout": (lambda i, o: ["a bedroom with a bed and dragons", "--engine", "rules", "--out", o / "l.json"],
               {"version", "scene_type", "objects"}, lambda o: [o / "l.json"]),
    "render-layout": (lambda i, o: [i["layout"], "--out", o / "rl", "--frames", "1", "--resolution", "8"],
                      {"out", "frames", "resolution", "caption"}, lambda o: [o / "rl"]),
    "procgen": (lambda i, o: ["--out", o / "pg", "--worlds", "1", "--frames", "1", "--resolution", "8"],
                {"out", "worlds", "folders", "frames", "resolution"}, lambda o: [o / "pg"]),
    "generate": (lambda i, o: ["a blue sofa", "--out", o / "g", *TINY_WORLD],
                 {"world", "files", "metrics", "timings_s", "caption"}, lambda o: [o / "g"]),
    "lift": (lambda i, o: [i["world"] / "frames", "--out", o / "l", "--iterations", "3", "--time-budget", "5"],
             {"world", "files", "metrics", "timings_s"}, lambda o: [o / "l"]),
    "export": (lambda i, o: [i["world"], "--format", "ply", "--out", o / "e.ply"],
               {"out", "format", "axes", "bytes"}, lambda o: [o / "e.ply"]),
    "batch": (lambda i, o: [i["jobs"], "--out", o / "b"], {"done", "failed", "skipped", "total", "seconds", "out",
                                                           "manifest"}, lambda o: [o / "b" / "manifest.jsonl"]),
    "train lm": (lambda i, o: ["--out", o / "lm", "--layouts", "10", "--variants", "1", "--requests", "1", "--steps", "2",
                               "--batch-size", "2"], {"out", "final_step", "final_loss", "seconds", "history"},
                 lambda o: [o / "lm"]),
    "train rtfm": (lambda i, o: ["--out", o / "rt", "--steps", "1", "--batch-size", "1", "--workers", "0", "--warmup", "0"],
                   {"out", "final_step", "final_loss", "seconds", "history"}, lambda o: [o / "rt"]),
    "depth": (lambda i, o: [i["photo"], "--out", o / "d.npy", "--preview", o / "d.png", "--checkpoint", i["micro"]],
              {"out", "preview", "width", "height", "depth_min_m", "depth_max_m"}, lambda o: [o / "d.npy", o / "d.png"]),
    "eval rtfm": (lambda i, o: ["--checkpoint", i["micro"], "--worlds", "1", "--resolution", "32", "--per-walk", "1",
                                "--steps", "1"], {"psnr_db", "checkpoint", "worlds"}, None),
    "eval consistency": (lambda i, o: ["--checkpoint", i["micro"], "--worlds", "1", "--drift-worlds", "0",
                                       "--resolution", "32", "--loop-frames", "3", "--rollout-frames", "2",
                                       "--image-frames", "2", "--lift-budget", "1", "--voxel-memory"],
                         {"revisit_psnr_db", "revisit_psnr_db_voxel_memory", "worlds"}, None),
    "bench": (lambda i, o: ["--out", o / "B.md"], {"out"}, lambda o: [o / "B.md"]),
}


@pytest.mark.parametrize("command", CASES)
def test_json_prints_one_object_and_quiet_no_progress(command, inputs, tmp_path, monkeypatch):
    import worldgen.benchmarks

    monkeypatch.setattr(worldgen.benchmarks, "run_benchmarks", fake_benchmarks)  # the real ones take hours
    args, keys, quiet_paths = CASES[command]
    (tmp_path / "j").mkdir()
    (tmp_path / "q").mkdir()
    r = invoke(*command.split(), *args(inputs, tmp_path / "j"), "--json")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count("\n") == 1  # one line: the object, nothing else on stdout
    result = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert isinstance(result, dict) and keys <= set(result), set(result)

    r = invoke(*command.split(), *args(inputs, tmp_path / "q"), "--quiet")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""  # no progress bars, progress lines or notes
    if quiet_paths is None:  # it writes nothing: its figures are the output
        assert next(iter(keys)) in r.stdout
    else:
        assert r.stdout.splitlines() == [str(p) for p in quiet_paths(tmp_path / "q")]
        assert all(p.exists() for p in quiet_paths(tmp_path / "q"))


def test_train_rtfm_continues_a_checkpoint_on_another_memory_warp(micro_checkpoint, tmp_path):
    r = invoke("train", "rtfm", "--init", micro_checkpoint, "--out", tmp_path / "rt", "--steps", "1", "--batch-size", "1",
               "--workers", "0", "--warmup", "0", "--warp-supersample", "2", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "rt" / "config.json").read_text())["warp_supersample"] == 2
    assert json.loads((micro_checkpoint / "config.json").read_text()).get("warp_supersample", 1) == 1  # source untouched
    r = invoke("train", "rtfm", "--out", tmp_path / "x", "--steps", "1", "--warp-supersample", "9")
    assert r.exit_code == 2 and "--warp-supersample" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["render", "nothere.ply", "--out", "x.png"], "no such file"),
    (["export", "nothere", "--format", "obj", "--out", "x.obj"], "--format"),
    (["train", "lm", "--out", "x", "--engram-layers", "a"], "--engram-layers"),
    (["eval", "rtfm", "--resolution", "20"], "multiple of 16"),
    (["train", "rtfm", "--out", "x", "--depth-loss", "l2"], "unknown depth loss"),
    (["bench", "no_such_bench"], "unknown benchmarks"),
    (["batch", "nothere.jsonl", "--out", "x"], "nothere.jsonl"),
    # found by tests/test_cli_fuzz.py at 10,000 runs per command:
    (["render", "scene.ply", "--azimuth", "inf", "--out", "x.png"], "azimuth and elevation must be finite"),
    (["depth", "x" * 300 + ".png", "--out", "d.npy"], "cannot look up: File name too long"),
])
def test_errors_under_json_go_to_stderr_with_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from renderer import save_scene
    from worldgen.demo import demo_scene

    save_scene(demo_scene(50, seed=0), tmp_path / "scene.ply")
    r = invoke(*args, "--json")
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.startswith("error: ") and message in r.stderr, r.stderr


def test_unknown_flags_and_an_existing_output_folder_are_refused(tmp_path):
    out = tmp_path / "w"
    r = invoke("generate", "a red chair", "--no-such-flag", "--out", out)
    assert r.exit_code == 2 and "No such option" in r.stderr and not out.exists()
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    r = invoke("generate", "a red chair", "--out", out, *TINY_WORLD)
    assert r.exit_code == 2 and "exists and is not empty" in r.stderr and str(out) in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]  # untouched
    r = invoke("generate", "a red chair", "--out", out, *TINY_WORLD, "--overwrite", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert (out / "world.json").is_file() and not (out / "mine.txt").exists()
