"""A full disk is reported, and nothing is left half-written: worlds, exports, edits, batches.

The real cases write to a small tmpfs (mounted when the tests run as root with mount allowed, as
in CI; skipped elsewhere); one case injects ENOSPC and runs everywhere."""

import errno
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from conftest import mounted_tmpfs
from renderer.formats.base import atomic_write
from worldgen.batch import final_status
from worldgen.errors import OutputError
from worldgen.world import load_world

TINY = ["--frames", "2", "--resolution", "32", "--lift-steps", "5", "--no-flythrough", "--quiet"]


def worldgen_cli(*args):
    return subprocess.run([sys.executable, "-m", "worldgen.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def fill(disk, leave: int = 0) -> None:
    """Write a filler file until the disk is full, then free `leave` bytes of it."""
    fd = os.open(disk / ".filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    if leave:
        os.truncate(disk / ".filler", max(0, os.path.getsize(disk / ".filler") - leave))


def entries(disk) -> list[str]:
    return sorted(p for p in os.listdir(disk) if p != ".filler")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs, for the tests to fill."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    yield from mounted_tmpfs(where, "size=1m")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("w") / "chair"
    r = worldgen_cli("generate", "a red chair", "--out", out, *TINY)
    assert r.returncode == 0, r.stderr
    return out


def test_an_injected_enospc_is_an_output_error_and_leaves_the_file(tmp_path, monkeypatch):
    target = tmp_path / "kept.bin"
    target.write_bytes(b"old")

    def full(fd, mode):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", full)
    with pytest.raises(OutputError, match="kept.bin: cannot write: No space left on device"):
        atomic_write(target, [b"new"])
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["kept.bin"]


def test_generate_onto_a_full_disk_is_reported_and_leaves_nothing(small_disk):
    fill(small_disk, leave=40_000)  # room for some of the world's files, not for its splats
    r = worldgen_cli("generate", "a red chair", "--out", small_disk / "w", *TINY)
    assert r.returncode == 2, r.stderr
    assert "No space left on device" in r.stderr and "Traceback" not in r.stderr
    assert entries(small_disk) == []  # no world, no temporary folder


def test_export_onto_a_full_disk_leaves_no_partial_file(world, small_disk):
    fill(small_disk, leave=40_000)
    with pytest.raises(OutputError, match="No space left on device"):
        load_world(world).export("ply", small_disk / "scene.ply")
    assert entries(small_disk) == []
    r = worldgen_cli("export", world, "--format", "ply", "--out", small_disk / "scene.ply")
    assert r.returncode == 2 and "No space left on device" in r.stderr and "Traceback" not in r.stderr
    assert entries(small_disk) == []


def test_an_edit_saved_onto_a_full_disk_keeps_the_world_as_it_was(world, small_disk):
    from worldgen.edit import WorldEditor

    shutil.copytree(world, small_disk / "chair")
    fill(small_disk, leave=40_000)  # no room for a second copy of its splats
    before = {p: p.read_bytes() for p in (small_disk / "chair").rglob("*") if p.is_file()}
    editor = WorldEditor.open(small_disk / "chair")
    editor.delete(editor.select("the chair"))
    with pytest.raises(OutputError, match="No space left on device"):
        editor.save()
    after = {p: p.read_bytes() for p in (small_disk / "chair").rglob("*") if p.is_file()}
    assert after == before and entries(small_disk) == ["chair"]


def test_a_batch_onto_a_full_disk_is_reported_and_no_world_is_half_made(tmp_path, small_disk):
    jobs = tmp_path / "jobs.jsonl"
    tiny = {"effort": "draft", "frames": 2, "resolution": 32, "lift_steps": 5, "flythrough": False}
    jobs.write_text("".join(json.dumps({"id": f"w{i}", "prompt": "a red chair", "seed": i, **tiny}) + "\n" for i in range(2)))
    (small_disk / "out").mkdir()
    fill(small_disk, leave=40_000)
    r = worldgen_cli("batch", jobs, "--out", small_disk / "out", "--quiet")
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr  # jobs failed, each recorded
    status = final_status(small_disk / "out")
    assert {k: (v["status"], v["error_type"]) for k, v in status.items()} == {"w0": ("failed", "OutputError"),
                                                                                "w1": ("failed", "OutputError")}
    assert all("No space left on device" in v["error"] for v in status.values())
    left = [p for p in (small_disk / "out").iterdir() if p.is_dir()]
    assert left == []  # neither a world nor a temporary folder
