"""Live walking in a world folder and expanding the world with what the walk made."""

import json

import pytest
import torch

from worldgen.errors import WorldgenError
from worldgen.explore import expand_world, open_session
from worldgen.build import build_world
from worldgen.config import GenerateConfig
from worldgen.sources import ProceduralSource
from worldgen.world import load_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def draft_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("worlds") / "bedroom"
    config = GenerateConfig(frames=8, resolution=64, lift_steps=30, engine="rules")
    build_world(ProceduralSource(None, "a bedroom with a blue bed", config), out, progress=False)
    return out


def test_session_walks_a_world_and_stays_inside_it(draft_world):
    session = open_session(draft_world)
    lo, hi = session.bounds
    assert len(session.memory) == 8  # the world's posed frames with depth are its memory
    frame = session.step("turn", 20)
    assert frame.rgb.shape == (64, 64, 3) and not session.blocked
    session.step("move", 1000.0)  # straight through the wall: stopped at the world's edge
    assert session.blocked
    p = session.camera.position.double()
    assert ((p >= lo - 1e-5) & (p <= hi + 1e-5)).all()
    again = open_session(draft_world).step("turn", 20)
    assert torch.equal(again.rgb, frame.rgb)  # same world, same seed, same frame


def test_expand_lifts_the_walk_into_the_world(draft_world, tmp_path):
    import shutil

    world_dir = tmp_path / "bedroom"
    shutil.copytree(draft_world, world_dir)
    session = open_session(world_dir)
    with pytest.raises(WorldgenError, match="no new views"):
        expand_world(world_dir, session)
    for action, amount in (("turn", 40), ("turn", 40), ("move", 0.3)):
        session.step(action, amount)
    new = len(session.generated())  # the walk's keyframes: views the world did not cover yet
    assert 1 <= new <= 3
    before = load_world(world_dir)
    expand_world(world_dir, session, time_budget_s=2.0)
    after = load_world(world_dir)
    assert after.manifest["expansions"][0]["frames"] == new
    assert len(after.manifest["cameras"]) == len(before.manifest["cameras"]) + new
    frames = json.loads(after.file("frames").read_text())["frames"]
    assert len(frames) == 8 + new
    assert after.file("memory") is not None and len(after.scene) > 0
    # The expanded world opens again with the walk's frames in its memory.
    assert len(open_session(world_dir).memory) == len(session.memory)
    assert not list(tmp_path.glob(".bedroom.*"))  # no temporary folders left behind


def test_open_session_errors(tmp_path):
    with pytest.raises(WorldgenError, match="not a world folder"):
        open_session(tmp_path)
