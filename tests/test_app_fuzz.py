"""Property-based fuzzing of the editor's handlers (hypothesis), with what a browser can send them.

Gradio hands a handler whatever the page holds: a cleared number field is None, a table cell may
be any string, an upload is a temp file holding any bytes. Each handler must answer with a
visible message (a success, or "Error: ...") and never raise; an edit that is refused leaves the
world on disk as it was, loadable. The readers behind the uploads are fuzzed byte by byte in
test_fuzz.py; here the uploads go through the whole Create handler. WORLDGEN_FUZZ_EXAMPLES scales
the inputs as there (a fifth of it per handler here: each input runs a handler end to end).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
gr = pytest.importorskip("gradio")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from starlette.requests import Request  # noqa: E402
from test_fuzz import BYTE_OPS, FUZZ, mutate  # noqa: E402

from app.ui import COOKIE, Editor, TabState  # noqa: E402
from app.workspace import Workspace, new_owner_token  # noqa: E402
from worldgen.world import load_world  # noqa: E402

APP_FUZZ = settings(FUZZ, max_examples=max(20, FUZZ.max_examples // 5))
TIMEOUT_S = max(1800, APP_FUZZ.max_examples)  # about a second per input, end to end, at most
TINY = dict(frames=2, resolution=24, lift_steps=2, flythrough=False)  # a world in about a second
# What a form field can hold once a browser (or a script posting to the API) has filled it.
FORM = st.sampled_from([None, "", " ", "abc", float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 0, -1, 0.5,
                        3, 2**63, True, "#zzzzzz", "#c0392b", "../../etc/passwd", "x" * 10_000, [], {}, "0.5"])
PROMPTS = st.sampled_from([None, "", "   ", "a bedroom with a bed and a lamp", "x" * 1_000_000, "\x00\x01",
                           "only a red chair", "🛏️ " * 50, "../../etc/passwd"]) | st.text(max_size=40)
ARITY = {"recolor": 3, "transform": 5, "duplicate": 5, "insert": 9, "delete": 0, "undo": 0, "redo": 0}


def _request(owner: str) -> gr.Request:
    return gr.Request(Request({"type": "http", "headers": [(b"cookie", f"{COOKIE}={owner}".encode())]}))


def _status(outputs) -> str:
    found = [o for o in outputs if isinstance(o, str) and (o.startswith("Error: ") or o)]
    assert found, outputs
    return found[0]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    editor = Editor(Workspace(tmp_path_factory.mktemp("app")), None, TINY)
    owner = new_owner_token()
    outs = list(editor.generate("a bedroom with a blue bed, a lamp and a red chair", None, None, None, None, "room",
                                False, "procedural", "draft", 0, TabState(), _request(owner)))
    assert outs[-1][0].startswith("world "), outs[-1][0]
    return editor, owner, outs[-1][2].world_id


@pytest.mark.timeout(TIMEOUT_S)
def test_create_handler_answers_hostile_forms_and_uploads(app, tmp_path):
    editor, _, _ = app
    owner = new_owner_token()
    request = _request(owner)
    from worldgen.procgen.text_rules import layout_from_prompt

    layout_json = json.dumps(layout_from_prompt("a kitchen with a table", seed=0)[0].to_dict()).encode()
    uploads = {"layout": ("l.json", layout_json), "npy": ("v.npy", _npy_bytes()),
               "png": ("p.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20), "photo": ("photo.png", _photo_bytes())}
    cell = FORM | st.sampled_from(["bed", "lamp", "#3355aa", 1.0, 2.0])

    @APP_FUZZ
    @given(prompt=st.sampled_from(["a kitchen with a table", "only a red chair"]) | PROMPTS,
           seed=st.integers(0, 3) | FORM | st.integers(-5, 2**32),
           frames_from=st.just("procedural") | st.sampled_from(["procedural", "model", "", None, "ultra", 3]),
           effort=st.just("draft") | st.sampled_from(["draft", "", None, "ultra", 3]),
           boxes=st.none() | st.lists(st.lists(cell, max_size=10), max_size=3), use_boxes=st.booleans(),
           shell=st.sampled_from(["room", "outdoor", None, "../x"]),
           upload=st.sampled_from([None, "layout", "npy", "png", "photo", "missing", "folder", "devzero", "dict",
                                   "number"]),
           ops=st.none() | BYTE_OPS)
    def run(prompt, seed, frames_from, effort, boxes, use_boxes, shell, upload, ops):
        before = editor.ws.worlds(owner)
        layout_file, images = None, None
        if upload in uploads:
            name, data = uploads[upload]
            (tmp_path / name).write_bytes(data if ops is None else mutate(data, ops))
            is_image = upload in ("png", "photo")
            layout_file = None if is_image else str(tmp_path / name)
            images = [str(tmp_path / name)] if is_image else None
        elif upload is not None:
            layout_file = {"missing": str(tmp_path / "gone.json"), "folder": str(tmp_path), "devzero": "/dev/zero",
                           "dict": {"path": None}, "number": 7}[upload]
        outs = list(editor.generate(prompt, images, None, layout_file, boxes, shell, use_boxes, frames_from, effort, seed,
                                    TabState(), request))
        status = outs[-1][0]
        assert status.startswith(("world ", "Error: ")), status
        outcomes["refused" if status.startswith("Error: ") else "made"] += 1
        if upload == "photo" and not status.startswith("Error: "):
            outcomes["photo worlds"] += 1
        after = editor.ws.worlds(owner)
        if status.startswith("Error: "):
            assert after == before, "a refused world left a folder behind"
        else:
            (new,) = set(after) - set(before)
            load_world(editor.ws.world_dir(owner, new))
            editor.ws.delete_world(owner, new)  # stay under the per-session world limit

    outcomes = {"made": 0, "refused": 0, "photo worlds": 0}
    # one clean photo upload for certain: most drawn ones also carry boxes (two inputs: refused) or mutated bytes
    run.hypothesis.inner_test(prompt="a kitchen with a table", seed=0, frames_from="procedural", effort="draft",
                              boxes=None, use_boxes=False, shell="room", upload="photo", ops=None)
    run()
    print(f"\ncreate handler: {outcomes}")
    assert outcomes["made"] and outcomes["refused"] and outcomes["photo worlds"]


def _photo_bytes() -> bytes:
    """A valid 40x30 PNG photo (a gradient with noise): uploaded whole it makes a photo world."""
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:30, 0:40]
    rgb = np.stack([xx / 40, yy / 30, 0.5 + 0 * xx], -1) * 200 + rng.integers(0, 50, (30, 40, 3))
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _npy_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    grid = np.zeros((6, 5, 4), np.int32)
    grid[1:3, 1:3, 0:2] = 1
    np.save(buf, grid)
    return buf.getvalue()


NUMBER = st.floats(-2, 2) | st.sampled_from([0, 1, 0.25])
VALID_ARGS = {"recolor": (st.sampled_from(["replace", "tint", "hue"]), st.sampled_from(["#c0392b", "#3355aa"]), NUMBER),
              "transform": (NUMBER, NUMBER, NUMBER, NUMBER, st.sampled_from([0.5, 1.0, 1.5])),
              "duplicate": (NUMBER,) * 5,
              "insert": (st.sampled_from(["plant", "chair", "lamp"]), NUMBER, NUMBER, st.just(0.0),
                         *(st.sampled_from([0.3, 0.5, 1.0]),) * 3, NUMBER, st.just("#4a7a3a"))}
PHRASES = st.sampled_from(["the bed", "all lamps", "the red chair", "the blue bed", "the floor"]) | PROMPTS


@pytest.mark.timeout(TIMEOUT_S)
def test_edit_handlers_answer_hostile_values_and_keep_the_world_loadable(app):
    editor, owner, world_id = app
    request = _request(owner)
    start = len(load_world(editor.ws.world_dir(owner, world_id)).scene)
    outcomes = {"applied": 0, "refused": 0}

    @APP_FUZZ
    @given(op=st.sampled_from(sorted(ARITY)), phrase=PHRASES, label=st.sampled_from(["", "bed", "lamp"]) | FORM,
           select_first=st.booleans(), clean=st.booleans(), data=st.data())
    def run(op, phrase, label, select_first, clean, data):
        state = TabState(world_id=world_id)
        if select_first:
            out = editor.select(phrase, label, state, request)
            assert isinstance(out[2], str) and out[2], out
        # all valid, or each field valid or hostile: a refusal in any one field is exercised
        valid = VALID_ARGS.get(op, ())
        args = [data.draw(v if clean else v | FORM) for v in valid]
        out = editor.edit(op, state, request, *args)
        assert isinstance(out[2], str) and out[2], out
        outcomes["refused" if out[2].startswith("Error: ") else "applied"] += 1
        scene = load_world(editor.ws.world_dir(owner, world_id)).scene
        assert len(scene) > 0 and bool(scene.means.isfinite().all())
        while len(editor.editor(owner, world_id).scene) > 3 * start:  # keep copies from piling up
            assert not editor.edit("undo", TabState(world_id=world_id), request)[2].startswith("Error: ")

    run()
    print(f"\nedit handlers: {outcomes}")
    assert outcomes["applied"] and outcomes["refused"]
    for fmt in ("ply", "glb", "zip", "", None, "../x", "exe"):
        note, _ = editor.export(fmt, TabState(world_id=world_id), request)
        assert isinstance(note, str) and note
    for world in (None, "", "../w", "w" + "0" * 11, world_id):
        assert isinstance(editor.open_world(world, TabState(), request)[0], str)
