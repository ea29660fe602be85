"""Property-based fuzzing of the CLI's arguments (hypothesis): each command's real options, in any
order, with hostile values (NaN, huge and negative numbers, text where numbers go, empty strings,
missing, special and wrong-kind files). Every run must end in a result or a clear error: exit code
0, or 2 with a message (click's usage errors, the project's errors), never an uncaught exception.
Outputs go only under the test's folder. WORLDGEN_FUZZ_EXAMPLES scales the runs as in test_fuzz.py
(a fifth of it per command here: each run is a whole command)."""

from __future__ import annotations

import numpy as np
import pytest
import typer.main

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402
from test_fuzz import FUZZ  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from worldgen import cli  # noqa: E402

CLI_FUZZ = settings(FUZZ, max_examples=max(15, FUZZ.max_examples // 5))
# Commands whose valid runs are quick at the small sizes drawn here (no training, no generation).
COMMANDS = ["info", "render", "export", "layout", "depth", "demo"]
NUMBERS = ["0", "1", "-1", "16", "2", "nan", "inf", "-inf", "1e308", str(2**63), "99999", "abc", "", "0x10", "1.5"]


def _options(command) -> list[tuple[str, bool]]:
    """(flag, takes a value) of a click command's options."""
    out = []
    for p in command.params:
        for flag in p.opts:
            if flag.startswith("--"):
                out.append((flag, not getattr(p, "is_flag", False)))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory, micro_checkpoint):
    d = tmp_path_factory.mktemp("cli-fuzz")
    runner = CliRunner()
    r = runner.invoke(cli.app, ["generate", "a blue sofa", "--out", str(d / "world"), "--frames", "2", "--resolution",
                                "32", "--lift-steps", "2", "--no-flythrough", "--quiet"])
    assert r.exit_code == 0, r.output
    Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)).save(d / "photo.png")
    (d / "junk.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 99999999999\nend_header\n")
    (d / "empty.png").write_bytes(b"")
    (d / "folder").mkdir()
    return d, micro_checkpoint


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", COMMANDS)
def test_cli_commands_answer_hostile_arguments(files, tmp_path, name):
    d, micro = files
    command = typer.main.get_command(cli.app).commands[name]
    options = _options(command)
    paths = [str(d / "world"), str(d / "world" / "world.json"), str(d / "photo.png"), str(d / "junk.ply"),
             str(d / "empty.png"), str(d / "folder"), str(d / "missing.ply"), "/dev/zero", "", "-", str(micro)]
    outs = [str(tmp_path / n) for n in ("o.png", "o.ply", "o.glb", "o.json", "o.npy", "o.txt", "sub/deeper/o.png", "o")]
    prompts = ["a bedroom with a bed", "", "x" * 100_000, "\x00", "¹ chairs", "🛏️"]
    valid = paths[:3] * 4 + [prompts[0]] * 4  # valid inputs often, so the commands also run

    # a valid call of the command (then hostile options on top), or hostile positionals alone
    base = {"info": [paths[0]], "render": [paths[0], "--width", "16", "--height", "16"],
            "export": [paths[0], "--format", "ply"], "layout": [prompts[0], "--engine", "rules"],
            "depth": [paths[2]], "demo": ["--gaussians", "16", "--width", "16", "--height", "16"]}[name]
    good_out = str(tmp_path / {"export": "o.ply", "layout": "o.json", "depth": "o.npy"}.get(name, "o.png"))

    @CLI_FUZZ
    @given(start=st.booleans(), positional=st.lists(st.sampled_from(valid + paths + prompts), max_size=2),
           picks=st.lists(st.tuples(st.sampled_from(options), st.sampled_from(NUMBERS + paths + outs + ["ply", "glb",
                                                                                                        "rules", "lm"])),
                          max_size=5),
           out=st.sampled_from(outs))
    def run(start, positional, picks, out):
        argv = [name, *(base if start else positional)]
        out = good_out if start and not picks else out
        for (flag, takes_value), value in picks:
            if flag == "--out":
                value = out  # never anywhere but the test's folder
            argv += [flag, value] if takes_value else [flag]
        if any(f == "--out" for f, _ in options):
            argv += ["--out", out]
        r = CliRunner().invoke(cli.app, argv)
        shown = [a[:60] for a in argv]
        assert r.exception is None or isinstance(r.exception, SystemExit), (shown, repr(r.exception)[:300])
        assert r.exit_code in (0, 2), (shown, r.exit_code, r.output[-500:])
        outcomes[r.exit_code] += 1

    outcomes = {0: 0, 2: 0}
    run()
    print(f"\n{name}: {outcomes[0]} ran, {outcomes[2]} refused")
    assert outcomes[2], "no hostile argument was refused"
