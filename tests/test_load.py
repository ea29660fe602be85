"""The editor's load test (bench/load.py) in small: two concurrent sessions on loopback for ~15 s,
against tiny worlds, after a few seconds of one user alone. Every call must succeed and every user
must have made every kind of call."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(180)
def test_two_concurrent_editor_sessions_make_every_call_without_errors():
    try:
        import gradio_client  # noqa: F401
    except ImportError:
        pytest.skip("gradio_client is not installed (it ships with gradio)")
    load = _bench("load")
    figures = load.run(users=2, seconds=15, alone_seconds=3, world=load.TINY_WORLD)
    assert figures["errors"] == 0 and figures["server_tracebacks"] == 0, figures["error_messages"]
    assert figures["users_with_every_action"] == 2
    for action in load.ACTIONS:
        assert figures[f"{action}_calls"] >= 2 and f"{action}_p95_s" in figures
    # memory is the 5-minute run's to judge; here only that it was measured
    assert figures["rss_peak_mb"] >= figures["rss_warm_mb"] > figures["rss_idle_mb"] > 0
    assert figures["alone_calls_per_s"] > 0 and figures["select_none_errors"] == 0
