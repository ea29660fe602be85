"""An output place that cannot be written (no permission, a read-only file system) is reported as
bad output naming the path, with exit code 2 and no traceback, and nothing is left half-written;
a bug (any error that is not a WorldgenError) shows its traceback and exits 1."""

import json
import os
import subprocess
import sys
import uuid

import pytest
from conftest import mounted_tmpfs

TINY = ["--frames", "2", "--resolution", "32", "--lift-steps", "5", "--no-flythrough", "--quiet"]
REFUSALS = ("Permission denied", "Read-only file system")


def worldgen_cli(*args, code=None):
    prefix = ["-c", code] if code else ["-m", "worldgen.cli"]
    return subprocess.run([sys.executable, *prefix, *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture
def unwritable(tmp_path):
    """A folder nobody may write in: read-only mode bits for a normal user; for root, whom mode bits
    do not stop, a read-only tmpfs (skipped where mounting is not allowed)."""
    where = tmp_path / f"ro-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    if os.geteuid() != 0:
        where.chmod(0o555)
        yield where
        where.chmod(0o755)
        return
    yield from mounted_tmpfs(where, "ro,size=1m")


def refused(r, path) -> bool:
    return (r.returncode == 2 and "Traceback" not in r.stderr and str(path) in r.stderr
            and any(words in r.stderr for words in REFUSALS))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("w") / "chair"
    r = worldgen_cli("generate", "a red chair", "--out", out, *TINY)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_generate_into_an_unwritable_folder_is_refused(unwritable):
    r = worldgen_cli("generate", "a red chair", "--out", unwritable / "w", *TINY)
    assert refused(r, unwritable), r.stderr
    assert os.listdir(unwritable) == []


@pytest.mark.slow
def test_export_and_render_into_an_unwritable_folder_are_refused(world, unwritable):
    r = worldgen_cli("export", world, "--format", "ply", "--out", unwritable / "scene.ply", "--quiet")
    assert refused(r, unwritable), r.stderr
    r = worldgen_cli("render", world, "--out", unwritable / "view.png", "--width", "32", "--height", "32", "--quiet")
    assert refused(r, unwritable), r.stderr
    assert os.listdir(unwritable) == []


@pytest.mark.slow
def test_a_batch_into_an_unwritable_folder_is_refused(tmp_path, unwritable):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "w0", "prompt": "a red chair", "frames": 2, "resolution": 32, "lift_steps": 5,
                                "flythrough": False}) + "\n")
    r = worldgen_cli("batch", jobs, "--out", unwritable / "out", "--quiet")
    assert refused(r, unwritable), r.stderr
    assert os.listdir(unwritable) == []


BUG = ("import sys, worldgen.world as w\n"
       "def load_world(path): raise RuntimeError('a bug, not bad input')\n"
       "w.load_world = load_world\n"
       "from worldgen.cli import main\n"
       "sys.argv = ['worldgen', *sys.argv[1:]]\n"
       "main()\n")


def test_a_bug_shows_its_traceback_and_exits_1(tmp_path):
    r = worldgen_cli("info", tmp_path, code=BUG)
    assert r.returncode == 1, r.stderr
    assert "Traceback" in r.stderr and "RuntimeError: a bug, not bad input" in r.stderr
    assert not r.stderr.startswith("error:")  # not dressed up as the user's mistake
